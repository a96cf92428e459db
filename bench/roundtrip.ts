// Benchmark (issue 16): "Bring back to vCenter", S3 → vCenter. For each size, an OVA as the lab's VM Export writes it
// (bench/roundtrip-ova.ts) is put in the lab S3 (s3rver), then in one run and against the same lab vCenter:
// (a) a raw S3 read of the OVA to nothing (the source's limit), (b) a raw upload of the same VMDK bytes, generated in
// memory, to an import lease URL (the sink's limit), and the connector's runReturn (connector/roundtrip/run.ts) from
// S3 into a lease. Each contender runs in its own process (bench/roundtrip-worker.ts) with the connector's Node flags.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CONNECTOR_NODE_FLAGS } from '../connector/node-flags.ts';
import { destroyVm } from '../connector/roundtrip/vcenter.ts';
import { el } from '../connector/vsphere/soap.ts';
import { Vim25Client, type MoRef } from '../connector/vsphere/vim25.ts';
import { labS3ClientConfig, startS3 } from '../lab/s3/index.ts';
import { startVcsim } from '../lab/vcsim/index.ts';
import { benchOva, putBenchOva } from './roundtrip-ova.ts';
import type { RoundtripJob, RoundtripMode, RoundtripWorkerResult } from './roundtrip-worker.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const ROUNDTRIP_CONTENDERS: Record<RoundtripMode, string> = {
  connector: 'Connector `runReturn`: OVA from S3 → import lease',
  's3-read': '(a) Raw S3 read of the OVA to nothing (source limit; the connector\'s S3 client)',
  'lease-upload': '(b) Raw upload of the VMDK from memory to the import lease (sink limit; the connector\'s uploader)',
};

export interface RoundtripContender {
  id: RoundtripMode;
  bytes: number;
  ms: number;
  mbps: number;
  /** Connector only: the upload phase alone (first to last VMDK byte). */
  uploadMs?: number;
  maxRssBytes: number;
  rssBeforeBytes: number;
  /** When the high-water mark last rose, ms into the run. */
  peakAtMs: number;
  /** CPU seconds of the contender, of the lab vCenter and of the lab S3 (this process). */
  cpuS: number;
  vcenterCpuS: number;
  s3CpuS: number;
  load1: number;
}

export interface RoundtripSize {
  sizeGiB: number;
  ovaBytes: number;
  diskBytes: number;
  /** Time to put the OVA into the lab S3 (setup, not measured against anything). */
  putMs: number;
  contenders: RoundtripContender[];
}

export interface RoundtripResult {
  sizes: RoundtripSize[];
  loadBefore: string;
  loadAfter: string;
  tookMs: number;
  cores: number;
  keepAliveMs: number;
}

export interface RoundtripBenchOptions {
  sizesGiB: number[];
  only?: RoundtripMode[];
}

/** Full: 1 and 10 GiB, every contender (about 3 GiB per GiB of size moved; the 10 GiB OVA also sits in s3rver's directory). */
export const ROUNDTRIP_BENCH_FULL: RoundtripBenchOptions = { sizesGiB: [1, 10] };
export const ROUNDTRIP_BENCH_SMALL: RoundtripBenchOptions = { sizesGiB: [0.25] };

const BUCKET = 'bench';
/** The connector's default (engine.leaseKeepAliveMs). */
const KEEP_ALIVE_MS = 10_000;

const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

async function processCpuS(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const selfCpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function runWorker(job: RoundtripJob): Promise<RoundtripWorkerResult> {
  const args = [...CONNECTOR_NODE_FLAGS, '--import', 'tsx', join(import.meta.dirname, 'roundtrip-worker.ts')];
  const child = spawn(process.execPath, args, { env: { ...process.env, ROUNDTRIP_WORKER: JSON.stringify(job), NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-8000)));
  return new Promise((resolve, reject) => {
    let result: RoundtripWorkerResult | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) result = JSON.parse(line) as RoundtripWorkerResult;
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`round-trip bench worker (${job.mode}) exited with ${code}: ${stderr.trim()}`))));
  });
}

async function find(client: Vim25Client, path: string): Promise<MoRef> {
  const ref = (await client.invoke('FindByInventoryPath', client.serviceContent.searchIndex!, el('inventoryPath', path))) as { '#text': string; '@_type': string } | undefined;
  if (!ref) throw new Error(`the lab vCenter has no ${path}`);
  return { type: ref['@_type'], value: ref['#text'] };
}

/**
 * ROUNDTRIP_S3_CPU_PROF=<dir>: a CPU profile of this process (the lab S3) while each contender runs, to find where the
 * S3 side's CPU goes.
 */
async function profiled<T>(mode: RoundtripMode, sizeGiB: number, run: () => Promise<T>): Promise<T> {
  const dir = process.env.ROUNDTRIP_S3_CPU_PROF;
  if (!dir) return run();
  const session = new Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((resolve, reject) => session.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    await writeFile(join(dir, `roundtrip-s3-${label(sizeGiB)}-${mode}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

const label = (g: number): string => `${String(g).replace('.', '_')}g`;

export async function benchRoundtrip(opts: RoundtripBenchOptions, log: (line: string) => void): Promise<RoundtripResult> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const sizes: RoundtripSize[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const vcsim = await startVcsim({ vms: [] });
    stops.push(() => vcsim.stop());
    const s3 = await startS3({ buckets: [BUCKET] });
    stops.push(() => s3.stop());
    const s3c = new S3Client(labS3ClientConfig(s3));
    stops.push(async () => s3c.destroy());
    const admin = (JSON.parse(await readFile(new URL('../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] }).users[0]!;
    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vim.login(admin.name, admin.password);
    stops.push(async () => {
      await vim.logout();
      vim.close();
    });
    const [pool, folder, datastore, network] = [
      await find(vim, 'DC0/host/DC0_C0/Resources'),
      await find(vim, 'DC0/vm/Migration'),
      await find(vim, 'DC0/datastore/LocalDS_0'),
      await find(vim, 'DC0/network/VM Network'),
    ];
    const plan: RoundtripMode[] = (['s3-read', 'lease-upload', 'connector'] as const).filter((m) => !opts.only || opts.only.includes(m));

    for (const sizeGiB of opts.sizesGiB) {
      const key = `exports/bench-${label(sizeGiB)}.ova`;
      const ova = benchOva(sizeGiB);
      const t0 = performance.now();
      await putBenchOva(s3, BUCKET, key, ova);
      const size: RoundtripSize = { sizeGiB, ovaBytes: ova.ovaBytes, diskBytes: ova.diskBytes, putMs: performance.now() - t0, contenders: [] };
      sizes.push(size);
      log(`  ${sizeGiB} GiB: OVA of ${(ova.ovaBytes / GiB).toFixed(2)} GiB put into the lab S3 in ${(size.putMs / 1000).toFixed(1)} s`);
      try {
        for (const mode of plan) {
          const job: RoundtripJob = {
            mode,
            sizeGiB,
            sdkUrl: vcsim.sdkUrl,
            caPem: vcsim.certPem,
            s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
            bucket: BUCKET,
            key,
            vmName: `bench-back-${label(sizeGiB)}-${mode}`,
            poolId: pool.value,
            folderId: folder.value,
            datastoreId: datastore.value,
            networkId: network.value,
            keepAliveMs: KEEP_ALIVE_MS,
          };
          const vc0 = await processCpuS(vcsim.pid);
          const s30 = selfCpuS();
          const r = await profiled(mode, sizeGiB, () => runWorker(job));
          const vcenterCpuS = mode === 's3-read' ? 0 : (await processCpuS(vcsim.pid)) - vc0;
          // s3rver runs in this process, which only waits for the worker meanwhile.
          const s3CpuS = mode === 'lease-upload' ? 0 : selfCpuS() - s30;
          // The connector's VM holds its disk file on the lab datastore: remove it before the next contender.
          if (r.vmId) await destroyVm(vim, { type: 'VirtualMachine', value: r.vmId });
          const expected = mode === 's3-read' ? ova.ovaBytes : ova.diskBytes;
          if (r.bytes !== expected) throw new Error(`${mode} moved ${r.bytes} bytes, expected ${expected}`);
          const c: RoundtripContender = {
            id: mode,
            bytes: r.bytes,
            ms: r.ms,
            mbps: r.bytes / 1e6 / (r.ms / 1000),
            ...(r.uploadMs !== undefined ? { uploadMs: r.uploadMs } : {}),
            maxRssBytes: r.maxRssBytes,
            rssBeforeBytes: r.rssBeforeBytes,
            peakAtMs: r.peakAtMs,
            cpuS: r.cpuMs / 1000,
            vcenterCpuS,
            s3CpuS,
            load1: os.loadavg()[0] ?? 0,
          };
          size.contenders.push(c);
          log(
            `  ${sizeGiB} GiB ${mode}: ${c.mbps.toFixed(0)} MB/s, ${(c.ms / 1000).toFixed(1)} s, peak RSS ${(c.maxRssBytes / MiB).toFixed(0)} MiB (${(c.rssBeforeBytes / MiB).toFixed(0)} before, peak at ${(c.peakAtMs / 1000).toFixed(1)} s), ` +
              `CPU ${c.cpuS.toFixed(1)} s (vCenter ${vcenterCpuS.toFixed(1)} s, S3 ${s3CpuS.toFixed(1)} s), load ${loadAverage()}`,
          );
        }
      } finally {
        await s3c.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key })).catch(() => undefined);
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
  return { sizes, loadBefore, loadAfter: loadAverage(), tookMs: performance.now() - started, cores: os.availableParallelism(), keepAliveMs: KEEP_ALIVE_MS };
}

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);
const pct = (n: number): string => `${(100 * n).toFixed(0)} %`;
const perGiB = (s: number, c: RoundtripContender): number => (s / c.bytes) * GiB;

/** Why the connector fell short of the slower baseline, from the CPU counters of the three processes. */
function cause(conn: RoundtripContender, limit: RoundtripContender, cores: number): string {
  const total = (c: RoundtripContender): number => perGiB(c.cpuS + c.vcenterCpuS + c.s3CpuS, c);
  const busy = (conn.cpuS + conn.vcenterCpuS + conn.s3CpuS) / (conn.ms / 1000);
  const name = limit.id === 's3-read' ? 'raw S3 read' : 'raw lease upload';
  const costs =
    `per GiB the connector run cost ${f1(total(conn))} CPU-s over its three processes (connector ${f1(perGiB(conn.cpuS, conn))}, ` +
    `vCenter ${f1(perGiB(conn.vcenterCpuS, conn))}, S3 ${f1(perGiB(conn.s3CpuS, conn))}), the ${name} ${f1(total(limit))} over its two ` +
    `(${name} ${f1(perGiB(limit.cpuS, limit))}, ${limit.id === 's3-read' ? `S3 ${f1(perGiB(limit.s3CpuS, limit))}` : `vCenter ${f1(perGiB(limit.vcenterCpuS, limit))}`})`;
  return conn.load1 > cores || busy > cores * 0.85
    ? `CPU-bound on a shared ${cores}-core machine (1-min load average ${f1(conn.load1)}; the connector run's processes got ${f1(busy)} cores): ${costs}. ` +
        `When the CPU is the limit, throughput follows CPU per GiB, i.e. at most about ${pct(total(limit) / total(conn))} of the baseline: ` +
        `the connector's run moves every byte through S3, itself and vCenter on the same cores, each baseline through only two of them.`
    : `${costs}; the connector run kept ${f1(busy)} of ${cores} cores busy.`;
}

export function renderRoundtripSection(result: RoundtripResult): string {
  const lines: string[] = [`## Bring back to vCenter: S3 → vCenter (${result.sizes.map((s) => s.sizeGiB).join(' / ')} GiB)`, ''];
  lines.push(
    `An OVA as the lab's VM Export writes it (\`lab/ec2/ova.ts\`: the OVF descriptor, then a stream-optimized VMDK of a volume of dense, ` +
      `incompressible data, so the VMDK is as large as the disk) is put into the lab S3 (s3rver, which reads it back from its directory), then read back by each contender ` +
      `in its own Node process started with the connector's flags (\`${CONNECTOR_NODE_FLAGS.join(' ')}\`). The lab vCenter's import lease ` +
      `(\`lab/vcsim/importupload.go\`) inflates every grain into the new disk's flat file on its datastore, over HTTPS. ` +
      `The connector row is \`runReturn\` (\`connector/roundtrip/run.ts\`), the task's own code: GetObject, the tar read (\`ova-read.ts\`), ` +
      `CreateImportSpec, ImportVApp, the disk streamed into the lease with HttpNfcLeaseProgress every ${result.keepAliveMs / 1000} s, HttpNfcLeaseComplete; its rate is the VMDK's bytes ` +
      `over that whole run. Row (b) sends the same VMDK bytes, produced in memory by the lab's writer as they are sent, with the connector's uploader ` +
      `(\`uploadLeaseDisk\`). Peak RSS is each process's high-water mark (VmHWM); CPU is user+system seconds of the contender, ` +
      `of the vCenter process and of the S3 process. *RSS before* is the process's resident set just before its measured window (modules loaded, logged in); ` +
      `*peak reached at* is when its high-water mark last rose (sampled every 250 ms): a peak reached in the first seconds and never passed means memory does not grow with the bytes moved. Load average before → after: ${result.loadBefore} → ${result.loadAfter}; took ${f0(result.tookMs / 1000)} s.`,
    '',
  );
  const rss: number[] = [];
  for (const size of result.sizes) {
    lines.push(`### ${size.sizeGiB} GiB disk (${(size.ovaBytes / GiB).toFixed(2)} GiB OVA, put into S3 in ${f1(size.putMs / 1000)} s)`, '');
    lines.push('| Contender | MB/s | Time (s) | Peak RSS (MiB) | RSS before (MiB) | Peak reached at (s) | CPU s: contender / vCenter / S3 |', '|---|---:|---:|---:|---:|---:|---|');
    for (const c of size.contenders) {
      const up = c.uploadMs !== undefined ? ` (upload ${f1(c.uploadMs / 1000)})` : '';
      lines.push(`| ${ROUNDTRIP_CONTENDERS[c.id]} | ${f0(c.mbps)} | ${f1(c.ms / 1000)}${up} | ${f0(c.maxRssBytes / MiB)} | ${f0(c.rssBeforeBytes / MiB)} | ${f1(c.peakAtMs / 1000)} | ${f1(c.cpuS)} / ${f1(c.vcenterCpuS)} / ${f1(c.s3CpuS)} |`);
    }
    lines.push('');
    const get = (id: RoundtripMode) => size.contenders.find((c) => c.id === id);
    const conn = get('connector');
    const read = get('s3-read');
    const upload = get('lease-upload');
    if (conn) rss.push(conn.maxRssBytes);
    if (conn && read && upload) {
      const limit = read.mbps <= upload.mbps ? read : upload;
      const ratio = conn.mbps / limit.mbps;
      const met = ratio >= 0.85;
      lines.push(
        `**Connector = ${pct(ratio)} of min(S3 read, lease upload)** (${f0(limit.mbps)} MB/s, ${limit.id === 's3-read' ? 'the S3 read' : 'the lease upload'}); ` +
          `${pct(conn.mbps / read.mbps)} of the S3 read, ${pct(conn.mbps / upload.mbps)} of the lease upload; target ≥ 85 % (the disk bench's): **${met ? 'met' : 'missed'}**.` +
          (met ? '' : ` Cause: ${cause(conn, limit, result.cores)}`),
        '',
      );
    }
  }
  if (rss.length > 1) {
    const spread = (Math.max(...rss) - Math.min(...rss)) / Math.min(...rss);
    lines.push(
      `**Connector peak RSS across sizes: ${rss.map((r) => f0(r / MiB)).join(' / ')} MiB** (spread ${pct(spread)}); target flat (spread ≤ 15 %, as the disk bench): ` +
        `**${spread <= 0.15 ? 'met' : 'missed'}**. The OVA is read as a stream: at most one S3 chunk (≤ 1 MiB handed on) and the HTTPS request's send buffer are held.`,
      '',
    );
  }
  return lines.join('\n');
}

export function roundtripHeadline(r: RoundtripResult): string {
  const parts = r.sizes.map((s) => {
    const by = (id: RoundtripMode) => s.contenders.find((c) => c.id === id);
    const conn = by('connector');
    const read = by('s3-read');
    const upload = by('lease-upload');
    if (!conn) return `${s.sizeGiB} GiB: not measured`;
    const bits = [`${s.sizeGiB} GiB at ${f0(conn.mbps)} MB/s, peak RSS ${f0(conn.maxRssBytes / MiB)} MiB`];
    if (read && upload) bits.push(`${pct(conn.mbps / Math.min(read.mbps, upload.mbps))} of min(S3 read, lease upload)`);
    return bits.join(', ');
  });
  return `Bring back to vCenter, S3 → vCenter: ${parts.join('; ')}.`;
}
