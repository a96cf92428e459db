// The scheduler benchmark's outside view (bench/scheduler.ts): every write to the task store is reported as it
// happens, and the observer rebuilds from them the running set, the queue and the import slots per region, so limits
// and the delay from a freed slot to the next start are measured without asking the engine.
import { performance } from 'node:perf_hooks';
import type { MigrationState } from '../connector/contract/index.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';

export const TERMINAL: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];

interface Seen {
  state: MigrationState;
  region: string;
  waitingForImport: boolean;
  holdsImport: boolean;
}

/** Reconstructs the scheduler's occupancy from task writes and times slot releases against the next start. */
export class Observer {
  readonly seen = new Map<string, Seen>();
  running = 0;
  queued = 0;
  maxRunning = 0;
  runningViolations = 0;
  private readonly freeSlots: number[] = [];
  private lastRelease: number | undefined;
  readonly slotDelays: number[] = [];
  readonly slotDelaysRecent: number[] = [];
  private readonly freeImportSlots = new Map<string, number[]>();
  readonly importSlotDelays: number[] = [];
  terminal = 0;
  lastTerminalAt = 0;

  constructor(private readonly limit: number) {}

  write(t: MigrationRecord): void {
    const now = performance.now();
    const before = this.seen.get(t.id);
    const holdsImport = t.phase === 'importing' && t.importTaskId !== undefined && t.imageId === undefined && !TERMINAL.includes(t.state);
    const waitingForImport = t.phase === 'importing' && !t.importTaskId && t.importStatus === 'waiting for import capacity in the region' && !TERMINAL.includes(t.state);
    this.seen.set(t.id, { state: t.state, region: t.region, waitingForImport, holdsImport });
    if (before?.state === t.state && before.holdsImport === holdsImport) return;
    const wasRunning = before?.state === 'running' || before?.state === 'cancelling';
    const isRunning = t.state === 'running' || t.state === 'cancelling';
    if (!before && t.state === 'queued') this.queued += 1;
    if (before?.state === 'queued' && t.state !== 'queued') this.queued -= 1;
    if (!wasRunning && isRunning) {
      this.running += 1;
      if (before?.state === 'queued') {
        const freed = this.freeSlots.shift();
        if (freed !== undefined) this.slotDelays.push(now - freed);
        if (this.lastRelease !== undefined) this.slotDelaysRecent.push(now - this.lastRelease);
      }
    }
    if (wasRunning && !isRunning) {
      this.running -= 1;
      // Only a slot some queued task can take is a scheduling delay (not one freed while nothing waits).
      if (this.queued > this.freeSlots.length) this.freeSlots.push(now);
      this.lastRelease = now;
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
    this.maxRunning = Math.max(this.maxRunning, this.running);
    if (this.running > this.limit) this.runningViolations += 1;
  }

  /** The engine sent ImportImage for `region` (seen by the SDK client, before the emulator's own latency). */
  importSent(region: string, taskId: string | undefined): void {
    // The sender no longer waits, although its record says so until ImportImage returns.
    const s = taskId === undefined ? undefined : this.seen.get(taskId);
    if (s) s.waitingForImport = false;
    const freed = this.freeImportSlots.get(region)?.shift();
    if (freed !== undefined) this.importSlotDelays.push(performance.now() - freed);
  }

  private waitingIn(region: string): number {
    let n = 0;
    for (const s of this.seen.values()) if (s.region === region && s.waitingForImport) n += 1;
    return n;
  }
}
