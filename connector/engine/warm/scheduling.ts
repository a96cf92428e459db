// The engine's side of warm migrations: tasks parked between work units (out of the slots, woken by their timer or a
// request), the test instance work run beside replication, and the user's requests (Launch test instance, Finish
// test, Cut over). engine.ts keeps the slots and the queue; this file decides what a warm task does between its runs.
import type { MigrationTask } from '../../contract/index.ts';
import { AppError } from '../../errors.ts';
import type { EngineContext } from '../runtime.ts';
import type { MigrationRecord } from '../types.ts';
import type { WarmPipeline } from './pipeline.ts';

/** What the scheduler lends this file. */
export interface WarmHost {
  ctx: EngineContext;
  pipeline: WarmPipeline;
  stopping(): boolean;
  /** The in-memory record of a task running in a slot. */
  running(id: string): MigrationRecord | undefined;
  /** A stored task this process is about to change (engine.stored). */
  stored(id: string): Promise<MigrationRecord | undefined>;
  view(t: MigrationRecord): MigrationTask;
  /** A parked task's work is due: it takes the next free slot. */
  makeDue(id: string): void;
}

/** A warm task between work units: in state running, out of the slots, woken by its timer or a request. */
interface Parked {
  task: MigrationRecord;
  timer: NodeJS.Timeout | undefined;
}

interface SideJob {
  abort: AbortController;
  done: Promise<void>;
}

export class WarmScheduling {
  private readonly parked = new Map<string, Parked>();
  /** Test instance launches and finishes, run beside replication (they hold no slot: mostly waiting on EC2). */
  private readonly sideJobs = new Map<string, SideJob>();

  constructor(private readonly host: WarmHost) {}

  // ---------- parked tasks ----------

  parkedTask(id: string): MigrationRecord | undefined {
    return this.parked.get(id)?.task;
  }

  /** A warm task leaves its slot until its next cycle is due (or a request wakes it). */
  park(task: MigrationRecord): void {
    const wait = Math.max(0, this.host.pipeline.dueAt(task) - this.host.ctx.opts.now().getTime());
    const p: Parked = { task, timer: undefined };
    this.parked.set(task.id, p);
    // Capped so a changed clock or interval is noticed; the task re-parks itself when woken early.
    p.timer = setTimeout(() => this.host.makeDue(task.id), Math.min(wait, 2 ** 31 - 1));
    p.timer.unref?.();
  }

  /** Takes a parked task out of parking (to run it in a slot); undefined when it is not parked. */
  unpark(id: string): MigrationRecord | undefined {
    const p = this.parked.get(id);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.parked.delete(id);
    return p.task;
  }

  /** Wakes a parked task at once (a request waits for it); false when it is not parked. */
  wake(id: string): boolean {
    const p = this.parked.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    this.host.makeDue(id);
    return true;
  }

  // ---------- test instance work beside replication ----------

  /** Runs a warm task's pending test launch or finish beside its replication (one at a time per task). */
  startTestWork(t: MigrationRecord): void {
    const work = this.host.pipeline.testWork(t);
    if (!work || this.sideJobs.has(t.id) || this.host.stopping()) return;
    const abort = new AbortController();
    const job: SideJob = { abort, done: Promise.resolve() };
    this.sideJobs.set(t.id, job);
    job.done = work(abort.signal)
      .catch((err: unknown) => this.host.ctx.opts.log(`migration ${t.id}: test instance work stopped: ${String(err)}`))
      .finally(() => {
        this.sideJobs.delete(t.id);
        // A finish asked for while the launch ran.
        if (!abort.signal.aborted) this.startTestWork(t);
      });
  }

  abortTestWork(id: string, reason: string): void {
    this.sideJobs.get(id)?.abort.abort(reason);
  }

  /** Resolves when the task's test work (if any) has stopped. */
  async testWorkDone(id: string): Promise<void> {
    await this.sideJobs.get(id)?.done;
  }

  /** Stops every timer and hands the side jobs to the shutdown (which aborts and awaits them). */
  stop(): [string, SideJob][] {
    for (const p of this.parked.values()) clearTimeout(p.timer);
    return [...this.sideJobs.entries()];
  }

  // ---------- requests ----------

  /** Launch test instance (warm): from the latest completed cycle, in `req.subnetId`; replication continues. */
  launchTest(id: string, req: { subnetId: string }, by: string): Promise<MigrationTask> {
    return this.request(id, (t) => this.host.pipeline.requestTest(t, req.subnetId, by));
  }

  /** Finish test (warm): terminates the test instance, deregisters its AMI and deletes the AMI's snapshots. */
  finishTest(id: string, by: string): Promise<MigrationTask> {
    return this.request(id, (t) => this.host.pipeline.requestFinishTest(t, by));
  }

  /** Cut over (warm): finishes a running test, powers the source off, runs a final cycle, imports and launches. */
  cutover(id: string, by: string): Promise<MigrationTask> {
    return this.request(id, (t) => this.host.pipeline.requestCutover(t, by));
  }

  /** Records a warm request on the live record (409 when not available) and wakes a parked task; returns at once. */
  private async request(id: string, apply: (t: MigrationRecord) => void): Promise<MigrationTask> {
    const t = this.host.running(id) ?? this.parkedTask(id) ?? (await this.host.stored(id));
    if (!t) throw new AppError(404, 'NOT_FOUND', `No migration task ${id}.`);
    apply(t);
    this.host.ctx.save(t);
    this.startTestWork(t);
    this.wake(id);
    return this.host.view(t);
  }
}
