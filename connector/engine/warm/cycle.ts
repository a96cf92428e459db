// One replication cycle of a warm migration: freeze the disks with a vCenter snapshot, ask Changed Block Tracking
// what changed since the last cycle, read only those 512 KiB blocks from the frozen disk (datastore file access with
// Range) and write them into a new EBS snapshot whose parent is the last cycle's, then remove the vCenter snapshot.
// Every step is recorded in the WarmRecord (deps.checkpoint persists it), so a connector killed at any point resumes
// the cycle: same vCenter snapshot, same EBS snapshot (ClientToken), blocks EBS acknowledged are not sent again.
import { acquire, type ByteThrottle } from '../../bandwidth/limiter.ts';
import { randomUUID } from 'node:crypto';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EBSClient } from '@aws-sdk/client-ebs';
import { boundedEach, completeEbsSnapshot, putEbsBlock, startEbsSnapshot } from '../../aws/ebs-writer.ts';
import {
  ChangeIdRejectedError,
  changeTrackingEnabled,
  datacenterPathOf,
  queryChangedAreas,
  removeSnapshotIfPresent,
  setChangeTracking,
  snapshotDisks,
  vmDisks,
  type CbtDisk,
} from '../../vsphere/cbt.ts';
import { DatastoreReader, DatastoreReadError, flatExtentPath, parseDatastorePath, type DatastoreFile } from '../../vsphere/datastore-http.ts';
import { VcenterNetworkError, type Vim25Client } from '../../vsphere/vim25.ts';
import { blockRuns, countBelow, deleteEbsSnapshots } from './ebs.ts';
import { EBS_BLOCK_BYTES, type WarmCycle, type WarmCycleDisk, type WarmDisk, type WarmRecord } from './types.ts';

export const CBT_RESET_REASON =
  'Changed Block Tracking was reset on the VM (for example by a storage vMotion or a restore), so this cycle copies the whole disk.';
export const INITIAL_SYNC_REASON = 'Initial sync: every allocated block of the disks is copied once; later cycles send only changed blocks.';

export interface CycleDeps {
  vc: Vim25Client;
  ebs: EBSClient;
  vmId: string;
  /** Name of the cycle's vCenter snapshot; snapshots with this name are the task's own (strays are removed). */
  snapshotName: string;
  /** Tags of every EBS snapshot the task creates. */
  tags: { Key: string; Value: string }[];
  /** Encrypt the replicated snapshots (issue 18): with this key ARN, else the account's EBS default key. */
  encryption?: { kmsKeyArn?: string | undefined } | undefined;
  signal: AbortSignal;
  now(): Date;
  /** Persists the WarmRecord (called about once per second while blocks flow, and at every phase boundary). */
  checkpoint(): void;
  /** Blocks read and written at once (and buffered); default 4. */
  concurrency?: number;
  /** abandonCycle deletes the cycle's EBS snapshots with it; without it they go to w.supersededSnapshots. */
  ec2?: EC2Client;
  /** The connector's bandwidth cap (issue 14): each block waits for its bytes before it is read. */
  throttle?: ByteThrottle;
}

const CHECKPOINT_EVERY_MS = 1000;

/** CBT on (enabling it when off) and the VM's disks. The change takes effect with the first cycle's snapshot. */
export async function ensureChangeTracking(vc: Vim25Client, vmId: string): Promise<{ enabledByUs: boolean; disks: WarmDisk[] }> {
  let enabledByUs = false;
  if (!(await changeTrackingEnabled(vc, vmId))) {
    await setChangeTracking(vc, vmId, true);
    enabledByUs = true;
  }
  const disks = (await vmDisks(vc, vmId)).map((d) => ({ deviceKey: d.deviceKey, label: d.label, capacityBytes: d.capacityBytes }));
  if (!disks.length) throw new Error(`The virtual machine ${vmId} has no virtual disks to replicate.`);
  return { enabledByUs, disks };
}

/** Starts a cycle on w (when none is in flight) or resumes w.cycle, and folds it into w when done. */
export async function runCycle(w: WarmRecord, deps: CycleDeps): Promise<void> {
  throwIfAborted(deps.signal);
  if (!w.cycle) {
    w.cycle = newCycle(w, deps);
    deps.checkpoint();
  }
  const c = w.cycle;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const reader = DatastoreReader.forClient(deps.vc, { maxSockets: concurrency });
  try {
    await removeOwnSnapshots(deps, c.vcSnapshot);
    if (c.vcSnapshot && !c.disks.every((d) => d.done) && !(await snapshotExists(deps, c.vcSnapshot))) {
      // Someone removed our snapshot: the blocks written so far may not match a new one, so the cycle starts over.
      await restartCycle(w, c, deps);
    }
    for (;;) {
      if (!c.vcSnapshot) {
        const ref = await deps.vc.createSnapshot(deps.vmId, deps.snapshotName, `vm2ec2 warm migration: replication cycle ${c.n}. Removed by the connector when the cycle ends.`);
        c.vcSnapshot = ref.value;
        c.frozenAt = deps.now().toISOString();
        deps.checkpoint();
      }
      try {
        await syncDisks(w, c, deps, reader, concurrency);
        break;
      } catch (err) {
        if (!(err instanceof ChangeIdRejectedError)) throw err;
        // CBT was reset, perhaps after this snapshot: its change ids may belong to the old tracking, and recording
        // one would make the next cycle full again. A new snapshot taken now is of the new tracking; every disk is
        // copied whole from it (full cycles query '*', which is never refused, so this happens once).
        const stale = c.vcSnapshot;
        await restartCycle(w, c, deps, CBT_RESET_REASON);
        await removeSnapshotIfPresent(deps.vc, stale);
      }
    }
    await removeSnapshotIfPresent(deps.vc, c.vcSnapshot!);
    fold(w, c);
    deps.checkpoint();
  } catch (err) {
    if (isAbort(err, deps.signal) || isResumable(err)) {
      // Leave the cycle (and its vCenter snapshot) for the resume; the record holds only acknowledged blocks.
      deps.checkpoint();
      throw err;
    }
    // The cycle cannot be resumed: undo it so no snapshot stays behind; the next cycle starts over from w.disks.
    if (c.fullReason === CBT_RESET_REASON) w.fullSyncReason = CBT_RESET_REASON;
    await abandonCycle(w, deps).catch(() => deps.checkpoint());
    throw err;
  } finally {
    reader.close();
  }
}

/**
 * The cancel path: removes the cycle's vCenter snapshot (and any other of the task's), completes the cycle's pending
 * EBS snapshots and deletes them (deps.ec2) or hands them to w.supersededSnapshots; w.cycle is cleared.
 */
export async function abandonCycle(w: WarmRecord, deps: CycleDeps): Promise<void> {
  const c = w.cycle;
  await removeOwnSnapshots(deps, undefined);
  if (!c) return;
  const ids: string[] = [];
  for (const d of c.disks) {
    if (!d.ebsSnapshotId) continue;
    // A pending snapshot cannot be deleted: complete it (a wrong count ends in `error`, which is as final).
    if (!d.done) await completeEbsSnapshot(deps.ebs, d.ebsSnapshotId, d.changedBlocks ?? d.blocksWritten).catch(() => undefined);
    ids.push(d.ebsSnapshotId);
  }
  if (deps.ec2) await deleteEbsSnapshots(deps.ec2, ids);
  else w.supersededSnapshots.push(...ids.filter((id) => !w.supersededSnapshots.includes(id)));
  delete w.cycle;
  deps.checkpoint();
}

// ---------- the cycle's steps ----------

/** A failure that resuming the same cycle would only repeat. */
class CycleError extends Error {
  override name = 'CycleError';
}

function newCycle(w: WarmRecord, deps: CycleDeps): WarmCycle {
  const full = !!w.fullSyncReason || w.disks.some((d) => !d.changeId || !d.ebsSnapshotId);
  const fullReason = w.fullSyncReason ?? (w.cycles === 0 ? INITIAL_SYNC_REASON : 'A disk has no replicated copy yet, so this cycle copies it whole.');
  return {
    n: w.cycles + 1,
    full,
    ...(full ? { fullReason } : {}),
    startedAt: deps.now().toISOString(),
    disks: w.disks.map((d) => freshDisk(d.deviceKey, full || !d.changeId ? '*' : d.changeId)),
  };
}

function freshDisk(deviceKey: number, fromChangeId: string): WarmCycleDisk {
  return { deviceKey, fromChangeId, clientToken: randomUUID(), nextBlock: 0, blocksWritten: 0, changedBytes: 0, sentBytes: 0, done: false };
}

/**
 * The cycle's vCenter snapshot vanished, or (`fullReason`) it cannot give usable change ids: abandon what was written
 * for it and start the cycle over on a new snapshot, as a full copy when `fullReason` says why.
 */
async function restartCycle(w: WarmRecord, c: WarmCycle, deps: CycleDeps, fullReason?: string): Promise<void> {
  for (const d of c.disks) {
    if (d.ebsSnapshotId) {
      if (!d.done) await completeEbsSnapshot(deps.ebs, d.ebsSnapshotId, d.changedBlocks ?? d.blocksWritten).catch(() => undefined);
      if (!w.supersededSnapshots.includes(d.ebsSnapshotId)) w.supersededSnapshots.push(d.ebsSnapshotId);
    }
  }
  c.disks = c.disks.map((d) => freshDisk(d.deviceKey, fullReason ? '*' : d.fromChangeId));
  if (fullReason) {
    c.full = true;
    c.fullReason = fullReason;
  }
  delete c.vcSnapshot;
  delete c.frozenAt;
  deps.checkpoint();
}

/** Syncs the cycle's disks not done yet from its vCenter snapshot. */
async function syncDisks(w: WarmRecord, c: WarmCycle, deps: CycleDeps, reader: DatastoreReader, concurrency: number): Promise<void> {
  if (c.disks.every((d) => d.done)) return;
  const frozen = await snapshotDisks(deps.vc, c.vcSnapshot!);
  const dcPath = await datacenterPathOf(deps.vc, deps.vmId);
  for (const d of c.disks) {
    if (d.done) continue;
    const f = frozen.find((x) => x.deviceKey === d.deviceKey);
    const wd = w.disks.find((x) => x.deviceKey === d.deviceKey);
    if (!f || !wd) throw new CycleError(`Disk ${wd?.label ?? d.deviceKey} is no longer on the virtual machine ${deps.vmId}; stop replication and start a new migration.`);
    if (!f.changeId) throw new CycleError(`Changed Block Tracking is not active on ${wd.label} of the virtual machine ${deps.vmId}; check that the disk is not independent and that CBT is enabled.`);
    d.toChangeId = f.changeId;
    await syncDisk(w, c, d, wd, f, dcPath, reader, deps, concurrency);
  }
}

async function syncDisk(
  w: WarmRecord,
  c: WarmCycle,
  d: WarmCycleDisk,
  wd: WarmDisk,
  f: CbtDisk,
  dcPath: string,
  reader: DatastoreReader,
  deps: CycleDeps,
  concurrency: number,
): Promise<void> {
  const snapshot = c.vcSnapshot!;
  if (f.hasParent) {
    throw new CycleError(
      `${wd.label} has snapshots of its own below the connector's: warm migration reads the frozen base disk, so delete or consolidate the VM's other snapshots (Snapshots → Manage Snapshots); the next cycle then continues.`,
    );
  }
  if (f.backingType !== 'VirtualDiskFlatVer2BackingInfo') {
    throw new CycleError(`${wd.label} is a ${f.backingType} disk; warm migration reads flat (thin or thick) virtual disks only. Use Migrate now for this VM.`);
  }
  /** The disk is copied whole into a new chain (no parent), under a new token; what was written for it is dropped. */
  const restartAsFull = async (reason: string): Promise<void> => {
    if (d.ebsSnapshotId) {
      await completeEbsSnapshot(deps.ebs, d.ebsSnapshotId, d.changedBlocks ?? d.blocksWritten).catch(() => undefined);
      if (!w.supersededSnapshots.includes(d.ebsSnapshotId)) w.supersededSnapshots.push(d.ebsSnapshotId);
    }
    Object.assign(d, freshDisk(d.deviceKey, '*'), { toChangeId: d.toChangeId });
    delete d.ebsSnapshotId;
    delete d.changedBlocks;
    delete d.ackedAbove;
    c.full = true;
    c.fullReason = reason;
    deps.checkpoint();
  };

  // A refused change id (CBT reset) goes up to runCycle, which starts the cycle over on a new snapshot.
  let areas = await queryChangedAreas(deps.vc, deps.vmId, snapshot, d.deviceKey, wd.capacityBytes, d.fromChangeId);
  let parent = d.fromChangeId === '*' ? undefined : wd.ebsSnapshotId;
  if (!d.ebsSnapshotId && parent) {
    const changed = blockRuns(areas, wd.capacityBytes).length > 0;
    if (changed) {
      try {
        d.ebsSnapshotId = (await startEbsSnapshot(deps.ebs, startRequest(c, d, wd, deps, parent), deps.signal)).snapshotId;
        deps.checkpoint();
      } catch (err) {
        if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
        // The chain's head was deleted outside the connector: nothing to build on, so copy the disk whole.
        await restartAsFull(parentGoneReason(wd.label));
        areas = await queryChangedAreas(deps.vc, deps.vmId, snapshot, d.deviceKey, wd.capacityBytes, '*');
        parent = undefined;
      }
    }
  }
  const runs = blockRuns(areas, wd.capacityBytes);
  const changedBlocks = runs.reduce((n, [a, b]) => n + b - a + 1, 0);
  d.changedBytes = areas.reduce((n, a) => n + a.length, 0);
  d.changedBlocks = changedBlocks;
  const totalBlocks = Math.ceil(wd.capacityBytes / EBS_BLOCK_BYTES);

  if (changedBlocks === 0 && parent) {
    // Nothing changed: the last snapshot still holds this disk; no new EBS snapshot.
    d.nextBlock = totalBlocks;
    d.done = true;
    deps.checkpoint();
    return;
  }
  if (!d.ebsSnapshotId) {
    d.ebsSnapshotId = (await startEbsSnapshot(deps.ebs, startRequest(c, d, wd, deps, parent), deps.signal)).snapshotId;
    deps.checkpoint();
  }
  const snapshotId = d.ebsSnapshotId;
  const ds = parseDatastorePath(f.fileName);
  const file: DatastoreFile = { dcPath, dsName: ds.dsName, path: flatExtentPath(ds.path) };

  // Blocks below nextBlock, and those listed in ackedAbove, were acknowledged before (a resume): skip them.
  const start = d.nextBlock;
  const ackedAbove = new Set((d.ackedAbove ?? []).filter((i) => i >= start));
  d.blocksWritten = countBelow(runs, start) + ackedAbove.size;
  const inFlight = new Set<number>();
  let lastStarted = start - 1;
  let lastCheckpoint = performance.now();
  const buffers = Array.from({ length: concurrency }, () => Buffer.alloc(EBS_BLOCK_BYTES));
  const pending = (function* () {
    for (const [a, b] of runs) for (let i = Math.max(a, start); i <= b; i++) if (!ackedAbove.has(i)) yield i;
  })();
  await boundedEach(pending, concurrency, async (block, lane) => {
    throwIfAborted(deps.signal);
    inFlight.add(block);
    lastStarted = Math.max(lastStarted, block);
    const offset = block * EBS_BLOCK_BYTES;
    const length = Math.min(EBS_BLOCK_BYTES, wd.capacityBytes - offset);
    const buf = buffers[lane]!;
    if (deps.throttle) await acquire(deps.throttle, length, deps.signal);
    const got = await reader.readRange(file, offset, length, { signal: deps.signal, into: buf });
    // The flat file ends at the capacity; anything short of it (and the tail of the last block) reads as zeros.
    buf.fill(0, got.length);
    await putEbsBlock(deps.ebs, snapshotId, block, buf, {
      progress: changedBlocks ? ((d.blocksWritten + 1) / changedBlocks) * 100 : 100,
      signal: deps.signal,
    });
    inFlight.delete(block);
    d.blocksWritten += 1;
    d.sentBytes += EBS_BLOCK_BYTES;
    ackedAbove.add(block);
    d.nextBlock = inFlight.size ? Math.min(...inFlight) : lastStarted + 1;
    for (const i of ackedAbove) if (i < d.nextBlock) ackedAbove.delete(i);
    if (ackedAbove.size) d.ackedAbove = [...ackedAbove].sort((x, y) => x - y);
    else delete d.ackedAbove;
    if (performance.now() - lastCheckpoint >= CHECKPOINT_EVERY_MS) {
      lastCheckpoint = performance.now();
      deps.checkpoint();
    }
  });
  d.nextBlock = totalBlocks;
  delete d.ackedAbove;
  deps.checkpoint();
  await completeEbsSnapshot(deps.ebs, snapshotId, changedBlocks, deps.signal);
  d.done = true;
  deps.checkpoint();
}

/** StartSnapshot's request for a disk of a cycle: identical on every retry and resume, as its ClientToken requires. */
function startRequest(c: WarmCycle, d: WarmCycleDisk, wd: WarmDisk, deps: CycleDeps, parent: string | undefined) {
  return {
    capacityBytes: wd.capacityBytes,
    ...(parent ? { parentSnapshotId: parent } : {}),
    clientToken: d.clientToken,
    tags: deps.tags,
    description: `vm2ec2 warm migration of ${deps.vmId}, ${wd.label}, cycle ${c.n}`,
    // Only a chain's first snapshot says it: EBS gives a child its parent's encryption.
    ...(!parent && deps.encryption ? { encrypted: true, ...(deps.encryption.kmsKeyArn ? { kmsKeyArn: deps.encryption.kmsKeyArn } : {}) } : {}),
  };
}

export function parentGoneReason(label: string): string {
  return `The last replicated EBS snapshot of ${label} was deleted outside the connector, so this cycle copies the whole disk.`;
}

/** The cycle becomes the new replicated point. */
function fold(w: WarmRecord, c: WarmCycle): void {
  let changed = 0;
  let sent = 0;
  for (const d of c.disks) {
    const wd = w.disks.find((x) => x.deviceKey === d.deviceKey);
    if (!wd) continue;
    if (d.toChangeId) wd.changeId = d.toChangeId;
    if (d.ebsSnapshotId && d.ebsSnapshotId !== wd.ebsSnapshotId) {
      if (wd.ebsSnapshotId && !w.supersededSnapshots.includes(wd.ebsSnapshotId)) w.supersededSnapshots.push(wd.ebsSnapshotId);
      wd.ebsSnapshotId = d.ebsSnapshotId;
    }
    changed += d.changedBytes;
    sent += d.sentBytes;
  }
  w.cycles += 1;
  if (c.frozenAt) w.lastSyncAt = c.frozenAt;
  w.lastCycleChangedBytes = changed;
  w.lastCycleSentBytes = sent;
  delete w.fullSyncReason;
  delete w.cycle;
}

/** Removes the VM's snapshots named deps.snapshotName, except `keep`. */
async function removeOwnSnapshots(deps: CycleDeps, keep: string | undefined): Promise<void> {
  const vm = await deps.vc.getVirtualMachine(deps.vmId);
  for (const s of vm.snapshots) {
    if (s.name === deps.snapshotName && s.id !== keep) await removeSnapshotIfPresent(deps.vc, s.id);
  }
}

async function snapshotExists(deps: CycleDeps, id: string): Promise<boolean> {
  const vm = await deps.vc.getVirtualMachine(deps.vmId);
  return vm.snapshots.some((s) => s.id === id);
}

function throwIfAborted(signal: AbortSignal): void {
  if (!signal.aborted) return;
  const reason: unknown = signal.reason;
  throw reason instanceof Error && reason.name === 'AbortError' ? reason : Object.assign(new Error('The replication cycle was stopped'), { name: 'AbortError', cause: reason });
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof Error && err.name === 'AbortError');
}

const AWS_TRANSIENT = new Set(['RequestThrottledException', 'ThrottlingException', 'InternalServerException', 'ConcurrentLimitExceededException', 'TimeoutError', 'RequestTimeout']);

/** Transient: the same cycle can go on later (network, vCenter or AWS briefly unavailable). */
function isResumable(err: unknown): boolean {
  if (err instanceof VcenterNetworkError) return true;
  if (err instanceof DatastoreReadError) return err.reason === 'unreachable' || err.reason === 'interrupted' || err.reason === 'server';
  const e = err as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e.$retryable) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  if (e.name && AWS_TRANSIENT.has(e.name)) return true;
  return typeof e.code === 'string' && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND)$/.test(e.code);
}
