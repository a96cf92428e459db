// What the API shows of a migration: the stored record turned into the contract's task, with its derived
// progress (overall percentage, throughput, ETAs). Pure: the engine passes the clock and the queue position.
import type { DiskProgress, MigrationTask, WarmReplication } from '../contract/index.ts';
import type { MigrationRecord } from './types.ts';
import { EBS_BLOCK_BYTES } from './warm/types.ts';
import { WINDOW_SWEEPER, windowClosedReason } from '../waves/window.ts';
import { rollbackView } from './rollback.ts';
import { resumeView } from './warm/resume.ts';

/** A copy waiting on the cap renews its mark every second; an older mark means it no longer waits (or no longer copies). */
const THROTTLE_SHOWN_MS = 15_000;

const INITIAL_SYNC_REASON = 'Initial sync: every allocated block of the disks is copied once; later cycles send only changed blocks.';

/** The task as the API and the portal see it. */
export function taskView(t: MigrationRecord, now: Date, queuePosition: number | undefined): MigrationTask {
  const disks = t.warm ? cycleDisks(t, now) : t.disks;
  const uploading = (t.phase === 'uploading' || (t.phase === 'initial-sync' && !!t.warm?.cycle)) && t.state === 'running';
  const throughput = uploading ? disks.reduce((s, d) => s + (d.done ? 0 : d.throughputBps), 0) : undefined;
  const remaining = disks.reduce((s, d) => s + Math.max(0, d.expectedBytes - d.bytesUploaded), 0);
  const importEta = importEtaNow(t, now);
  return {
    id: t.id,
    idKind: t.idKind,
    state: t.state,
    phase: t.phase,
    mode: t.mode ?? 'cold',
    ...(t.warm ? { warm: warmView(t, now) } : {}),
    environmentId: t.environmentId,
    region: t.region,
    vmId: t.vmId,
    ...(t.vmName ? { vmName: t.vmName } : {}),
    ...(t.waveId ? { waveId: t.waveId } : {}),
    ...(t.connectorId ? { connectorId: t.connectorId } : {}),
    platform: t.platform,
    subnetId: t.subnetId,
    instanceType: t.instanceType,
    securityGroupIds: t.securityGroupIds,
    ...(t.privateIpAddress ? { privateIpAddress: t.privateIpAddress } : {}),
    requestedBy: t.requestedBy,
    ...(t.cancelledBy ? { cancelledBy: t.cancelledBy } : {}),
    ...(t.cancelledAt ? { cancelledAt: t.cancelledAt } : {}),
    ...(queuePosition ? { queuePosition } : {}),
    disks: disks.map((d) => ({
      key: d.key,
      capacityBytes: d.capacityBytes,
      expectedBytes: d.expectedBytes,
      bytesUploaded: d.bytesUploaded,
      throughputBps: d.throughputBps,
      ...(d.etaSeconds !== undefined ? { etaSeconds: d.etaSeconds } : {}),
      done: d.done,
    })),
    percent: percentOf(t),
    ...(throughput !== undefined ? { throughputBps: throughput } : {}),
    ...(throughput ? { etaSeconds: remaining / throughput } : {}),
    ...(t.state === 'running' && t.throttle && now.getTime() - Date.parse(t.throttle.at) < THROTTLE_SHOWN_MS ? { throttled: { capMBps: t.throttle.capMBps } } : {}),
    ...(t.importTaskId ? { importTaskId: t.importTaskId } : {}),
    ...(t.importStatus ? { importStatus: t.importStatus } : {}),
    ...(t.importProgress !== undefined ? { importProgress: t.importProgress } : {}),
    ...(importEta !== undefined ? { importEtaSeconds: importEta } : {}),
    ...(t.imageId ? { imageId: t.imageId } : {}),
    ...(t.instanceId ? { instanceId: t.instanceId } : {}),
    ...(t.importOptions ? { importOptions: t.importOptions } : {}),
    ...(t.applied ? { applied: t.applied } : {}),
    ...(t.error ? { error: t.error } : {}),
    // Cancelled by the wave's start-window sweeper: say why (the engine's cancel records only who).
    ...(!t.error && t.state === 'cancelled' && t.cancelledBy === WINDOW_SWEEPER && t.notAfter ? { error: windowClosedReason(t.notAfter) } : {}),
    ...(t.warning ? { warning: t.warning } : {}),
    ...rollbackField(t, now),
    createdAt: t.createdAt,
    ...(t.startedAt ? { startedAt: t.startedAt } : {}),
    updatedAt: t.updatedAt,
    ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
  };
}

/**
 * Whether a task's view is final: it has ended and no replication cycle is left on it, so its view depends neither on
 * the queue nor the engine's memory, and on the clock only at rollback.ts's viewChangesAt (its rollback window
 * closing). task-json.ts keeps the JSON of such a task while its row is unchanged and that instant has not passed;
 * a field added to taskView that changes after the end must make this false.
 */
export function viewIsSettled(t: MigrationRecord): boolean {
  return (t.state === 'completed' || t.state === 'failed' || t.state === 'cancelled') && !t.warm?.cycle;
}

function rollbackField(t: MigrationRecord, now: Date): Pick<MigrationTask, 'rollback' | 'resume'> {
  const rollback = rollbackView(t, now);
  const resume = resumeView(t, now);
  return { ...(rollback ? { rollback } : {}), ...(resume ? { resume } : {}) };
}

/** Export+upload 0–50 %, import 50–90 %, launch and cleanup up to 100 %. */
function percentOf(t: MigrationRecord): number {
  if (t.state === 'completed') return 100;
  switch (t.phase) {
    case 'queued':
    case 'exporting':
      return 0;
    // Warm: the initial sync by blocks written, then the cold ranges from the import on.
    case 'initial-sync': {
      const ds = t.warm?.cycle?.disks ?? [];
      const total = ds.reduce((s, d) => s + (d.changedBlocks ?? 0), 0);
      return total ? Math.round((50 * ds.reduce((s, d) => s + (d.done ? (d.changedBlocks ?? 0) : d.blocksWritten), 0)) / total) : 0;
    }
    case 'replicating':
    case 'cutting-over':
      return 50;
    case 'uploading': {
      const total = t.disks.reduce((s, d) => s + d.expectedBytes, 0) || 1;
      const sent = t.disks.reduce((s, d) => s + (d.done ? d.expectedBytes : Math.min(d.bytesUploaded, d.expectedBytes)), 0);
      return Math.round((50 * sent) / total);
    }
    case 'importing':
      return 50 + Math.round(0.4 * (t.importProgress ?? 0));
    case 'launching':
      return 92;
    case 'cleaning-up':
    case 'done':
      return 98;
  }
}

/** The import's estimate counted down since it was made; none once overdue (a stalled import gets no made-up time). */
function importEtaNow(t: MigrationRecord, now: Date): number | undefined {
  if (t.state !== 'running' || t.phase !== 'importing' || t.importEtaSeconds === undefined || !t.importProgressAt) return undefined;
  const left = t.importEtaSeconds - (now.getTime() - Date.parse(t.importProgressAt)) / 1000;
  return left > 0 ? left : undefined;
}

/** The replication facts of a warm task (lag counted to `now`). */
function warmView(t: MigrationRecord, now: Date): WarmReplication {
  const w = t.warm!;
  const c = w.cycle;
  // A resumed migration's first cycle is incremental unless its seeded point was not usable (fullSyncReason says why).
  const fullReason = c ? c.fullReason : (w.fullSyncReason ?? (w.cycles === 0 && !w.resumedFrom ? INITIAL_SYNC_REASON : undefined));
  const live = t.state === 'running' && ['initial-sync', 'replicating', 'cutting-over'].includes(t.phase);
  const off = w.cutover?.sourcePoweredOffAt;
  const launched = w.cutover?.instanceLaunchedAt;
  const test = w.test;
  return {
    intervalMinutes: w.intervalMinutes,
    shutdown: w.shutdown,
    cycles: w.cycles,
    cycleRunning: !!c,
    fullSync: c ? c.full : !!fullReason,
    ...(fullReason ? { fullSyncReason: fullReason } : {}),
    ...(w.lastSyncAt ? { lastSyncAt: w.lastSyncAt } : {}),
    ...(w.lastCycleChangedBytes !== undefined ? { lastCycleChangedBytes: w.lastCycleChangedBytes } : {}),
    ...(w.lastCycleSentBytes !== undefined ? { lastCycleSentBytes: w.lastCycleSentBytes } : {}),
    ...(w.lastSyncAt && live ? { lagSeconds: Math.max(0, (now.getTime() - Date.parse(w.lastSyncAt)) / 1000) } : {}),
    ...(w.nextCycleAt && live && !w.cutover ? { nextCycleAt: w.nextCycleAt } : {}),
    ...(test
      ? {
          test: {
            state: test.state,
            subnetId: test.subnetId,
            requestedBy: test.requestedBy,
            requestedAt: test.requestedAt,
            ...(test.fromSyncAt ? { fromSyncAt: test.fromSyncAt } : {}),
            ...(test.importTaskId ? { importTaskId: test.importTaskId } : {}),
            ...(test.imageId ? { imageId: test.imageId } : {}),
            ...(test.instanceId ? { instanceId: test.instanceId } : {}),
            ...(test.launchedAt ? { launchedAt: test.launchedAt } : {}),
            ...(test.error ? { error: test.error } : {}),
          },
        }
      : {}),
    ...(w.cutover
      ? {
          cutover: {
            requestedBy: w.cutover.requestedBy,
            requestedAt: w.cutover.requestedAt,
            ...(off ? { sourcePoweredOffAt: off } : {}),
            ...(launched ? { instanceLaunchedAt: launched } : {}),
            ...(off && launched ? { downtimeSeconds: Math.max(0, (Date.parse(launched) - Date.parse(off)) / 1000) } : {}),
          },
        }
      : {}),
    ...(w.imagePath ? { imagePath: w.imagePath } : {}),
    ...(w.resumedFrom ? { resumedFrom: { ...w.resumedFrom } } : {}),
  };
}

/** A warm task's disks as upload progress: the cycle in flight (its changed blocks), else nothing. */
function cycleDisks(t: MigrationRecord, now: Date): DiskProgress[] {
  const w = t.warm!;
  const c = w.cycle;
  if (!c) return [];
  const secs = Math.max(0.001, (now.getTime() - Date.parse(c.frozenAt ?? c.startedAt)) / 1000);
  return c.disks.map((d) => {
    const disk = w.disks.find((x) => x.deviceKey === d.deviceKey);
    const expectedBytes = (d.changedBlocks ?? 0) * EBS_BLOCK_BYTES;
    const bytesUploaded = d.done ? expectedBytes : d.blocksWritten * EBS_BLOCK_BYTES;
    const throughputBps = d.done ? 0 : d.sentBytes / secs;
    return {
      key: disk?.label ?? String(d.deviceKey),
      capacityBytes: disk?.capacityBytes ?? 0,
      expectedBytes,
      bytesUploaded,
      throughputBps,
      ...(throughputBps > 0 ? { etaSeconds: Math.max(0, expectedBytes - bytesUploaded) / throughputBps } : {}),
      done: d.done,
    };
  });
}
