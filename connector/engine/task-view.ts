// What the API shows of a migration: the stored record turned into the contract's task, with its derived
// progress (overall percentage, throughput, ETAs). Pure: the engine passes the clock and the queue position.
import type { MigrationTask } from '../contract/index.ts';
import type { MigrationRecord } from './types.ts';

/** The task as the API and the portal see it. */
export function taskView(t: MigrationRecord, now: Date, queuePosition: number | undefined): MigrationTask {
  const uploading = t.phase === 'uploading' && t.state === 'running';
  const throughput = uploading ? t.disks.reduce((s, d) => s + (d.done ? 0 : d.throughputBps), 0) : undefined;
  const remaining = t.disks.reduce((s, d) => s + Math.max(0, d.expectedBytes - d.bytesUploaded), 0);
  const importEta = importEtaNow(t, now);
  return {
    id: t.id,
    idKind: t.idKind,
    state: t.state,
    phase: t.phase,
    mode: t.mode ?? 'cold',
    environmentId: t.environmentId,
    region: t.region,
    vmId: t.vmId,
    ...(t.vmName ? { vmName: t.vmName } : {}),
    platform: t.platform,
    subnetId: t.subnetId,
    instanceType: t.instanceType,
    securityGroupIds: t.securityGroupIds,
    ...(t.privateIpAddress ? { privateIpAddress: t.privateIpAddress } : {}),
    requestedBy: t.requestedBy,
    ...(t.cancelledBy ? { cancelledBy: t.cancelledBy } : {}),
    ...(t.cancelledAt ? { cancelledAt: t.cancelledAt } : {}),
    ...(queuePosition ? { queuePosition } : {}),
    disks: t.disks.map((d) => ({
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
    ...(t.importTaskId ? { importTaskId: t.importTaskId } : {}),
    ...(t.importStatus ? { importStatus: t.importStatus } : {}),
    ...(t.importProgress !== undefined ? { importProgress: t.importProgress } : {}),
    ...(importEta !== undefined ? { importEtaSeconds: importEta } : {}),
    ...(t.imageId ? { imageId: t.imageId } : {}),
    ...(t.instanceId ? { instanceId: t.instanceId } : {}),
    ...(t.error ? { error: t.error } : {}),
    ...(t.warning ? { warning: t.warning } : {}),
    createdAt: t.createdAt,
    ...(t.startedAt ? { startedAt: t.startedAt } : {}),
    updatedAt: t.updatedAt,
    ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
  };
}

/** Export+upload 0–50 %, import 50–90 %, launch and cleanup up to 100 %. */
function percentOf(t: MigrationRecord): number {
  if (t.state === 'completed') return 100;
  switch (t.phase) {
    case 'queued':
    case 'exporting':
      return 0;
    // Warm: placeholders until the warm pipeline reports its own progress (issue 13).
    case 'initial-sync':
    case 'replicating':
      return 0;
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
