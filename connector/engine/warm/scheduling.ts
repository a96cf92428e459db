// The engine's side of warm migrations: tasks parked between work units (out of the slots, woken by their timer or a
// request), the test instance work run beside replication, and the user's requests (Launch test instance, Finish
// test, Cut over). engine.ts keeps the slots and the queue; this file decides what a warm task does between its runs.
// In a fleet, a request for a task another connector runs (or this one has not resumed yet) is checked against the
// stored task and recorded in the store; the owner carries it out at its next poll (fleet-poll.ts), exactly once.
import { randomUUID } from 'node:crypto';
import type { MigrationTask } from '../../contract/index.ts';
import { AppError } from '../../errors.ts';
import type { EngineContext } from '../runtime.ts';
import type { FleetTaskClaims, WarmAction, WarmRequest } from '../task-store.ts';
import type { MigrationRecord } from '../types.ts';
import type { WarmPipeline } from './pipeline.ts';
import { notAvailable, requestCutover, requestFinishTest, requestTest } from './requests.ts';

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
  /** Resolves once the task's queued writes are in the store. */
  flush(id: string): Promise<void>;
  /** The store's claims when this connector is part of a fleet. */
  claims(): FleetTaskClaims | undefined;
}

const ACTION_WORDS: Record<WarmAction, string> = { launchTest: 'Launch test instance', finishTest: 'Finish test', cutover: 'Cut over' };

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
    return this.request({ taskId: id, action: 'launchTest', by, subnetId: req.subnetId });
  }

  /** Finish test (warm): terminates the test instance, deregisters its AMI and deletes the AMI's snapshots. */
  finishTest(id: string, by: string): Promise<MigrationTask> {
    return this.request({ taskId: id, action: 'finishTest', by });
  }

  /** Cut over (warm): finishes a running test, powers the source off, runs a final cycle, imports and launches. */
  cutover(id: string, by: string): Promise<MigrationTask> {
    return this.request({ taskId: id, action: 'cutover', by });
  }

  /** The request on a task's record (409 WARM_ACTION_NOT_AVAILABLE when not available now). */
  private apply(t: MigrationRecord, req: Pick<WarmRequest, 'action' | 'by' | 'subnetId'>): void {
    if (req.action === 'launchTest') requestTest(t, req.subnetId ?? '', req.by, this.host.ctx.iso());
    else if (req.action === 'finishTest') requestFinishTest(t);
    else requestCutover(t, req.by, this.host.ctx.iso());
  }

  /** Records a warm request on the live record (409 when not available) and wakes a parked task; returns at once. */
  private async request(req: Omit<WarmRequest, 'id' | 'at'>): Promise<MigrationTask> {
    const id = req.taskId;
    const live = this.host.running(id) ?? this.parkedTask(id);
    const claims = this.host.claims();
    if (!live && claims) return this.forOwner(claims, req);
    const t = live ?? (await this.host.stored(id));
    if (!t) throw new AppError(404, 'NOT_FOUND', `No migration task ${id}.`);
    this.apply(t, req);
    this.host.ctx.save(t);
    this.startTestWork(t);
    this.wake(id);
    return this.host.view(t);
  }

  /**
   * A task this connector does not run: checked against the stored task (the same 409s as on its owner, said at once),
   * then recorded for the owner. This connector writes nothing of the task: its copy is older than the owner's.
   */
  private async forOwner(claims: FleetTaskClaims, req: Omit<WarmRequest, 'id' | 'at'>): Promise<MigrationTask> {
    const tasks = this.host.ctx.opts.tasks;
    const t = await tasks.get(req.taskId);
    if (!t) throw new AppError(404, 'NOT_FOUND', `No migration task ${req.taskId}.`);
    this.apply(t, req);
    if (await claims.requestWarm({ ...req, id: randomUUID(), at: this.host.ctx.iso() })) return this.host.view(t);
    // Not recorded: the task stopped running meanwhile, or the same action already waits for its owner.
    const now = (await tasks.get(req.taskId)) ?? t;
    const why = now.state === 'running' ? `${ACTION_WORDS[req.action]} was already asked for and waits for ${now.connectorId ? `connector ${now.connectorId}` : 'the connector'} running the task` : `it is ${now.state}`;
    throw notAvailable(now, why);
  }

  /**
   * A warm action asked on a peer for a task this connector runs: done as if asked here, then cleared. Cleared only
   * once the change is in the store, so a crash in between repeats it on the next owner, where it is refused (the
   * test or cutover it asked for is already recorded): carried out once. A request no longer possible is told on the task.
   */
  async carryOut(req: WarmRequest): Promise<void> {
    const claims = this.host.claims();
    const t = this.host.running(req.taskId) ?? this.parkedTask(req.taskId);
    // Not resumed here (yet): the next poll looks again.
    if (!t || !claims || this.host.stopping()) return;
    let done = true;
    try {
      this.apply(t, req);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      done = false;
      t.warning = `${ACTION_WORDS[req.action]}, asked by ${req.by} at ${req.at}, was not done: ${err.message}`;
      this.host.ctx.opts.log(`migration ${t.id}: ${t.warning}`);
    }
    this.host.ctx.save(t);
    if (done) {
      this.startTestWork(t);
      this.wake(t.id);
    }
    await this.host.flush(t.id);
    await claims.clearWarmRequest(req);
  }
}
