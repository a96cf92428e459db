// The engine's running slots (engine.maxRunning): which task runs next, in what order (due warm cycles, then a lost
// peer's running tasks, then the queue) and what happens when a run ends. In a fleet the store decides every claim
// and takeover (FleetTaskClaims); alone the in-memory queue (start-queue.ts) does. engine.ts answers the API.
import type { MigrationState } from '../contract/index.ts';
import type { AwsSteps } from './aws-steps.ts';
import { RELEASED, TAKEN_OVER, type EngineSettings } from './runtime.ts';
import type { StartQueue } from './start-queue.ts';
import type { FleetTaskClaims } from './task-store.ts';
import type { TaskWriter } from './task-writer.ts';
import type { MigrationRecord } from './types.ts';
import type { WarmScheduling } from './warm/scheduling.ts';

export const TERMINAL: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];

export interface Running {
  task: MigrationRecord;
  abort: AbortController;
  done: Promise<void>;
  /** Taken back from a lost peer while this run was still unwinding: resumed from the store's record after it. */
  readopted?: MigrationRecord;
}

/** This connector in its fleet, once the engine has started (absent alone). */
export interface SlotsFleet {
  me: string;
  claims: FleetTaskClaims;
  vcenterId(): string;
  /** Heartbeats older than this belong to lost connectors. */
  staleBefore(): string;
}

export interface SlotsHost {
  opts: EngineSettings;
  queue: StartQueue;
  writer: TaskWriter;
  warmTasks: WarmScheduling;
  aws: AwsSteps;
  fleet(): SlotsFleet | undefined;
  started(): boolean;
  stopping(): boolean;
  /** Runs the task's pipeline from its recorded step until it ends, parks or is aborted. */
  run(t: MigrationRecord, signal: AbortSignal): Promise<void>;
  save(t: MigrationRecord): void;
  iso(): string;
}

export class Slots {
  readonly running = new Map<string, Running>();
  /** Parked warm tasks whose work is due, in order: they take free slots ahead of the queue. */
  readonly due = new Set<string>();
  private pumping = false;
  private pumpAgain = false;

  constructor(private readonly host: SlotsHost) {}

  /** True while a fill is under way (idle() waits for it). */
  get filling(): boolean {
    return this.pumping;
  }

  /** Slots the next fill gives to queued tasks. */
  free(): number {
    return this.host.opts.maxRunning - this.running.size;
  }

  /** Runs a task from its recorded step (a restart, or a takeover from a lost peer). */
  resume(t: MigrationRecord): void {
    const { warmTasks, writer } = this.host;
    if (this.host.stopping()) return;
    const old = this.running.get(t.id);
    if (old) {
      // This connector's own earlier run: a peer took the task over while this connector's heartbeat was late, and
      // was lost in turn. The store's record is the truth: that run stops, and this one starts once it has unwound
      // (dropping it here left the task owned by this connector and run by nobody).
      old.readopted = t;
      old.abort.abort(TAKEN_OVER);
      return;
    }
    // A parked copy is as stale: the store's record replaces it.
    warmTasks.unpark(t.id);
    writer.remember(t);
    const me = this.host.fleet()?.me;
    if (me) t.connectorId = me;
    // Claimed, then the claimer stopped before starting it.
    if (t.phase === 'queued') this.begin(t);
    // A warm task between cycles waits for its next one; one with a cycle or cutover in flight resumes at once.
    if (t.mode === 'warm' && t.state === 'running' && t.phase === 'replicating' && !t.warm?.cycle) warmTasks.park(t);
    else this.launch(t);
    if (t.mode === 'warm') warmTasks.startTestWork(t);
  }

  /** A task leaves the queue for its first step. */
  begin(t: MigrationRecord): void {
    t.state = 'running';
    t.startedAt ??= this.host.iso();
    const me = this.host.fleet()?.me;
    if (me) t.connectorId = me;
    t.phase = t.mode === 'warm' ? 'initial-sync' : 'exporting';
  }

  /** Fills free slots; one fill at a time (a call during one makes it look again when it ends). */
  pump(): void {
    if (!this.host.started() || this.host.stopping()) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.fill()
      .catch((err: unknown) => this.host.opts.log(`engine: could not start queued migrations: ${String(err)}`))
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  /** A parked warm task's work is due: it takes the next free slot. */
  makeDue(id: string): void {
    this.due.add(id);
    this.pump();
  }

  launch(task: MigrationRecord): void {
    const { writer, warmTasks } = this.host;
    const abort = new AbortController();
    const entry: Running = { task, abort, done: Promise.resolve() };
    this.running.set(task.id, entry);
    entry.done = this.host.run(task, abort.signal).finally(async () => {
      // The slot is free once the task's last write is in the store (and, handed back, its owner cleared there).
      await writer.flush(task.id);
      const keep = abort.signal.reason === RELEASED && !(await this.handBack(task));
      this.running.delete(task.id);
      writer.released(task.id);
      if (keep) {
        this.resume(task);
        return;
      }
      if (abort.signal.reason === TAKEN_OVER || abort.signal.reason === RELEASED || TERMINAL.includes(task.state)) writer.forget(task.id);
      else if (task.mode === 'warm' && task.state === 'running' && !this.host.stopping()) warmTasks.park(task);
      // Into the slot it leaves, before the pump can give that slot to queued work.
      if (entry.readopted) this.resume(entry.readopted);
      this.pump();
    });
  }

  /**
   * Slots waiting for an import slot that a lost peer's migration holds would wait for ever when every slot of the
   * fleet's connectors waits so (that migration is taken over only into a free slot). So a full connector hands one
   * such waiter back to the fleet (it holds no import slot; it resumes at its recorded step wherever a slot frees),
   * and its fill() then takes over the slot holder first, whose import ends and frees the region's slot.
   */
  async makeRoomForLostImports(): Promise<void> {
    const fleet = this.host.fleet();
    const { aws } = this.host;
    if (!fleet || this.free() > 0 || this.host.stopping()) return;
    const waiters = [...this.running.values()].filter((r) => !r.abort.signal.aborted && aws.waitingForImportSlot(r.task.id));
    if (waiters.length === 0) return;
    const regions = new Set(await fleet.claims.lostImportRegions(fleet.me, fleet.vcenterId(), fleet.staleBefore()));
    // The one that came last: the others have waited longer.
    const w = waiters.reverse().find((r) => regions.has(r.task.region) && aws.waitingForImportSlot(r.task.id));
    if (!w || this.free() > 0) return;
    this.host.opts.log(`migration ${w.task.id}: waiting for an import slot in ${w.task.region} that a stopped connector's migration holds; handed back to the fleet so that this connector can finish that one first`);
    w.abort.abort(RELEASED);
  }

  private async fill(): Promise<void> {
    const { opts, writer, warmTasks } = this.host;
    const queue = await this.host.queue.ready();
    while (this.running.size < opts.maxRunning && !this.host.stopping()) {
      const [dueId] = this.due;
      if (dueId !== undefined) {
        this.due.delete(dueId);
        const woken = warmTasks.unpark(dueId);
        if (woken) this.launch(woken);
        continue;
      }
      const fleet = this.host.fleet();
      if (fleet) {
        // A lost peer's running task comes before new work: it has progress (maybe an import slot) to resume. The
        // store decides both in one statement (one round trip per start); the task it hands over is resumed here:
        // one owned here and run by nobody would never end.
        const next = await fleet.claims.adoptOrClaim(fleet.me, fleet.vcenterId(), fleet.staleBefore(), this.host.iso());
        if (!next) return;
        if (next.adopted) {
          opts.log(`migration ${next.task.id}: taken over from a connector that stopped answering; resuming at ${next.task.phase}`);
          this.resume(next.task);
          continue;
        }
        const claimed = next.task;
        queue.remove(claimed.id);
        // Observers see it leave the queue, as when this process starts its own.
        writer.remember({ id: claimed.id, state: 'queued', phase: claimed.phase });
        this.begin(claimed);
        this.host.save(claimed);
        this.launch(claimed);
        continue;
      }
      const id = queue.take();
      if (id === undefined) return;
      // The store stays the truth: a task that left the queue some other way is skipped.
      const next = await opts.tasks.get(id);
      if (next?.state !== 'queued' || this.running.has(id) || warmTasks.parkedTask(id)) continue;
      writer.remember(next);
      this.begin(next);
      next.startedAt = this.host.iso();
      this.host.save(next);
      this.launch(next);
    }
  }

  /** Clears the owner of a task this connector released; false (it keeps running here) when the store refused. */
  private async handBack(task: MigrationRecord): Promise<boolean> {
    const fleet = this.host.fleet()!;
    try {
      if (await fleet.claims.release(task.id, fleet.me)) return true;
      this.host.opts.log(`migration ${task.id}: another connector owns it now`);
      return true;
    } catch (err) {
      this.host.opts.log(`migration ${task.id}: could not hand it back to the fleet (${String(err)}); it goes on here`);
      return false;
    }
  }
}
