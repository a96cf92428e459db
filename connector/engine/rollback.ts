// Roll back a cutover (issue 16): what the store keeps of a migration's rollback, whether one is possible now (shown
// in the task view so the UI never decides it), and the two effects: the instance stopped or terminated, the source
// VM powered on. The route (routes/migration-rollback.ts) checks permissions, claims the task and audits.
import { DescribeInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { MigrationRollback, RollbackInstanceAction } from '../contract/index.ts';
import { powerOn, powerState } from '../vsphere/cbt.ts';
import type { Vim25Client } from '../vsphere/vim25.ts';
import type { MigrationRecord } from './types.ts';

export const DEFAULT_ROLLBACK_WINDOW_MS = 7 * 24 * 3600_000;

export interface RollbackRecord {
  state: 'rolling-back' | 'rolled-back' | 'failed';
  by: string;
  /** When it was asked for. */
  at: string;
  instanceAction: RollbackInstanceAction;
  finishedAt?: string;
  note?: string;
  error?: string;
}

/**
 * The connector's rollback window (config engine.rollbackWindowMs), set once by the engine plugin. Process-wide
 * because the engine's view() calls taskView(t, now, position) with no policy argument (engine.ts is not ours to
 * change); every connector of one process reads the same configuration.
 */
let windowMs = DEFAULT_ROLLBACK_WINDOW_MS;
export function setRollbackWindow(ms: number): void {
  windowMs = ms;
}
export function rollbackWindowMs(): number {
  return windowMs;
}

/** When the window of a completed migration closes (undefined: not completed). */
export function rollbackUntil(t: MigrationRecord): number | undefined {
  if (t.state !== 'completed' || !t.finishedAt) return undefined;
  return Date.parse(t.finishedAt) + windowMs;
}

const whenText = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');

/** Why a completed migration cannot be rolled back now; undefined when it can. */
export function rollbackRefusal(t: MigrationRecord, now: Date): string | undefined {
  const r = t.rollback;
  if (r?.state === 'rolled-back') return `This migration was rolled back by ${r.by} at ${whenText(r.at)}.`;
  if (r?.state === 'rolling-back') return `${r.by} is rolling this migration back (since ${whenText(r.at)}).`;
  if (!t.instanceId) return 'This migration launched no EC2 instance: there is nothing to roll back.';
  const until = rollbackUntil(t);
  if (until !== undefined && now.getTime() >= until) {
    return `The rollback window closed at ${whenText(new Date(until).toISOString())}, ${windowText()} after the migration completed.`;
  }
  return undefined;
}

function windowText(): string {
  const h = windowMs / 3600_000;
  if (h >= 24 && Number.isInteger(h / 24)) return `${h / 24} day${h === 24 ? '' : 's'}`;
  if (h >= 1 && Number.isInteger(h)) return `${h} hour${h === 1 ? '' : 's'}`;
  return `${Math.round(windowMs / 1000)} seconds`;
}

/** The task view's `rollback`: completed migrations only. */
export function rollbackView(t: MigrationRecord, now: Date): MigrationRollback | undefined {
  const until = rollbackUntil(t);
  if (until === undefined) return undefined;
  const reason = rollbackRefusal(t, now);
  const r = t.rollback;
  return {
    possible: reason === undefined,
    ...(reason ? { reason } : {}),
    until: new Date(until).toISOString(),
    ...(r
      ? {
          state: r.state,
          rolledBackBy: r.by,
          rolledBackAt: r.at,
          instanceAction: r.instanceAction,
          ...(r.note ? { note: r.note } : {}),
          ...(r.error ? { error: r.error } : {}),
        }
      : {}),
  };
}

/**
 * When a settled task's view next changes with the clock alone (its rollback window closes, or with it a warm
 * migration's kept point: resume.fromLastPoint); Infinity: never again.
 */
export function viewChangesAt(t: MigrationRecord, now = Date.now()): number {
  const until = rollbackUntil(t);
  if (until === undefined || until <= now) return Infinity;
  return (!t.rollback && t.instanceId) || (t.warm?.pointKept && !t.resume) ? until : Infinity;
}

/** Stops (or terminates) the migrated instance; an instance already gone is reported, not an error. */
export async function settleInstance(ec2: EC2Client, instanceId: string, action: RollbackInstanceAction): Promise<string | undefined> {
  let state: string | undefined;
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    state = out.Reservations?.flatMap((r) => r.Instances ?? [])[0]?.State?.Name;
  } catch (err) {
    if ((err as { name?: string }).name !== 'InvalidInstanceID.NotFound') throw err;
  }
  if (!state || state === 'terminated' || state === 'shutting-down') return `The instance ${instanceId} was already terminated.`;
  if (action === 'terminate') await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  else if (state === 'stopped' || state === 'stopping') return `The instance ${instanceId} was already stopped.`;
  else await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  return undefined;
}

/** Powers the source VM on with the caller's own session (vCenter checks the privilege); one already on is left. */
export async function powerOnSource(vc: Vim25Client, vmId: string): Promise<string | undefined> {
  if ((await powerState(vc, vmId)) === 'poweredOn') return 'The virtual machine was already powered on.';
  await powerOn(vc, vmId);
  return undefined;
}
