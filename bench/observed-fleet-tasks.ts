// The task store with its fleet claims and region slots, as the scheduler benchmark watches it: unchanged, reporting
// every write (a claim is one: it starts the task), every takeover and every slot taken, as they happen. The engine
// finds the claims on it (fleetClaims, regionSlots), so it schedules through the store exactly as the connector does.
import type { CancelRequest, FleetTaskClaims, MigrationTaskRepository, RegionSlots } from '../connector/engine/task-store.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';
import { ObservedTasks } from './observed-tasks.ts';

export interface FleetTaskEvents {
  write(t: MigrationRecord): void;
  /** Running tasks of a lost connector this connector took over (owner swapped in the store). */
  adopted(ts: MigrationRecord[]): void;
}

export class ObservedFleetTasks extends ObservedTasks implements FleetTaskClaims, RegionSlots {
  constructor(
    private readonly repo: MigrationTaskRepository & FleetTaskClaims & RegionSlots,
    private readonly events: FleetTaskEvents,
  ) {
    super(repo, (t) => events.write(t));
  }
  async claimNext(me: string, vcenterId: string, now: string): Promise<MigrationRecord | undefined> {
    const t = await this.repo.claimNext(me, vcenterId, now);
    if (t) this.events.write(t);
    return t;
  }
  async adopt(me: string, vcenterId: string, staleBefore: string, mine?: boolean): Promise<MigrationRecord[]> {
    const ts = await this.repo.adopt(me, vcenterId, staleBefore, mine);
    if (ts.length > 0) this.events.adopted(ts);
    return ts;
  }
  requestCancel(id: string, by: string, at: string): Promise<boolean> {
    return this.repo.requestCancel(id, by, at);
  }
  cancelRequests(me: string): Promise<CancelRequest[]> {
    return this.repo.cancelRequests(me);
  }
  queuedOrder(): Promise<Pick<MigrationRecord, 'id' | 'priority' | 'notBefore'>[]> {
    return this.repo.queuedOrder();
  }
  takeSlot(kind: 'import' | 'export', scope: string, holder: string, taskId: string, max: number, at: string): Promise<boolean> {
    return this.repo.takeSlot(kind, scope, holder, taskId, max, at);
  }
  releaseSlot(kind: 'import' | 'export', holder: string): Promise<void> {
    return this.repo.releaseSlot(kind, holder);
  }
  slotsHeld(kind: 'import' | 'export', scope: string): Promise<number> {
    return this.repo.slotsHeld(kind, scope);
  }
}
