// One round-trip contender in its own process, so its peak RSS and CPU time are its own (as bench/disk-worker.ts).
// Input: ROUNDTRIP_WORKER (JSON RoundtripJob) in the environment. Output: one JSON line (RoundtripWorkerResult).
// Logging in, the S3 client's first request and the import spec happen before the measured window.
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { s3ClientFactory } from '../connector/engine/factory.ts';
import type { ConnectorConfig } from '../connector/config.ts';
import { runReturn } from '../connector/roundtrip/run.ts';
import type { ReturnRecord } from '../connector/roundtrip/store.ts';
import { createImportSpec, importVApp, uploadLeaseDisk, uploadTargets } from '../connector/vsphere/import-lease.ts';
import { Vim25Client } from '../connector/vsphere/vim25.ts';
import { peakRssBytes } from './peak-rss.ts';
import { benchOva, vmdkOnly } from './roundtrip-ova.ts';

export type RoundtripMode = 's3-read' | 'lease-upload' | 'connector';

export interface RoundtripJob {
  mode: RoundtripMode;
  sizeGiB: number;
  sdkUrl: string;
  caPem: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string };
  bucket: string;
  key: string;
  /** The new VM's name, and where it goes (moRef values). */
  vmName: string;
  poolId: string;
  folderId: string;
  datastoreId: string;
  networkId: string;
  keepAliveMs: number;
}

export interface RoundtripWorkerResult {
  /** Bytes that crossed the measured path: the OVA read from S3, or the VMDK sent to the lease. */
  bytes: number;
  ms: number;
  /** Connector: from the first upload byte to the last (phase `uploading`), without the S3 open and the SOAP calls. */
  uploadMs?: number;
  cpuMs: number;
  maxRssBytes: number;
  /** Resident set just before the measured window (the process with its modules loaded and logged in). */
  rssBeforeBytes: number;
  /** When the high-water mark last rose, in ms from the window's start (sampled every 250 ms): early means flat. */
  peakAtMs: number;
  /** The VM the import created (moRef value), for the parent to remove. */
  vmId?: string;
}

const job = JSON.parse(process.env.ROUNDTRIP_WORKER ?? '') as RoundtripJob;

async function login(): Promise<Vim25Client> {
  const admin = (JSON.parse(readFileSync(new URL('../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] }).users[0]!;
  const client = await Vim25Client.connect({ sdkUrl: job.sdkUrl, ca: job.caPem });
  await client.login(admin.name, admin.password);
  return client;
}

/** The connector's own S3 client for a non-AWS endpoint (retries, path style, no checksums). */
function s3() {
  const engine = { s3Endpoint: job.s3.endpoint, s3Credentials: { accessKeyId: job.s3.accessKeyId, secretAccessKey: job.s3.secretAccessKey } } as ConnectorConfig['engine'];
  return s3ClientFactory(engine)('us-east-1');
}

/** The uploader takes an async iterable (the connector hands it the S3 body). */
async function* fromMemory(chunks: Iterable<Buffer>): AsyncGenerator<Buffer> {
  yield* chunks;
}

async function drain(body: Readable): Promise<number> {
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) n += c.length;
  return n;
}

/** VmRSS now (Linux). */
function residentBytes(): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage.rss();
}

async function main(): Promise<void> {
  const client = job.mode === 's3-read' ? undefined : await login();
  const s3c = job.mode === 'lease-upload' ? undefined : s3();
  // The SDK loads its GetObject path on the first send, once per process: a running connector has long paid it.
  if (s3c) await drain((await s3c.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key, Range: 'bytes=0-511' }))).Body as Readable);

  let measure: () => Promise<{ bytes: number; uploadMs?: number; vmId?: string }>;
  if (job.mode === 's3-read') {
    measure = async () => ({ bytes: await drain((await s3c!.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key }))).Body as Readable) });
  } else if (job.mode === 'lease-upload') {
    const ova = benchOva(job.sizeGiB);
    const pool = { type: 'ResourcePool', value: job.poolId };
    const spec = await createImportSpec(client!, {
      ovfDescriptor: ova.descriptor,
      resourcePool: pool,
      datastore: { type: 'Datastore', value: job.datastoreId },
      entityName: job.vmName,
      diskProvisioning: 'thin',
      networkMapping: [{ name: 'VM Network', network: { type: 'Network', value: job.networkId } }],
    });
    const lease = await importVApp(client!, { resourcePool: pool, spec, folder: { type: 'Folder', value: job.folderId } });
    const [target] = uploadTargets(spec, await client!.waitForLease(lease));
    if (!target) throw new Error('the import lease has no upload URL');
    const chunks = ova.chunks();
    measure = async () => {
      try {
        const bytes = await uploadLeaseDisk(client!, target.device, fromMemory(vmdkOnly(ova, chunks)), { contentLength: ova.diskBytes });
        return { bytes };
      } finally {
        // The baseline makes no VM: vCenter removes the one ImportVApp created.
        await client!.leaseAbort(lease, 'round-trip benchmark baseline').catch(() => undefined);
      }
    };
  } else {
    const now = new Date().toISOString();
    const rec: ReturnRecord = {
      id: `bench-${job.vmName}`,
      seq: 1,
      state: 'running',
      phase: 'reading-ova',
      environmentId: 'bench',
      region: 'us-east-1',
      exportId: `exp-bench-${job.sizeGiB}g`,
      instanceId: 'i-0bench',
      bucket: job.bucket,
      s3Key: job.key,
      name: job.vmName,
      folderId: job.folderId,
      computeResource: { type: 'ResourcePool', id: job.poolId },
      poolId: job.poolId,
      datastoreId: job.datastoreId,
      networkMappings: [{ sourceNetwork: 'VM Network', network: { type: 'Network', id: job.networkId } }],
      diskProvisioning: 'thin',
      powerOn: false,
      requestedBy: 'bench',
      percent: 0,
      bytesUploaded: 0,
      createdAt: now,
      updatedAt: now,
    };
    measure = async () => {
      const phases = new Map<string, number>();
      await runReturn(rec, {
        client: client!,
        s3: s3c!,
        signal: new AbortController().signal,
        keepAliveMs: job.keepAliveMs,
        save: async (r) => void (phases.has(r.phase) || phases.set(r.phase, performance.now())),
        now: () => new Date(),
      });
      if (rec.state !== 'completed') throw new Error(`the return ended ${rec.state}: ${rec.message ?? ''}`);
      const up = phases.get('uploading');
      const done = phases.get('completing');
      return { bytes: rec.bytesUploaded, ...(up && done ? { uploadMs: done - up } : {}), ...(rec.vmId ? { vmId: rec.vmId } : {}) };
    };
  }

  const rssBeforeBytes = residentBytes();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let hwm = peakRssBytes();
  let peakAtMs = 0;
  const sampler = setInterval(() => {
    const now = peakRssBytes();
    if (now > hwm) [hwm, peakAtMs] = [now, performance.now() - t0];
  }, 250);
  let r: Awaited<ReturnType<typeof measure>>;
  try {
    r = await measure();
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - t0;
  if (peakRssBytes() > hwm) peakAtMs = ms;
  const cpu = process.cpuUsage(cpu0);
  s3c?.destroy();
  if (client) {
    await client.logout().catch(() => undefined);
    client.close();
  }
  const result: RoundtripWorkerResult = { ...r, ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssBytes: peakRssBytes(), rssBeforeBytes, peakAtMs };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
