// The engine's writes of its tasks to the store: one at a time per task and in order, without making the pipelines
// wait (they call save() mid-step), retried when the store refuses, and told to the observers once stored.
import type { MigrationTaskRepository } from './task-store.ts';
import type { MigrationBefore, TaskObserver } from './observer.ts';
import type { MigrationRecord } from './types.ts';
import { SHUTDOWN, TAKEN_OVER, sleep } from './runtime.ts';

/** Attempts at one task write before its run stops (about 3 s of backoff). */
const STORE_WRITE_ATTEMPTS = 5;

export interface TaskWriterOptions {
  tasks: MigrationTaskRepository;
  observers: readonly TaskObserver[];
  progressSaveMs: number;
  now(): Date;
  log(line: string): void;
  /** Stops the task's run (and its side work): SHUTDOWN when the store keeps refusing, TAKEN_OVER when a peer owns it. */
  stopRun(id: string, reason: typeof SHUTDOWN | typeof TAKEN_OVER): void;
}

export class TaskWriter {
  /** Each task's store writes, one at a time in order (see persist()). */
  private readonly writers = new Map<string, { done: Promise<void>; again: boolean }>();
  private readonly lastSave = new Map<string, number>();
  /** State and phase as last persisted by this process, for the observers' `before`. */
  private readonly persisted = new Map<string, MigrationBefore>();

  constructor(private readonly opts: TaskWriterOptions) {}

  /**
   * Records the task: the write is queued behind the task's earlier ones (persist()), so pipelines call this without
   * waiting; the observers are told once it is stored, with the state stored before (`persisted`).
   */
  save(t: MigrationRecord): void {
    t.updatedAt = this.opts.now().toISOString();
    this.lastSave.set(t.id, Date.now());
    this.persist(t);
  }

  /** Persists at most once per progressSaveMs (progress counters). */
  saveThrottled(t: MigrationRecord): void {
    if (Date.now() - (this.lastSave.get(t.id) ?? 0) >= this.opts.progressSaveMs) this.save(t);
  }

  /** The task as the store holds it now (read by this process, not yet saved by it): the observers' next `before`. */
  remember(t: Pick<MigrationRecord, 'id' | 'state' | 'phase'>, onlyIfNew = false): void {
    if (onlyIfNew && this.persisted.has(t.id)) return;
    this.persisted.set(t.id, { state: t.state, phase: t.phase });
  }

  /** The task left this process (ended, or taken over): nothing of it is kept. */
  forget(id: string): void {
    this.persisted.delete(id);
    this.lastSave.delete(id);
  }

  /** The run ended; the task may still be parked or resumed by this process, so its `before` stays. */
  released(id: string): void {
    this.lastSave.delete(id);
  }

  /** Tells every observer about a task just recorded (a new task has no `before`). */
  inserted(t: MigrationRecord): void {
    this.observe(t, undefined);
  }

  /** Resolves once the task's queued writes are in the store. */
  async flush(id: string): Promise<void> {
    while (this.writers.has(id)) await this.writers.get(id)?.done;
  }

  /** Every write in flight now. */
  pending(): Promise<void>[] {
    return [...this.writers.values()].map((w) => w.done);
  }

  /**
   * One write at a time per task, in order: a save while one is in flight marks the task dirty and the next write
   * takes its latest state (writes of one task never overtake each other; several saves may become one write).
   */
  private persist(t: MigrationRecord): void {
    const w = this.writers.get(t.id);
    if (w) {
      w.again = true;
      return;
    }
    const entry = { done: Promise.resolve(), again: true };
    this.writers.set(t.id, entry);
    entry.done = (async () => {
      try {
        while (entry.again) {
          entry.again = false;
          // A save that came during the write is observed after the next one (observers see what the store holds).
          if ((await this.write(t)) && !entry.again) this.observe(t, this.persisted.get(t.id));
        }
      } finally {
        this.writers.delete(t.id);
      }
    })();
  }

  /**
   * A write the store refused is retried with backoff; if it keeps failing, the run stops where it is (its last
   * stored step is resumed on restart or by a peer): a task never runs on with its steps unrecorded. A write that
   * found the task owned by someone else stops the run at once.
   */
  private async write(t: MigrationRecord): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (await this.opts.tasks.save(t)) return true;
        this.opts.log(`migration ${t.id}: another connector has taken this task over; this connector stops working on it`);
        this.opts.stopRun(t.id, TAKEN_OVER);
        return false;
      } catch (err) {
        if (attempt >= STORE_WRITE_ATTEMPTS) {
          this.opts.log(`migration ${t.id}: the task store refused ${attempt} writes (${String(err)}); the migration stops at its last recorded step and resumes when the connector restarts`);
          this.opts.stopRun(t.id, SHUTDOWN);
          return false;
        }
        this.opts.log(`migration ${t.id}: writing the task failed (${String(err)}); retrying`);
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /** Tells every observer about a persisted save; an observer's failure is logged, never the task's. */
  private observe(t: MigrationRecord, before: MigrationBefore | undefined): void {
    this.persisted.set(t.id, { state: t.state, phase: t.phase });
    for (const o of this.opts.observers) {
      try {
        o.migrationSaved?.(t, before);
      } catch (err) {
        this.opts.log(`migration ${t.id}: an observer failed: ${String(err)}`);
      }
    }
  }
}
