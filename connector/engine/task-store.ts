// The engine's durable tasks as repositories. Every method is async so the same engine runs on the connector's own
// SQLite file (store/sqlite/) or on a PostgreSQL database shared by a fleet of connectors (store/postgres/).
import type { MigrationState } from '../contract/index.ts';
import type { MigrationRecord } from './types.ts';
import type { RollbackRecord } from './rollback.ts';

/** States in which a task holds its VM (migrations) or instance (exports); every other state frees it. */
export const HOLDING_STATES = ['queued', 'running', 'cancelling', 'active'] as const;
export const ENDED_STATES = ['completed', 'failed', 'cancelled'] as const;

export const holds = (state: string): boolean => (HOLDING_STATES as readonly string[]).includes(state);

/**
 * Refused insert: the VM or instance already has an active task. `holder` is that task, read right after the
 * refusal (absent only if it ended in between).
 */
export class ActiveTaskConflict<T extends { id: string }> extends Error {
  constructor(
    readonly target: string,
    readonly holder: T | undefined,
  ) {
    super(`${target} already has an active task${holder ? ` (${holder.id})` : ''}`);
    this.name = 'ActiveTaskConflict';
  }
}

export interface TaskFilter {
  environmentId?: string | undefined;
  /** Only tasks of these environments (a user's visible ones); empty matches nothing. */
  environmentIds?: readonly string[] | undefined;
  vmId?: string | undefined;
  /** Only tasks of this vCenter or recorded without one (''): VM IDs are unique only within a vCenter. */
  vcenterId?: string | undefined;
  state?: MigrationState | undefined;
  limit: number;
  offset: number;
}

/** A cancel asked on a connector that does not run the task; its owner carries it out at its next poll. */
export interface CancelRequest {
  id: string;
  by: string;
  at: string;
}

/** Warm actions a user can ask of a replicating migration (Launch test instance, Finish test, Cut over). */
export type WarmAction = 'launchTest' | 'finishTest' | 'cutover';

/** A warm action asked on a connector that does not run the task; its owner carries it out at its next poll. */
export interface WarmRequest {
  taskId: string;
  action: WarmAction;
  /** Tells this request from a later one for the same action: the owner clears only the one it carried out. */
  id: string;
  by: string;
  at: string;
  /** Launch test instance: the subnet asked for. */
  subnetId?: string;
}

/**
 * Tasks shared by the connectors of a fleet (issue 14): who runs which is decided by the store, each decision in one
 * statement, so two connectors never both take a task. Times are ISO-8601 UTC.
 */
export interface FleetTaskClaims {
  /**
   * Takes the next queued migration of `vcenterId` (or recorded before tasks had a vCenter) for connector `me`:
   * priority DESC, then FIFO, skipping tasks whose start window has not opened at `now`. It is running and owned by
   * `me` when returned (its phase is still 'queued': the caller starts it).
   */
  claimNext(me: string, vcenterId: string, now: string): Promise<MigrationRecord | undefined>;
  /**
   * Takes over, for `me`, the running and cancelling migrations of `vcenterId` whose owner is lost: unowned ones, and
   * those of a connector whose heartbeat is older than `staleBefore` (or that has none); with `mine` (a start), unowned
   * ones and those `me` owns instead (a lost peer's are then taken by fill(), into free slots like any other takeover).
   * Owner swapped in the same statement; the records are returned to be resumed from their recorded step: those
   * holding an import slot first (their import runs at EC2 and counts against the region's limit), then oldest first.
   * With `limit`, at most that many: an adopter takes no more than its free slots.
   */
  adopt(me: string, vcenterId: string, staleBefore: string, mine?: boolean, limit?: number): Promise<MigrationRecord[]>;
  /**
   * A free slot's next task in one statement (one round trip): one lost connector's running task, taken over as
   * adopt(me, vcenterId, staleBefore, false, 1) would take it; only when there is none, the next queued one, claimed as
   * claimNext(me, vcenterId, now) would. `adopted` says which (an adopted task resumes at its recorded step).
   */
  adoptOrClaim(me: string, vcenterId: string, staleBefore: string, now: string): Promise<{ task: MigrationRecord; adopted: boolean } | undefined>;
  /**
   * The regions where a running migration of `vcenterId` whose owner is lost (as for adopt) holds an import slot:
   * a connector whose slots all wait for those slots hands one of its waiting migrations back (release) to make room.
   */
  lostImportRegions(me: string, vcenterId: string, staleBefore: string): Promise<string[]>;
  /**
   * Hands a running migration `me` owns back to the fleet (owner cleared; state and recorded step unchanged): the
   * next connector with a free slot adopts it. false when `me` no longer owns it.
   */
  release(id: string, me: string): Promise<boolean>;
  /** Records a cancel for the task's owner; false when the task is not queued, running or cancelling. */
  requestCancel(id: string, by: string, at: string): Promise<boolean>;
  /** Cancels asked for tasks `me` owns. */
  cancelRequests(me: string): Promise<CancelRequest[]>;
  /**
   * Records a warm action for the task's owner in one statement: only while the task is running and no request for the
   * same action waits (duplicates asked at once: one is recorded). false otherwise.
   */
  requestWarm(req: WarmRequest): Promise<boolean>;
  /** Warm actions waiting for running tasks `me` owns, oldest first. */
  warmRequests(me: string): Promise<WarmRequest[]>;
  /** Drops a request its owner has acted on (only that one: a newer request for the same action stays). */
  clearWarmRequest(req: Pick<WarmRequest, 'taskId' | 'action' | 'id'>): Promise<void>;
  /** The queued migrations' ids, priorities and start windows, oldest first (from columns: no record is parsed). */
  queuedOrder(): Promise<Pick<MigrationRecord, 'id' | 'priority' | 'notBefore'>[]>;
}

/**
 * EC2's per-region limits counted in the store, so they hold across every connector sharing it (issue 14). A slot
 * belongs to a task (`taskId`; `holder` is the task or one of its imports): a connector that takes the task over finds
 * the slot already held, and slots of tasks no longer running are dropped when a slot is next taken.
 */
export interface RegionSlots {
  /** Takes a slot for `holder` if fewer than `max` are held in `scope`; true also when `holder` holds one already. */
  takeSlot(kind: 'import' | 'export', scope: string, holder: string, taskId: string, max: number, at: string): Promise<boolean>;
  releaseSlot(kind: 'import' | 'export', holder: string): Promise<void>;
  /** Slots held now in `scope` (tests, status). */
  slotsHeld(kind: 'import' | 'export', scope: string): Promise<number>;
}

export function regionSlots(repo: MigrationTaskRepository): RegionSlots | undefined {
  const r = repo as MigrationTaskRepository & Partial<RegionSlots>;
  return r.takeSlot && r.releaseSlot && r.slotsHeld ? (r as RegionSlots) : undefined;
}

/** Tasks saved at or after `since` (ISO-8601), oldest first: what the notifications' startup sweep looks at. */
export interface SavedSince<T> {
  savedSince(since: string): Promise<T[]>;
}

/** The repository's fleet claims, when it has them (bench wrappers may not). */
export function fleetClaims(repo: MigrationTaskRepository): FleetTaskClaims | undefined {
  const r = repo as MigrationTaskRepository & Partial<FleetTaskClaims>;
  return r.claimNext && r.adopt && r.adoptOrClaim && r.requestCancel && r.cancelRequests && r.requestWarm && r.warmRequests && r.clearWarmRequest && r.queuedOrder ? (r as FleetTaskClaims) : undefined;
}

export interface MigrationTaskRepository {
  /** Records a new task; throws ActiveTaskConflict when its VM already has an active migration. */
  insert(task: MigrationRecord): Promise<MigrationRecord>;
  /**
   * Writes the task. false: no row was written because the task is owned by another connector than the record's
   * `connectorId` (a peer took it over): its run must stop at once so there are never two writers.
   */
  save(task: MigrationRecord): Promise<boolean>;
  get(id: string): Promise<MigrationRecord | undefined>;
  /**
   * The stored task as a record shared between readers (read it, never mutate it): the same object while its row is
   * unchanged, so what is derived from it can be kept with it. Absent: callers use get().
   */
  peek?(id: string): Promise<MigrationRecord | undefined>;
  /** Newest first. The records may be shared between callers: read them, never mutate them. */
  list(filter: TaskFilter): Promise<{ items: MigrationRecord[]; total: number }>;
  /** Tasks in these states, oldest first (FIFO). */
  byStates(states: readonly MigrationState[]): Promise<MigrationRecord[]>;
  /** Records the vCenter task that shows this migration (vcenter-tasks/): only that field changes. */
  setVcenterTask(id: string, moRef: string): Promise<void>;
  /**
   * Issue 16: marks a completed migration as rolling back, atomically: only if it is completed and has no rollback
   * (or only a failed one). false: another request holds or made it. Only the `rollback` field changes.
   */
  claimRollback(id: string, mark: RollbackRecord): Promise<boolean>;
  /** Records how the claimed rollback ended (only the `rollback` field changes). */
  setRollback(id: string, mark: RollbackRecord): Promise<void>;
  close(): Promise<void>;
}

/** An instance export (CreateInstanceExportTask) as the connector tracks it. */
export interface ExportRecord {
  id: string;
  seq: number;
  state: 'active' | 'cancelling' | 'cancelled' | 'completed' | 'failed';
  environmentId: string;
  region: string;
  instanceId: string;
  exportTaskId: string;
  bucket: string;
  s3Prefix: string;
  s3Key?: string;
  statusMessage?: string;
  requestedBy: string;
  cancelledBy?: string;
  cancelledAt?: string;
  /** The vCenter task (moRef value) that shows this export in Recent Tasks. */
  vcenterTask?: string;
  /** The connector that started it (fleet). */
  connectorId?: string;
  createdAt: string;
  updatedAt: string;
}

export type SettingsSwap = { ok: true } | { ok: false; current: string | undefined };

/** Export tasks and the engine's settings. */
export interface ExportTaskRepository {
  /**
   * Records an export. An active one is recorded only if its instance has no other active export
   * (ActiveTaskConflict) and, when `maxActiveInRegion` is given, fewer than that many are active in its region
   * (checked atomically with the insert): returns undefined when the region is full.
   */
  insert(rec: Omit<ExportRecord, 'seq'>, maxActiveInRegion?: number): Promise<ExportRecord | undefined>;
  setVcenterTask(id: string, moRef: string): Promise<void>;
  /** The active export of an instance, if any. */
  holderOf(instanceId: string): Promise<ExportRecord | undefined>;
  save(rec: ExportRecord): Promise<void>;
  /** Drops a reservation EC2 never accepted (nothing was exported). */
  remove(id: string): Promise<void>;
  get(id: string): Promise<ExportRecord | undefined>;
  /** Newest first, created at or after `since` (ISO); reservations EC2 has not accepted yet are left out. */
  since(since: string): Promise<ExportRecord[]>;
  active(): Promise<ExportRecord[]>;
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string, at: string): Promise<void>;
  /** A setting with when it was last written. */
  getSettingRecord(key: string): Promise<{ value: string; updatedAt: string } | undefined>;
  /**
   * Compare-and-set in one transaction: writes `values` only if `key` still holds `expected` (undefined: unset).
   * Returns the value found when it differs, so two writers cannot silently overwrite each other.
   */
  replaceSettings(key: string, expected: string | undefined, values: Record<string, string>, at: string): Promise<SettingsSwap>;
  close(): Promise<void>;
}
