// The migration engine: a durable FIFO of migrations with a fixed number of running slots. Each task is a
// resumable step machine run by its pipeline (cold.ts: export → S3 → import → launch; warm/: replicate → cut over);
// this file takes the API's changes (submit, cancel, warm actions) and runs the step machine; slots.ts schedules the
// runs, task-reads.ts answers the reads, start-queue.ts orders the waiting ones, task-writer.ts records them.
import { randomUUID } from 'node:crypto';
import type { MigrationTask } from '../contract/index.ts';
import { failureMessage, MigrationError } from './failures.ts';
import { ActiveTaskConflict, fleetClaims, type FleetTaskClaims, type TaskFilter } from './task-store.ts';
import type { MigrationRecord, MigrationSubmission } from './types.ts';
import { TaskReads } from './task-reads.ts';
import { AwsSteps } from './aws-steps.ts';
import { ColdPipeline } from './cold.ts';
import { WarmPipeline } from './warm/pipeline.ts';
import { WarmScheduling } from './warm/scheduling.ts';
import { StartQueue } from './start-queue.ts';
import { TaskWriter } from './task-writer.ts';
import { FleetPoll } from './fleet-poll.ts';
import { ResumePoints } from './warm/resume.ts';
import { Slots, TERMINAL } from './slots.ts';
import { CANCEL, RELEASED, SHUTDOWN, TAKEN_OVER, engineSettings, sleep, withVcenter, type EngineContext, type EngineSettings, type MigrationEngineOptions } from './runtime.ts';

/** How long stop() waits for running tasks to unwind after their abort. */
const STOP_WAIT_MS = 20_000;

export { ENVIRONMENT_TAG, SOURCE_VM_NAME_TAG, SOURCE_VM_TAG, TASK_TAG } from './aws-launch.ts';
export type { EngineVcenterSession, MigrationEngineOptions } from './runtime.ts';
export { AWS_CALL_ROUNDS, AwsRetryError, MigrationError, awsRetryText, isRetryableAwsError, sdkAttempts } from './failures.ts';
export { migrationAlreadyRunning } from './task-reads.ts';

export class MigrationEngine {
  private readonly opts: EngineSettings;
  private readonly queue: StartQueue;
  /** The running slots: what runs next and what follows a run's end (slots.ts). */
  private readonly slots: Slots;
  private readonly writer: TaskWriter;
  private readonly ctx: EngineContext;
  private readonly aws: AwsSteps;
  private readonly cold: ColdPipeline;
  private readonly warm: WarmPipeline;
  /** Parked warm tasks, their test instance work and the user's warm requests (warm/scheduling.ts). */
  private readonly warmTasks: WarmScheduling;
  /** The task views the API answers with (task-reads.ts). */
  private readonly reads: TaskReads;
  /** Kept replication points of completed warm migrations, released when their rollback window closes. */
  readonly resumePoints: ResumePoints;
  /** This connector's fleet id (options.connectorId), read once by start(). */
  private me: string | undefined;
  /** The store's claims when this connector takes its work from the store (it has a fleet id): see fleet-poll.ts. */
  private claims: FleetTaskClaims | undefined;
  private fleet: FleetPoll | undefined;
  private started = false;
  private stopping = false;
  private updatingFlag = false;

  constructor(options: MigrationEngineOptions) {
    this.opts = engineSettings(options);
    this.writer = new TaskWriter({
      tasks: this.opts.tasks,
      observers: this.opts.observers,
      progressSaveMs: this.opts.progressSaveMs,
      now: () => this.opts.now(),
      log: (line) => this.opts.log(line),
      stopRun: (id, reason) => {
        this.slots.running.get(id)?.abort.abort(reason);
        if (reason === TAKEN_OVER) this.warmTasks.abortTestWork(id, reason);
      },
    });
    this.ctx = {
      opts: this.opts,
      save: (t) => this.save(t),
      saveThrottled: (t) => this.writer.saveThrottled(t),
      iso: () => this.iso(),
    };
    this.queue = new StartQueue({ load: () => this.opts.tasks.byStates(['queued']), now: () => this.opts.now(), wake: () => this.slots.pump() });
    this.aws = new AwsSteps(this.ctx);
    this.cold = new ColdPipeline(this.ctx, this.aws);
    this.warm = new WarmPipeline(this.ctx, this.aws);
    this.warmTasks = new WarmScheduling({
      ctx: this.ctx,
      pipeline: this.warm,
      stopping: () => this.stopping,
      running: (id) => this.slots.running.get(id)?.task,
      stored: (id) => this.stored(id),
      view: (t) => this.reads.view(t),
      makeDue: (id) => this.slots.makeDue(id),
      flush: (id) => this.writer.flush(id),
      claims: () => this.claims,
    });
    this.slots = new Slots({
      opts: this.opts,
      queue: this.queue,
      writer: this.writer,
      warmTasks: this.warmTasks,
      aws: this.aws,
      fleet: () =>
        this.claims && this.me && this.fleet
          ? { me: this.me, claims: this.claims, vcenterId: () => this.vcenterId(), staleBefore: () => this.fleet!.staleBefore() }
          : undefined,
      started: () => this.started,
      stopping: () => this.stopping,
      run: (t, signal) => this.run(t, signal),
      save: (t) => this.save(t),
      iso: () => this.iso(),
    });
    this.reads = new TaskReads({
      tasks: this.opts.tasks,
      queue: this.queue,
      slots: this.slots,
      warmTasks: this.warmTasks,
      now: () => this.opts.now(),
      fleetVcenterId: () => (this.claims ? this.vcenterId() : undefined),
    });
    this.resumePoints = new ResumePoints({
      tasks: this.opts.tasks,
      ec2: (region) => this.opts.ec2(region),
      vcenter: (t, use) => withVcenter(this.ctx, t, use),
      activeFor: (vmId) => this.activeFor(vmId),
      ours: (t) => !this.claims || (t.vcenterId ?? '') === '' || t.vcenterId === this.vcenterId(),
      now: () => this.opts.now(),
      log: (line) => this.opts.log(line),
    });
  }

  /** Maintenance flag: while set, new migrations are refused (running ones continue). */
  get updating(): boolean {
    return this.updatingFlag;
  }

  setUpdating(on: boolean): void {
    this.updatingFlag = on;
  }

  /** Resumes every non-terminal task from its last persisted step, then fills free slots from the queue. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.me = await this.opts.connectorId?.();
    this.claims = this.me ? fleetClaims(this.opts.tasks) : undefined;
    if (this.claims && this.me) {
      const me = this.me;
      this.fleet = new FleetPoll({
        claims: this.claims,
        me,
        vcenterId: () => this.vcenterId(),
        leaseMs: this.opts.leaseMs,
        pollMs: this.opts.fleetPollMs,
        now: () => this.opts.now(),
        log: (line) => this.opts.log(line),
        cancel: async (req) => void (await this.cancel(req.id, req.by)),
        warm: (req) => this.warmTasks.carryOut(req),
        makeRoom: () => this.slots.makeRoomForLostImports(),
        pump: async () => {
          const claims = this.claims;
          await (await this.queue.ready()).reload(claims && (() => claims.queuedOrder()));
          this.slots.pump();
        },
      });
    }
    // In a fleet: what this connector owns, and what lost peers of its vCenter left running; alone: every running task.
    const resumable = this.claims && this.me ? await this.claims.adopt(this.me, this.vcenterId(), this.fleet!.staleBefore(), true) : await this.opts.tasks.byStates(['running', 'cancelling']);
    for (const t of resumable) this.slots.resume(t);
    this.fleet?.start();
    this.resumePoints.start();
    this.slots.pump();
  }

  /** The fleet vCenter id this connector serves ('' alone). */
  private vcenterId(): string {
    return this.opts.vcenterId?.() ?? '';
  }

  /** Stops working without changing any task: a later start() resumes them. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.resumePoints.stop();
    await this.fleet?.stop();
    const sideJobs = this.warmTasks.stop();
    this.queue.stop();
    const runs = [...this.slots.running.entries(), ...sideJobs];
    for (const [, r] of runs) r.abort.abort(SHUTDOWN);
    // Bounded: a run that does not honour its abort must not hold the shutdown (systemd would kill it anyway); its
    // task stays where the store has it and resumes on the next start, as after a SIGKILL.
    const still = new Set(runs.map(([id]) => id));
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, STOP_WAIT_MS)));
    await Promise.race([Promise.allSettled(runs.map(([id, r]) => r.done.finally(() => still.delete(id)))), bound]);
    clearTimeout(timer);
    if (still.size > 0) this.opts.log(`Stopping: ${[...still].join(', ')} did not stop within ${STOP_WAIT_MS / 1000} s; they resume on the next start.`);
    await Promise.allSettled(this.writer.pending());
  }

  /** A new task id (callers that must prepare something for the task before submitting it). */
  static newId(): string {
    return `mig-${randomUUID()}`;
  }

  /**
   * Records and schedules a migration. A VM has at most one active migration: the store refuses a second one in
   * the statement that would record it, answered here as 409 MIGRATION_ALREADY_RUNNING naming the running one.
   */
  async submit(submission: MigrationSubmission, id: string = MigrationEngine.newId()): Promise<MigrationTask> {
    // A resume's seed becomes the warm record, not a field of its own.
    const { resumeOf, ...sub } = submission;
    const now = this.iso();
    const queue = await this.queue.ready();
    const due = sub.notBefore === undefined || Date.parse(sub.notBefore) <= this.opts.now().getTime();
    // Tasks in the queue are not launched yet: this one starts at once only if they and it fit in the free slots.
    const startsNow = this.slots.running.size + queue.size < this.opts.maxRunning && due;
    const record = await this.insertExclusive({
      id,
      seq: 0,
      idKind: startsNow ? 'import' : 'queued',
      state: 'queued',
      phase: 'queued',
      ...sub,
      ...(sub.privateIpAddress === undefined ? { privateIpAddress: undefined } : {}),
      mode: sub.mode ?? 'cold',
      ...(this.claims ? { vcenterId: this.vcenterId() } : {}),
      ...(sub.mode === 'warm'
        ? {
            warm: resumeOf
              ? WarmPipeline.resumed(sub.replicationIntervalMinutes, sub.cutoverShutdown, sub.imagePath, resumeOf)
              : WarmPipeline.initial(sub.replicationIntervalMinutes, sub.cutoverShutdown, sub.imagePath),
          }
        : {}),
      bucket: this.opts.stagingBucket(sub.region),
      prefix: `vm2ec2/${id}/`,
      exportAttempts: 0,
      disks: [],
      createdAt: now,
      updatedAt: now,
    } as MigrationRecord);
    queue.add(record);
    this.slots.pump();
    return this.reads.view(this.reads.live(record.id) ?? record, await this.reads.queuePositions());
  }

  private async insertExclusive(record: MigrationRecord): Promise<MigrationRecord> {
    try {
      const inserted = await this.opts.tasks.insert(record);
      this.writer.inserted(inserted);
      return inserted;
    } catch (err) {
      if (!(err instanceof ActiveTaskConflict)) throw err;
      throw await this.reads.alreadyRunning(record.vmId, err.holder as MigrationRecord | undefined);
    }
  }

  /** The VM's active migration, if any. Advisory (pre-flight): submit() is where one per VM is enforced. */
  activeFor(vmId: string): Promise<MigrationTask | undefined> {
    return this.reads.activeFor(vmId);
  }

  get(id: string): Promise<MigrationTask | undefined> {
    return this.reads.get(id);
  }

  list(filter: TaskFilter): Promise<{ items: MigrationTask[]; total: number }> {
    return this.reads.list(filter);
  }

  /** GET /migrations as sent: a page's JSON, most of it kept from earlier polls (task-json.ts). */
  listJson(filter: TaskFilter): Promise<Buffer> {
    return this.reads.listJson(filter);
  }

  /** GET /migrations/{id} as sent, with the task's environment for the caller's permission check. */
  getJson(id: string): Promise<{ environmentId: string; json: string } | undefined> {
    return this.reads.getJson(id);
  }

  /** Launch test instance (warm): from the latest completed cycle, in `req.subnetId`; replication continues. */
  launchTest(id: string, req: { subnetId: string }, by: string): Promise<MigrationTask> {
    return this.warmTasks.launchTest(id, req, by);
  }

  /** Finish test (warm): terminates the test instance, deregisters its AMI and deletes the AMI's snapshots. */
  finishTest(id: string, by: string): Promise<MigrationTask> {
    return this.warmTasks.finishTest(id, by);
  }

  /** Cut over (warm): finishes a running test, powers the source off, runs a final cycle, imports and launches. */
  cutover(id: string, by: string): Promise<MigrationTask> {
    return this.warmTasks.cutover(id, by);
  }

  /** Cancels a task in any non-terminal phase, recording who asked; a terminal or cancelling task is returned unchanged. */
  async cancel(id: string, cancelledBy: string): Promise<MigrationTask | undefined> {
    const t = this.reads.live(id) ?? (await this.stored(id));
    if (!t) return undefined;
    // Looked up after the read: the task may have started meanwhile.
    const live = this.slots.running.get(id);
    if (TERMINAL.includes(t.state) || t.state === 'cancelling') return this.reads.view(t, await this.reads.queuePositions());
    if (this.claims && !live && !this.warmTasks.parkedTask(id)) {
      // Run by a peer (or claimed by one meanwhile): its owner carries the cancel out at its next poll.
      if (!(await this.claims.requestCancel(id, cancelledBy, this.iso()))) return this.reads.view(t);
      if (t.state !== 'queued') return this.reads.view({ ...t, state: 'cancelling', cancelRequested: true, cancelledBy, cancelledAt: this.iso() });
    }
    t.cancelRequested = true;
    t.cancelledBy = cancelledBy;
    t.cancelledAt = this.iso();
    if (t.state === 'queued') {
      (await this.queue.ready()).remove(t.id);
      this.finish(t, 'cancelled');
      await this.writer.flush(t.id);
      this.writer.forget(t.id);
      return this.reads.view(t);
    }
    t.state = 'cancelling';
    this.save(t);
    live?.abort.abort(CANCEL);
    this.warmTasks.abortTestWork(id, CANCEL);
    if (this.warmTasks.unpark(id)) {
      // Stop replication between cycles: the undo starts now, without waiting for a slot.
      this.slots.due.delete(id);
      this.slots.launch(t);
    }
    return this.reads.view(t);
  }

  /** A stored task this process is about to change: its state as stored is the observers' `before`. */
  private async stored(id: string): Promise<MigrationRecord | undefined> {
    const t = await this.opts.tasks.get(id);
    // A task that started while it was read is changed through its live record.
    const live = this.reads.live(id);
    if (live) return live;
    if (t) this.writer.remember(t, true);
    return t;
  }

  /** Resolves when no task is running or queued and every write is done (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.slots.running.values()];
      const writes = this.writer.pending();
      if (busy.length === 0 && writes.length === 0 && !this.slots.filling && (await this.opts.tasks.byStates(['queued'])).length === 0) return;
      await Promise.allSettled([...busy.map((r) => r.done), ...writes]);
      if (busy.length === 0) await sleep(20);
    }
  }

  // ---------- the step machine ----------

  private async run(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    try {
      if (t.cancelRequested) throw new MigrationError('cancelled');
      await (t.mode === 'warm' ? this.warm : this.cold).run(t, signal);
      if (t.phase === 'done') this.finish(t, 'completed');
      // A cancel that came as the unit returned (a warm unit returns to be parked): neither running nor parked, it
      // would stay 'cancelling' for good, so it is undone now.
      else if (t.cancelRequested) throw new MigrationError('cancelled');
    } catch (err) {
      if (signal.reason === SHUTDOWN || signal.reason === TAKEN_OVER || signal.reason === RELEASED) return;
      if (t.cancelRequested) {
        await this.warmTasks.testWorkDone(t.id);
        await (t.mode === 'warm' ? this.warm : this.cold).undo(t, true);
        this.finish(t, 'cancelled');
        return;
      }
      t.error = failureMessage(err, t);
      this.opts.log(`migration ${t.id} failed: ${t.error}`);
      this.warmTasks.abortTestWork(t.id, CANCEL);
      await this.warmTasks.testWorkDone(t.id);
      await (t.mode === 'warm' ? this.warm : this.cold).undo(t, false);
      this.finish(t, 'failed');
    }
  }

  // ---------- persistence ----------

  private finish(t: MigrationRecord, state: 'completed' | 'failed' | 'cancelled'): void {
    t.state = state;
    t.finishedAt = this.iso();
    this.save(t);
    this.opts.onTaskEnd?.(t);
  }

  private save(t: MigrationRecord): void {
    this.writer.save(t);
  }

  private iso(): string {
    return this.opts.now().toISOString();
  }
}

/** 10,000 parts must always suffice: part size from the expected stream size (see disk-copy.ts). */
export { partSizeFor } from './disk-copy.ts';
