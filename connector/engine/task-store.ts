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
  state?: MigrationState | undefined;
  limit: number;
  offset: number;
}

export interface MigrationTaskRepository {
  /** Records a new task; throws ActiveTaskConflict when its VM already has an active migration. */
  insert(task: MigrationRecord): Promise<MigrationRecord>;
  /**
   * Writes the task. false: no row was written because the task is no longer this connector's (a peer took it
   * over, fleet.ts): its run must stop at once so there are never two writers.
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
