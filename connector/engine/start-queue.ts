// The engine's queue of migrations waiting for a slot: which starts next (priority, then FIFO, never before its start
// window) and each one's position. Held in memory, read from the store once: reading it on every submit, start and
// list parsed every queued record (~10 ms at 1,000 queued), which made a burst of 1,000 submits quadratic.
import type { MigrationRecord } from './types.ts';

interface QueueOrder {
  priority: number;
  /** Epoch ms; 0 when the task may start at once. */
  notBefore: number;
}
const NO_ORDER: QueueOrder = { priority: 0, notBefore: 0 };

function queueOrder(t: Pick<MigrationRecord, 'priority' | 'notBefore'>): QueueOrder {
  const start = t.notBefore === undefined ? 0 : Date.parse(t.notBefore);
  return { priority: t.priority ?? 0, notBefore: Number.isFinite(start) ? start : 0 };
}

/** What the queue keeps of a queued task. */
export type QueuedOrder = Pick<MigrationRecord, 'id' | 'priority' | 'notBefore'>;

export interface StartQueueOptions {
  /** The queued tasks in the store, oldest first. */
  load(): Promise<MigrationRecord[]>;
  now(): Date;
  /** Called when the earliest start window of a waiting task opens. */
  wake(): void;
}

export class StartQueue {
  private loaded: Promise<this> | undefined;
  /** Queued ids in FIFO order, each with its priority and start (waves, issue 14). */
  private readonly order = new Map<string, QueueOrder>();
  private windowTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: StartQueueOptions) {}

  /** The queue, read from the store on first use. */
  ready(): Promise<this> {
    this.loaded ??= this.opts.load().then((records) => {
      for (const t of records) if (!this.order.has(t.id)) this.order.set(t.id, queueOrder(t));
      return this;
    });
    return this.loaded;
  }

  /**
   * Reads the queue from the store again (a fleet: peers claim and submit tasks this process never sees), from
   * `order` when given (the claim columns only, no record parsed).
   */
  async reload(order?: () => Promise<QueuedOrder[]>): Promise<void> {
    const records = await (order ?? this.opts.load)();
    this.order.clear();
    for (const t of records) this.order.set(t.id, queueOrder(t));
    this.loaded = Promise.resolve(this);
  }

  get size(): number {
    return this.order.size;
  }

  add(t: MigrationRecord): void {
    this.order.set(t.id, queueOrder(t));
  }

  remove(id: string): void {
    this.order.delete(id);
  }

  /**
   * Takes the queued task to start next: the highest priority whose start window is open, FIFO within a priority.
   * When only tasks waiting for their window remain, wake() is called as the earliest one opens.
   */
  take(): string | undefined {
    const now = this.opts.now().getTime();
    let best: string | undefined;
    let bestPriority = -Infinity;
    let earliest = Infinity;
    for (const [id, o] of this.order) {
      if (o.notBefore > now) {
        earliest = Math.min(earliest, o.notBefore);
        continue;
      }
      if (o.priority > bestPriority) {
        best = id;
        bestPriority = o.priority;
      }
    }
    if (best !== undefined) this.order.delete(best);
    else if (earliest < Infinity) {
      clearTimeout(this.windowTimer);
      // Capped so a changed clock is noticed; an early wake finds nothing due and sets the timer again.
      this.windowTimer = setTimeout(() => this.opts.wake(), Math.min(Math.max(earliest - now, 10), 60_000));
      this.windowTimer.unref?.();
    }
    return best;
  }

  /**
   * Queue positions in start order: priority first, FIFO within a priority (start windows aside), counted after the
   * `freeSlots` tasks that take the free slots as the engine fills them.
   */
  positions(freeSlots: number): Map<string, number> {
    const ids = [...this.order.keys()];
    const index = new Map(ids.map((id, i) => [id, i]));
    const priority = (id: string): number => (this.order.get(id) ?? NO_ORDER).priority;
    ids.sort((a, b) => priority(b) - priority(a) || (index.get(a) ?? 0) - (index.get(b) ?? 0));
    let position = -Math.max(0, freeSlots);
    const out = new Map<string, number>();
    for (const id of ids) if (++position > 0) out.set(id, position);
    return out;
  }

  stop(): void {
    clearTimeout(this.windowTimer);
  }
}
