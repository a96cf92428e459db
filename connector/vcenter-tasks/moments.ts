// The moments of a migration that become events on its VM, read from one save: the record as persisted and the
// state/phase before it. Pure, so every transition the engine makes maps to at most one event of each kind.
import type { MigrationBefore } from '../engine/observer.ts';
import { taskView } from '../engine/task-view.ts';
import type { MigrationRecord } from '../engine/types.ts';
import type { EventTypeKey } from './catalog.ts';

export interface Moment {
  type: EventTypeKey;
  args: Record<string, string>;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes >= 10 * 2 ** 30 ? 0 : 1)} GiB`;
}

export function migrationMoments(t: Readonly<MigrationRecord>, before: MigrationBefore | undefined, now: Date): Moment[] {
  if (!before || before.phase === t.phase) return [];
  const out: Moment[] = [];
  const from = before.phase;
  const to = t.phase;
  const ended = t.state === 'failed' || t.state === 'cancelled';
  // Cold: the export and upload end when the import starts. Warm: the initial copy ends when replication starts.
  if (((from === 'exporting' || from === 'uploading') && to === 'importing') || (from === 'initial-sync' && to === 'replicating')) {
    const bytes = t.mode === 'warm' ? 0 : t.disks.reduce((s, d) => s + d.capacityBytes, 0);
    const n = t.mode === 'warm' ? (t.warm?.disks?.length ?? 0) : t.disks.length;
    out.push({ type: 'disksCopied', args: { migrationId: t.id, disks: `${n} disk${n === 1 ? '' : 's'}${bytes ? `, ${gib(bytes)}` : ''}` } });
  }
  if (!ended && to === 'launching' && (from === 'importing' || from === 'cutting-over') && t.imageId) {
    out.push({ type: 'imported', args: { migrationId: t.id, imageId: t.imageId } });
  }
  if (!ended && from === 'launching' && t.instanceId) {
    out.push({ type: 'launched', args: { migrationId: t.id, instanceId: t.instanceId, region: t.region } });
  }
  if (t.state === 'completed' && t.mode === 'warm' && t.instanceId) {
    const downtime = taskView(t, now, undefined).warm?.cutover?.downtimeSeconds;
    out.push({ type: 'cutoverDone', args: { migrationId: t.id, instanceId: t.instanceId, downtimeSeconds: downtime === undefined ? 'unknown' : String(Math.round(downtime)) } });
  }
  return out;
}
