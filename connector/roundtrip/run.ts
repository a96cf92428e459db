// One "Bring back to vCenter" run: the OVA read from S3 as a stream (descriptor first), CreateImportSpec with the
// user's choices, ImportVApp, each disk streamed from S3 straight into its lease URL (no staging; the lease kept alive
// with HttpNfcLeaseProgress), HttpNfcLeaseComplete, the annotation, power-on. Any failure or cancel aborts the lease and
// removes the half-made VM, so a run leaves one whole VM or none.
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ReturnNetworkMapping } from '../contract/index.ts';
import { openOva, type Ova } from './ova-read.ts';
import { summarizeOvf } from './ovf.ts';
import { createImportSpec, importVApp, uploadLeaseDisk, uploadTargets } from '../vsphere/import-lease.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';
import { destroyVm, findChild, powerOn, setAnnotation } from './vcenter.ts';
import type { ReturnRecord } from './store.ts';

export interface RunContext {
  client: Vim25Client;
  s3: S3Client;
  signal: AbortSignal;
  keepAliveMs: number;
  /** Persists the record (progress is saved at most about once a second). */
  save(rec: ReturnRecord): Promise<void>;
  now(): Date;
}

/** Why a run stopped early, carried as the abort reason. */
export type StopReason = 'cancel' | 'shutdown';

const PROGRESS_SAVE_MS = 1_000;

export function annotationFor(rec: ReturnRecord, at: string): string {
  return `Brought back from Amazon EC2 instance ${rec.instanceId} (export ${rec.exportId}, s3://${rec.bucket}/${rec.s3Key}) by vm2ec2 task ${rec.id}, requested by ${rec.requestedBy} on ${at}.`;
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new AbortRun(signal.reason as StopReason);
}

export class AbortRun extends Error {
  constructor(readonly reason: StopReason) {
    super(reason === 'cancel' ? 'cancelled' : 'the connector stopped');
    this.name = 'AbortRun';
  }
}

/**
 * The mappings CreateImportSpec gets. A task that exported the instance itself was asked for the networks VM Export's
 * OVF is known to name; a network its OVF names otherwise goes to the first destination chosen.
 */
function mappingsFor(rec: ReturnRecord, descriptor: string): ReturnNetworkMapping[] {
  if (rec.source !== 'instance' || rec.networkMappings.length === 0) return rec.networkMappings;
  const first = rec.networkMappings[0]!.network;
  return summarizeOvf(descriptor).networks.map((n) => rec.networkMappings.find((m) => m.sourceNetwork === n) ?? { sourceNetwork: n, network: first });
}

/** Runs the task to completed; throws on failure or abort, with the record's leaseId / vmId telling what to clean up. */
export async function runReturn(rec: ReturnRecord, ctx: RunContext): Promise<void> {
  const { client, signal } = ctx;
  const folder: MoRef = { type: 'Folder', value: rec.folderId };
  const set = async (patch: Partial<ReturnRecord>) => {
    Object.assign(rec, patch, { updatedAt: ctx.now().toISOString() });
    await ctx.save(rec);
  };

  await set({ phase: 'reading-ova' });
  const obj = await ctx.s3.send(new GetObjectCommand({ Bucket: rec.bucket, Key: rec.s3Key }), { abortSignal: signal });
  const body = obj.Body as Readable;
  try {
    const ova: Ova = await openOva(body);
    checkAborted(signal);

    await set({ phase: 'importing' });
    const spec = await createImportSpec(client, {
      ovfDescriptor: ova.descriptor,
      resourcePool: { type: 'ResourcePool', value: rec.poolId! },
      datastore: { type: 'Datastore', value: rec.datastoreId },
      entityName: rec.name,
      diskProvisioning: rec.diskProvisioning,
      networkMapping: mappingsFor(rec, ova.descriptor).map((m) => ({ name: m.sourceNetwork, network: { type: m.network.type, value: m.network.id } })),
      ...(rec.hostId ? { host: { type: 'HostSystem', value: rec.hostId } } : {}),
    });
    checkAborted(signal);
    const lease = await importVApp(client, { resourcePool: { type: 'ResourcePool', value: rec.poolId! }, spec, folder, ...(rec.hostId ? { host: { type: 'HostSystem', value: rec.hostId } } : {}) });
    // Recorded at once: a cancel, a failure or a restart after this point aborts this lease.
    await set({ leaseId: lease.value });
    const info = await client.waitForLease(lease);
    const vm = await findChild(client, folder, rec.name);
    if (vm) await set({ vmId: vm.value });
    checkAborted(signal);

    const targets = uploadTargets(spec, info);
    const total = targets.reduce((s, t) => s + (t.item.size ?? 0), 0);
    const uploadStarted = ctx.now().getTime();
    let uploaded = 0;
    let lastSave = 0;
    const progress = () => {
      const seconds = (ctx.now().getTime() - uploadStarted) / 1000;
      const bps = seconds > 0 ? uploaded / seconds : 0;
      rec.bytesUploaded = uploaded;
      rec.percent = total > 0 ? Math.min(95, Math.floor((uploaded / total) * 95)) : 0;
      if (bps > 0) rec.throughputBps = Math.round(bps);
      if (bps > 0 && total > uploaded) rec.etaSeconds = Math.round((total - uploaded) / bps);
      else delete rec.etaSeconds;
    };
    await set({ phase: 'uploading', bytesTotal: total, bytesUploaded: 0 });
    // vCenter times a lease out without HttpNfcLeaseProgress; its percent is the upload's.
    let keepAliveError: unknown;
    const keepAlive = setInterval(() => {
      client.leaseProgress(lease, rec.percent).catch((err: unknown) => (keepAliveError = err));
    }, ctx.keepAliveMs);
    try {
      const done = new Set<string>();
      for await (const file of ova.files) {
        checkAborted(signal);
        const target = targets.find((t) => t.item.path === file.name);
        if (!target) continue; // the manifest or a certificate: skipped unread
        async function* counted(): AsyncGenerator<Buffer> {
          for await (const chunk of file.body) {
            uploaded += chunk.length;
            if (Date.now() - lastSave >= PROGRESS_SAVE_MS) {
              lastSave = Date.now();
              progress();
              rec.updatedAt = ctx.now().toISOString();
              await ctx.save(rec);
            }
            yield chunk;
          }
        }
        await uploadLeaseDisk(client, target.device, counted(), { contentLength: file.size, signal });
        done.add(target.item.deviceId);
        if (keepAliveError) throw keepAliveError;
      }
      const missing = targets.filter((t) => !done.has(t.item.deviceId)).map((t) => t.item.path);
      if (missing.length) throw new Error(`The OVA in S3 has no ${missing.join(', ')}, which its descriptor lists: export the instance again.`);
    } finally {
      clearInterval(keepAlive);
    }
    progress();
    checkAborted(signal);

    await set({ phase: 'completing' });
    await client.leaseProgress(lease, 100);
    await client.leaseComplete(lease);
    const vmRef = vm ?? (await findChild(client, folder, rec.name));
    delete rec.leaseId;
    if (vmRef) rec.vmId = vmRef.value;
    await set({});
    const warnings = [...spec.warnings];
    if (vmRef) {
      await setAnnotation(client, vmRef, annotationFor(rec, ctx.now().toISOString())).catch((err: unknown) =>
        warnings.push(`The VM's notes could not be set (${(err as Error).message}); it came from instance ${rec.instanceId}, export ${rec.exportId}.`),
      );
    }
    if (rec.powerOn && vmRef) {
      checkAborted(signal);
      await set({ phase: 'powering-on' });
      // The VM is whole: a refused power-on is said, never a reason to remove it.
      await powerOn(client, vmRef).catch((err: unknown) => warnings.push(`The VM was brought back but could not be powered on (${(err as Error).message}): power it on in the vSphere Client.`));
    }
    const at = ctx.now().toISOString();
    await set({
      state: 'completed',
      phase: 'done',
      percent: 100,
      finishedAt: at,
      ...(warnings.length ? { message: warnings.join(' ') } : {}),
    });
    delete rec.etaSeconds;
  } finally {
    body.destroy();
  }
}

/**
 * Undoes a run that stopped: aborts its lease (vCenter removes the VM it was creating) and removes the VM if it is
 * still there. Returns what could not be undone, for the task's message.
 */
export async function undoRun(client: Vim25Client, rec: ReturnRecord, why: string): Promise<string | undefined> {
  const problems: string[] = [];
  if (rec.leaseId) {
    await client.leaseAbort({ type: 'HttpNfcLease', value: rec.leaseId }, why).catch((err: unknown) => {
      // A lease that is gone or done cannot be aborted; the VM is removed below either way.
      const m = (err as Error).message;
      if (!/not found|InvalidState|already/i.test(m)) problems.push(`aborting import lease ${rec.leaseId}: ${m}`);
    });
  }
  let vm: MoRef | undefined = rec.vmId ? { type: 'VirtualMachine', value: rec.vmId } : undefined;
  // Created by ImportVApp before its id was recorded: the name in the folder is this task's (one running task per name).
  if (!vm && rec.phase !== 'reading-ova' && rec.phase !== 'exporting') vm = await findChild(client, { type: 'Folder', value: rec.folderId }, rec.name).catch(() => undefined);
  if (vm) {
    await destroyVm(client, vm).catch((err: unknown) => problems.push(`removing VM ${rec.name} (${vm.value}): ${(err as Error).message}`));
  }
  return problems.length ? problems.join('; ') : undefined;
}
