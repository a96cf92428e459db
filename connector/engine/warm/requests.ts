// The user's warm requests (Launch test instance, Finish test, Cut over) on a task's record: whether each is possible
// now (409 WARM_ACTION_NOT_AVAILABLE saying why, when not) and what it records for the pipeline to carry out.
import { AppError } from '../../errors.ts';
import type { MigrationRecord } from '../types.ts';
import type { WarmRecord } from './types.ts';

export function requestTest(t: MigrationRecord, subnetId: string, by: string, at: string): void {
  const w = available(t, 'launch a test instance');
  if (w.cycles === 0) throw notAvailable(t, 'the initial sync has not finished yet, so there is no replicated point to launch from. Wait until the task shows Replicating, then launch the test instance');
  if (w.test) {
    throw notAvailable(t, w.test.state === 'failed' ? 'the last test instance could not be launched. Finish test to clear it, then launch a test instance again' : `a test instance is already ${w.test.state}. Finish that test first`);
  }
  w.test = { state: 'launching', subnetId, requestedBy: by, requestedAt: at };
  delete t.warning;
}

export function requestFinishTest(t: MigrationRecord): void {
  const w = available(t, 'finish the test');
  if (!w.test) throw notAvailable(t, 'no test instance is running. Launch test instance first');
  if (w.test.state === 'launching') throw notAvailable(t, 'the test instance is still being launched. Wait until it is running, then finish the test');
  if (w.test.state === 'finishing') throw notAvailable(t, 'the test is already being finished');
  w.test.state = 'finishing';
}

export function requestCutover(t: MigrationRecord, by: string, at: string): void {
  const w = available(t, 'cut over');
  if (w.cycles === 0) throw notAvailable(t, 'the initial sync has not finished yet. Wait until the task shows Replicating, then cut over');
  if (w.test?.state === 'launching' || w.test?.state === 'finishing') throw notAvailable(t, `the test instance is being ${w.test.state === 'launching' ? 'launched' : 'finished'}. Wait until that ends, then cut over`);
  w.cutover = { requestedBy: by, requestedAt: at };
  delete t.warning;
}

function available(t: MigrationRecord, what: string): WarmRecord {
  if (t.mode !== 'warm' || !t.warm) throw notAvailable(t, `it is a Migrate now migration; only Replicate, then cut over migrations can ${what}`);
  if (t.state === 'queued') throw notAvailable(t, 'it is still queued. Wait until its initial sync has finished');
  if (t.state !== 'running') throw notAvailable(t, `it is ${t.state === 'cancelling' ? 'being stopped' : t.state}`);
  if (t.warm.cutover || !['initial-sync', 'replicating'].includes(t.phase)) throw notAvailable(t, 'it is already cutting over');
  return t.warm;
}

export function notAvailable(t: MigrationRecord, why: string): AppError {
  return new AppError(409, 'WARM_ACTION_NOT_AVAILABLE', `Migration task ${t.id} of ${t.vmName ?? t.vmId} cannot do that now: ${why}.`, { migrationId: t.id, state: t.state, phase: t.phase });
}
