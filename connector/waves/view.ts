// What the API shows of a wave: its row plus aggregates computed from its migrations as the engine reports them now.
import type { MigrationState, MigrationTask, Wave, WaveCounts, WaveState } from '../contract/index.ts';
import type { WaveRecord } from './store.ts';

const ENDED: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];

/** Bytes a migration still has to copy: what its disks report once the copy began, else the VM's disks' size. */
function bytesLeftOf(task: MigrationTask | undefined, diskBytes: number): number {
  // Ended or being undone: nothing more will be copied.
  if (!task || task.state === 'cancelling' || ENDED.includes(task.state)) return 0;
  if (task.disks.length === 0) return task.phase === 'queued' || task.phase === 'exporting' || task.phase === 'initial-sync' ? diskBytes : 0;
  return task.disks.reduce((sum, d) => sum + (d.done ? 0 : Math.max(0, d.expectedBytes - d.bytesUploaded)), 0);
}

/**
 * `tasks` are the wave's migrations in row order (undefined: the engine has no such task, e.g. the connector stopped
 * while the wave was being created; counted as cancelled). The ETA is the bytes left at the rate the wave copies now
 * (the sum of its running copies' throughput): the slots a wave gets are shared, so a per-task ETA would mislead.
 */
export function waveView(w: WaveRecord, tasks: readonly (MigrationTask | undefined)[]): Wave {
  const counts: WaveCounts = { queued: 0, running: 0, cancelling: 0, completed: 0, failed: 0, cancelled: 0 };
  let bytesLeft = 0;
  let throughput = 0;
  let finishedAt: string | undefined;
  tasks.forEach((t, i) => {
    counts[t?.state ?? 'cancelled'] += 1;
    bytesLeft += bytesLeftOf(t, w.tasks[i]?.diskBytes ?? 0);
    throughput += t?.state === 'running' ? (t.throughputBps ?? 0) : 0;
    if (t?.finishedAt && (!finishedAt || t.finishedAt > finishedAt)) finishedAt = t.finishedAt;
  });
  const open = counts.queued + counts.running + counts.cancelling;
  const state: WaveState = w.cancelledAt
    ? open > 0 ? 'cancelling' : 'cancelled'
    : open > 0
      ? counts.running + counts.cancelling + counts.completed + counts.failed > 0 ? 'running' : 'scheduled'
      : counts.completed === tasks.length ? 'completed' : counts.cancelled === tasks.length ? 'cancelled' : 'completed-with-failures';
  const window = w.notBefore || w.notAfter ? { ...(w.notBefore ? { notBefore: w.notBefore } : {}), ...(w.notAfter ? { notAfter: w.notAfter } : {}) } : undefined;
  return {
    id: w.id,
    name: w.name,
    priority: w.priority,
    ...(window ? { window } : {}),
    environmentId: w.environmentId,
    mode: w.mode,
    createdBy: w.createdBy,
    createdAt: w.createdAt,
    state,
    total: w.tasks.length,
    counts,
    bytesLeft,
    ...(throughput > 0 && bytesLeft > 0 ? { etaSeconds: bytesLeft / throughput } : {}),
    taskIds: w.tasks.map((t) => t.id),
    ...(w.cancelledBy ? { cancelledBy: w.cancelledBy } : {}),
    ...(w.cancelledAt ? { cancelledAt: w.cancelledAt } : {}),
    ...(w.windowClosedAt ? { windowClosedAt: w.windowClosedAt } : {}),
    ...(open === 0 && finishedAt ? { finishedAt } : {}),
  };
}
