// The scheduler benchmark's outside view (bench/scheduler.ts, bench/scheduler-fleet.ts): every write to the task store
// is reported as it happens (in a fleet, by each connector process, replayed here in time order), and the observer
// rebuilds from them the running set per connector, the queue and the import slots per region, so limits and the
// delay from a freed slot to the next start are measured without asking the engine.
import { performance } from 'node:perf_hooks';
import type { MigrationState } from '../connector/contract/index.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';

export const TERMINAL: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];

/** Milliseconds since the epoch with sub-millisecond resolution: comparable between processes of one machine. */
export const clock = (): number => performance.timeOrigin + performance.now();

/** What the observer reads of a task write (a fleet connector sends only this much to the benchmark). */
export type ObservedWrite = Pick<MigrationRecord, 'id' | 'state' | 'phase' | 'region' | 'importTaskId' | 'imageId' | 'importStatus' | 'connectorId'>;

export const observedWrite = (t: MigrationRecord): ObservedWrite => ({
  id: t.id,
  state: t.state,
  phase: t.phase,
  region: t.region,
  ...(t.importTaskId === undefined ? {} : { importTaskId: t.importTaskId }),
  ...(t.imageId === undefined ? {} : { imageId: t.imageId }),
  ...(t.importStatus === undefined ? {} : { importStatus: t.importStatus }),
  ...(t.connectorId === undefined ? {} : { connectorId: t.connectorId }),
});

interface Seen {
  state: MigrationState;
  region: string;
  owner: string;
  waitingForImport: boolean;
  holdsImport: boolean;
}

/** The owner of a running task handed back to the fleet until a connector takes it over. */
const UNOWNED = '(handed back)';

const isRunningState = (s: MigrationState | undefined) => s === 'running' || s === 'cancelling';

/** Reconstructs the scheduler's occupancy from task writes and times slot releases against the next start. */
export class Observer {
  readonly seen = new Map<string, Seen>();
  /** Running tasks per connector (the task's connectorId; '' for an engine without one). */
  private readonly runningBy = new Map<string, number>();
  running = 0;
  queued = 0;
  /** The most running at once on one connector. */
  maxRunning = 0;
  runningViolations = 0;
  /** Of those, the ones where a takeover put the new owner over its limit (it resumed more than it had free). */
  takeoverViolations = 0;
  private readonly freeSlots = new Map<string, number[]>();
  private readonly lastRelease = new Map<string, number>();
  readonly slotDelays: number[] = [];
  readonly slotDelaysRecent: number[] = [];
  private readonly freeImportSlots = new Map<string, number[]>();
  readonly importSlotDelays: number[] = [];
  /** Tasks that moved, running, from one connector to another (a takeover), with when the new owner first wrote. */
  readonly moves: { id: string; from: string; to: string; at: number }[] = [];
  terminal = 0;
  lastTerminalAt = 0;

  constructor(private readonly limit: number) {}

  /** A connector handed a running task back to its fleet (owner cleared): it leaves that connector's slots. */
  released(id: string): void {
    const s = this.seen.get(id);
    if (!s || !isRunningState(s.state) || s.owner === UNOWNED) return;
    this.bump(s.owner, -1);
    s.owner = UNOWNED;
    this.bump(UNOWNED, 1);
  }

  /** Returns the owner's running count after the change. */
  private bump(owner: string, by: number, takeover = false): number {
    const n = (this.runningBy.get(owner) ?? 0) + by;
    this.runningBy.set(owner, n);
    this.running += by;
    // Handed back and not yet taken over: running on no connector, so no connector's limit.
    if (owner === UNOWNED) return n;
    this.maxRunning = Math.max(this.maxRunning, n);
    if (by > 0 && n > this.limit) {
      this.runningViolations += 1;
      if (takeover) this.takeoverViolations += 1;
    }
    return n;
  }

  write(t: ObservedWrite, now = clock()): void {
    const before = this.seen.get(t.id);
    // A task never returns to the queue: a submitter's report of its insert that arrives after a peer's claim of the
    // task (each stamps its own report once its statement returned) changes nothing.
    if (before && before.state !== 'queued' && t.state === 'queued') return;
    const owner = t.connectorId ?? '';
    const holdsImport = t.phase === 'importing' && t.importTaskId !== undefined && t.imageId === undefined && !TERMINAL.includes(t.state);
    const waitingForImport = t.phase === 'importing' && !t.importTaskId && t.importStatus === 'waiting for import capacity in the region' && !TERMINAL.includes(t.state);
    this.seen.set(t.id, { state: t.state, region: t.region, owner, waitingForImport, holdsImport });
    const wasRunning = isRunningState(before?.state);
    const isRunning = isRunningState(t.state);
    if (wasRunning && isRunning && before!.owner !== owner) {
      // Taken over: the task leaves its lost owner's slots for its new owner's (no slot was freed or taken by choice).
      this.bump(before!.owner, -1);
      this.bump(owner, 1, true);
      this.moves.push({ id: t.id, from: before!.owner, to: owner, at: now });
      // A takeover goes into a free slot of its new owner (before any queued task): that slot's next start.
      const freed = this.freeSlots.get(owner)?.shift();
      if (freed !== undefined) this.slotDelays.push(now - freed);
    }
    if (before?.state === t.state && before.holdsImport === holdsImport) return;
    if (!before && t.state === 'queued') this.queued += 1;
    if (before?.state === 'queued' && t.state !== 'queued') this.queued -= 1;
    if (!wasRunning && isRunning) {
      this.bump(owner, 1);
      if (before?.state === 'queued') {
        const freed = this.freeSlots.get(owner)?.shift();
        if (freed !== undefined) this.slotDelays.push(now - freed);
        const recent = this.lastRelease.get(owner);
        if (recent !== undefined) this.slotDelaysRecent.push(now - recent);
      }
    }
    if (wasRunning && !isRunning) {
      const left = this.bump(before!.owner, -1);
      // Only a slot some queued task can take is a scheduling delay: not one freed while nothing waits, nor one
      // ended while the connector still ran its limit or more (after a takeover).
      if (left < this.limit) {
        let free = this.freeSlots.get(before!.owner);
        if (!free) this.freeSlots.set(before!.owner, (free = []));
        if (this.queued > free.length) free.push(now);
        this.lastRelease.set(before!.owner, now);
      }
    }
    if (before?.holdsImport && !holdsImport) {
      let q = this.freeImportSlots.get(t.region);
      if (!q) this.freeImportSlots.set(t.region, (q = []));
      if (this.waitingIn(t.region) > q.length) q.push(now);
    }
    if (TERMINAL.includes(t.state) && !TERMINAL.includes(before?.state ?? 'queued')) {
      this.terminal += 1;
      this.lastTerminalAt = now;
    }
  }

  /** The engine sent ImportImage for `region` (seen by the SDK client, before the emulator's own latency). */
  importSent(region: string, taskId: string | undefined, now = clock()): void {
    // The sender no longer waits, although its record says so until ImportImage returns.
    const s = taskId === undefined ? undefined : this.seen.get(taskId);
    if (s) s.waitingForImport = false;
    const freed = this.freeImportSlots.get(region)?.shift();
    if (freed !== undefined) this.importSlotDelays.push(now - freed);
  }

  private waitingIn(region: string): number {
    let n = 0;
    for (const s of this.seen.values()) if (s.region === region && s.waitingForImport) n += 1;
    return n;
  }
}
