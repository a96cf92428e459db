// The region's import limit: at most maxImportsPerRegion ImportImage tasks at once, counted here and, when the store
// keeps slots, across every connector sharing it (a fleet).
import { RELEASED, sleep, TAKEN_OVER, type EngineContext } from './runtime.ts';
import { regionSlots } from './task-store.ts';
import type { MigrationRecord } from './types.ts';

export const WAITING_FOR_CAPACITY = 'waiting for import capacity in the region';

export class ImportSlotGate {
  private readonly slots = new Map<string, ImportSlots>();
  /** Holders waiting for a region's import slot now (a task's own import is held by the task id). */
  private readonly waiting = new Set<string>();

  constructor(private readonly ctx: EngineContext) {}

  /** True while the holder waits for a slot (it holds none). */
  isWaiting(key: string): boolean {
    return this.waiting.has(key);
  }

  /**
   * Waits for a slot of t's region for `key`, saying so in `into.importStatus` meanwhile. Counted in the store when it
   * keeps slots, so the limit holds across a fleet, and in this process (its waiters are woken at once when a slot
   * frees). EC2's limit error is the second guard. The scope is the region: a store serves one AWS account.
   */
  async acquire(t: MigrationRecord, into: Pick<MigrationRecord, 'importStatus'>, key: string, signal: AbortSignal): Promise<void> {
    const { opts } = this.ctx;
    let slots = this.slots.get(t.region);
    if (!slots) this.slots.set(t.region, (slots = new ImportSlots()));
    const local = slots;
    const shared = regionSlots(opts.tasks);
    const free = async (): Promise<boolean> =>
      (local.has(key) || local.size < opts.maxImportsPerRegion) &&
      (!shared || (await shared.takeSlot('import', t.region, key, t.id, opts.maxImportsPerRegion, opts.now().toISOString())));
    try {
      while (!(await free())) {
        if (into.importStatus !== WAITING_FOR_CAPACITY) {
          into.importStatus = WAITING_FOR_CAPACITY;
          this.ctx.save(t);
        }
        this.waiting.add(key);
        // Woken when a slot frees (polling alone waited up to pollMs per hand-over); the poll stays as a fallback.
        await Promise.race([slots.freed(), sleep(opts.pollMs, signal)]);
      }
    } finally {
      this.waiting.delete(key);
    }
    slots.add(key);
  }

  /** Frees the slot here and in the store, unless the task was taken over or handed back (its next runner holds it). */
  async release(t: MigrationRecord, key: string, signal: AbortSignal): Promise<void> {
    const { opts } = this.ctx;
    this.slots.get(t.region)?.delete(key);
    // A task taken over keeps its slot: the peer now running it holds it (as does one handed back to the fleet).
    if (signal.reason !== TAKEN_OVER && signal.reason !== RELEASED) {
      await regionSlots(opts.tasks)
        ?.releaseSlot('import', key)
        .catch((err: unknown) => opts.log(`migration ${t.id}: could not free its import slot (${String(err)}); it is freed when the next import of ${t.region} starts`));
    }
  }
}

/** A region's import slots (holder ids); releasing one wakes the imports waiting in acquire. */
class ImportSlots extends Set<string> {
  private next: { promise: Promise<void>; wake: () => void } | undefined;

  /** Resolves at the next release. */
  freed(): Promise<void> {
    if (!this.next) {
      let wake = (): void => {};
      const promise = new Promise<void>((resolve) => (wake = resolve));
      this.next = { promise, wake };
    }
    return this.next.promise;
  }

  override delete(id: string): boolean {
    const had = super.delete(id);
    const next = this.next;
    if (had && next) {
      this.next = undefined;
      next.wake();
    }
    return had;
  }
}
