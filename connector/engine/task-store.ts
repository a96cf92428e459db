// Durable engine tasks in the connector's SQLite file (schema step 0002). Every write is one statement,
// so a SIGKILL leaves either the previous or the next version of a task, never half of one.
import type { Database, Statement } from 'better-sqlite3';
import { openSqlite, prepareCached } from '../store/sqlite/database.ts';
import type { MigrationState } from '../contract/index.ts';
import type { MigrationRecord } from './types.ts';

/** States in which a task holds its VM (migrations) or instance (exports); every other state frees it. */
const HOLDING_STATES = ['queued', 'running', 'cancelling', 'active'] as const;
const ENDED_STATES_SQL = `('completed', 'failed', 'cancelled')`;

/**
 * UPDATE of a task (state, updated_at, data, state again, id): an ended task gives its target up in the same
 * statement; an active one that holds nothing (a duplicate recorded before schema step 0004) takes the hold once free.
 */
const SAVE_SQL = `UPDATE engine_tasks SET state = ?, updated_at = ?, data = ?,
  active_target = CASE WHEN ? IN ${ENDED_STATES_SQL} THEN NULL
    ELSE COALESCE(active_target, (SELECT engine_tasks.vm_id WHERE NOT EXISTS
      (SELECT 1 FROM engine_tasks o WHERE o.kind = engine_tasks.kind AND o.active_target = engine_tasks.vm_id))) END
  WHERE id = ?`;

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

/** The one-active-task-per-target index (schema step 0004) refused the row. */
function isTargetConflict(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'SQLITE_CONSTRAINT_UNIQUE' && (e.message ?? '').includes('active_target');
}

const holds = (state: string): boolean => (HOLDING_STATES as readonly string[]).includes(state);

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
  insert(task: MigrationRecord): MigrationRecord;
  save(task: MigrationRecord): void;
  get(id: string): MigrationRecord | undefined;
  /**
   * The stored task as a record shared between readers (read it, never mutate it): the same object while its row is
   * unchanged, so what is derived from it can be kept with it. Absent: callers use get().
   */
  peek?(id: string): MigrationRecord | undefined;
  /** Newest first. The records may be shared between callers: read them, never mutate them. */
  list(filter: TaskFilter): { items: MigrationRecord[]; total: number };
  /** Tasks in these states, oldest first (FIFO). */
  byStates(states: readonly MigrationState[]): MigrationRecord[];
  close(): void;
}

/** Distinct list pages kept between writes (a page per environment, VM and filter the portal polls). */
const PAGE_CACHE_ENTRIES = 256;
/** Parsed rows kept for reuse by list() and peek() (about 1 KiB each). */
const ROW_CACHE_ENTRIES = 20_000;

export class SqliteMigrationTasks implements MigrationTaskRepository {
  private handle: Database | undefined;
  /** Bumped by every write through this connection; SQLite's data_version covers writes by other connections. */
  private writes = 0;
  private readonly pages = new Map<string, { version: string; page: { items: MigrationRecord[]; total: number } }>();
  /**
   * The last parsed record of each row read for list() or peek(), with the text it was parsed from: a row that has
   * not changed keeps its object across writes to other rows (and so whatever task-json.ts serialised from it).
   */
  private readonly rows = new Map<string, { data: string; rec: MigrationRecord; version: string }>();

  /** The file is opened on first use, so building the connector touches no disk. */
  constructor(private readonly file: string) {}

  private get db(): Database {
    this.handle ??= openSqlite(this.file).db;
    return this.handle;
  }

  private stmt(sql: string): Statement {
    return prepareCached(this.db, sql);
  }

  private version(): string {
    return `${this.writes}:${String(this.stmt('PRAGMA data_version').pluck().get())}`;
  }

  insert(task: MigrationRecord): MigrationRecord {
    const seq = (this.stmt('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM engine_tasks').get() as { n: number }).n;
    const rec = { ...task, seq };
    this.writes += 1;
    try {
      this.stmt(
        `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, active_target, created_at, updated_at, data)
         VALUES (?, 'migration', ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(rec.id, seq, rec.state, rec.environmentId, rec.vmId, holds(rec.state) ? rec.vmId : null, rec.createdAt, rec.updatedAt, JSON.stringify(rec));
    } catch (err) {
      if (!isTargetConflict(err)) throw err;
      throw new ActiveTaskConflict(rec.vmId, this.holderOf(rec.vmId));
    }
    return rec;
  }

  /** Records the vCenter task that shows this migration (vcenter-tasks/): only that field of the JSON changes. */
  setVcenterTask(id: string, moRef: string): void {
    this.writes += 1;
    this.stmt(`UPDATE engine_tasks SET data = json_set(data, '$.vcenterTask', ?) WHERE id = ? AND kind = 'migration'`).run(moRef, id);
  }

  /** The active migration of a VM, if any. */
  holderOf(vmId: string): MigrationRecord | undefined {
    const row = this.stmt(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND active_target = ?`).get(vmId) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as MigrationRecord) : undefined;
  }

  /** See SAVE_SQL: an ended task gives its VM up in the same statement that records the end. */
  save(task: MigrationRecord): void {
    this.writes += 1;
    this.stmt(SAVE_SQL).run(
      task.state,
      task.updatedAt,
      JSON.stringify(task),
      task.state,
      task.id,
    );
  }

  get(id: string): MigrationRecord | undefined {
    const row = this.stmt(`SELECT data FROM engine_tasks WHERE id = ? AND kind = 'migration'`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as MigrationRecord) : undefined;
  }

  peek(id: string): MigrationRecord | undefined {
    // Read at this version of the table: the row cannot have changed.
    const version = this.version();
    const kept = this.rows.get(id);
    if (kept?.version === version) return kept.rec;
    const row = this.stmt(`SELECT id, data FROM engine_tasks WHERE id = ? AND kind = 'migration'`).get(id) as { id: string; data: string } | undefined;
    return row ? this.shared(row, version) : undefined;
  }

  /** The row's record, reused while its stored text is the same. */
  private shared(row: { id: string; data: string }, version: string): MigrationRecord {
    const kept = this.rows.get(row.id);
    if (kept && kept.data === row.data) {
      kept.version = version;
      return kept.rec;
    }
    const rec = JSON.parse(row.data) as MigrationRecord;
    if (this.rows.size >= ROW_CACHE_ENTRIES) this.rows.clear();
    this.rows.set(row.id, { data: row.data, rec, version });
    return rec;
  }

  list(f: TaskFilter): { items: MigrationRecord[]; total: number } {
    // Many open portal tabs poll the same page; it is read from SQLite once per change of the table.
    const key = JSON.stringify([f.environmentId, f.environmentIds, f.vmId, f.state, f.limit, f.offset]);
    const version = this.version();
    const hit = this.pages.get(key);
    if (hit && hit.version === version) return hit.page;
    const where = [`kind = 'migration'`];
    const args: string[] = [];
    if (f.environmentId) (where.push('environment_id = ?'), args.push(f.environmentId));
    // One statement whatever the number of environments.
    if (f.environmentIds) (where.push('environment_id IN (SELECT value FROM json_each(?))'), args.push(JSON.stringify(f.environmentIds)));
    if (f.vmId) (where.push('vm_id = ?'), args.push(f.vmId));
    if (f.state) (where.push('state = ?'), args.push(f.state));
    const clause = where.join(' AND ');
    const total = (this.stmt(`SELECT COUNT(*) AS n FROM engine_tasks WHERE ${clause}`).get(...args) as { n: number }).n;
    const rows = this.stmt(`SELECT id, data FROM engine_tasks WHERE ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args, f.limit, f.offset) as { id: string; data: string }[];
    const page = { items: rows.map((r) => this.shared(r, version)), total };
    if (this.pages.size >= PAGE_CACHE_ENTRIES) this.pages.clear();
    this.pages.set(key, { version, page });
    return page;
  }

  byStates(states: readonly MigrationState[]): MigrationRecord[] {
    if (states.length === 0) return [];
    const rows = this.stmt(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND state IN (${states.map(() => '?').join(',')}) ORDER BY seq`).all(...states) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as MigrationRecord);
  }

  close(): void {
    this.pages.clear();
    this.rows.clear();
    if (this.handle?.open) this.handle.close();
    this.handle = undefined;
  }
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
  createdAt: string;
  updatedAt: string;
}

/** Export tasks and engine settings, in the same file and table family as migrations. */
export class SqliteExportTasks {
  private handle: Database | undefined;

  constructor(private readonly file: string) {}

  private get db(): Database {
    this.handle ??= openSqlite(this.file).db;
    return this.handle;
  }

  /**
   * Records an export. An active one is recorded only if its instance has no other active export (unique index,
   * ActiveTaskConflict) and, when `maxActiveInRegion` is given, fewer than that many are active in its region
   * (checked by the same INSERT): returns undefined when the region is full.
   */
  insert(rec: Omit<ExportRecord, 'seq'>, maxActiveInRegion?: number): ExportRecord | undefined {
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM engine_tasks').get() as { n: number }).n;
    const full = { ...rec, seq };
    let inserted: number;
    try {
      inserted = prepareCached(
        this.db,
        `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, active_target, created_at, updated_at, data)
         SELECT ?, 'export', ?, ?, ?, ?, ?, ?, ?, ?
         WHERE ? IS NULL OR (SELECT COUNT(*) FROM engine_tasks WHERE kind = 'export' AND state IN ('active', 'cancelling') AND json_extract(data, '$.region') = ?) < ?`,
      ).run(
        full.id, seq, full.state, full.environmentId, full.instanceId, holds(full.state) ? full.instanceId : null, full.createdAt, full.updatedAt, JSON.stringify(full),
        maxActiveInRegion ?? null, full.region, maxActiveInRegion ?? 0,
      ).changes;
    } catch (err) {
      if (!isTargetConflict(err)) throw err;
      throw new ActiveTaskConflict(full.instanceId, this.holderOf(full.instanceId));
    }
    if (inserted === 0) {
      // The region is full; an export of the same instance among them is the better answer.
      const holder = this.holderOf(full.instanceId);
      if (holder) throw new ActiveTaskConflict(full.instanceId, holder);
      return undefined;
    }
    return full;
  }

  /** Records the vCenter task that shows this export (vcenter-tasks/): only that field of the JSON changes. */
  setVcenterTask(id: string, moRef: string): void {
    prepareCached(this.db, `UPDATE engine_tasks SET data = json_set(data, '$.vcenterTask', ?) WHERE id = ? AND kind = 'export'`).run(moRef, id);
  }

  /** The active export of an instance, if any. */
  holderOf(instanceId: string): ExportRecord | undefined {
    const row = prepareCached(this.db, `SELECT data FROM engine_tasks WHERE kind = 'export' AND active_target = ?`).get(instanceId) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ExportRecord) : undefined;
  }

  /** See SAVE_SQL: an ended export gives its instance up in the same statement that records the end. */
  save(rec: ExportRecord): void {
    prepareCached(this.db, SAVE_SQL).run(
      rec.state,
      rec.updatedAt,
      JSON.stringify(rec),
      rec.state,
      rec.id,
    );
  }

  /** Drops a reservation EC2 never accepted (nothing was exported). */
  remove(id: string): void {
    prepareCached(this.db, `DELETE FROM engine_tasks WHERE id = ? AND kind = 'export'`).run(id);
  }

  get(id: string): ExportRecord | undefined {
    const row = this.db.prepare(`SELECT data FROM engine_tasks WHERE id = ? AND kind = 'export'`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ExportRecord) : undefined;
  }

  /** Newest first, created at or after `since` (ISO). */
  since(since: string): ExportRecord[] {
    // Reservations EC2 has not accepted yet (no export task id) are not exports yet.
    const rows = this.db.prepare(`SELECT data FROM engine_tasks WHERE kind = 'export' AND created_at >= ? AND json_extract(data, '$.exportTaskId') <> '' ORDER BY seq DESC`).all(since) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as ExportRecord);
  }

  active(): ExportRecord[] {
    const rows = this.db.prepare(`SELECT data FROM engine_tasks WHERE kind = 'export' AND state IN ('active', 'cancelling') ORDER BY seq`).all() as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as ExportRecord);
  }

  getSetting(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM engine_settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setSetting(key: string, value: string, at: string): void {
    this.db.prepare('INSERT INTO engine_settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(key, value, at);
  }

  /** A setting with when it was last written. */
  getSettingRecord(key: string): { value: string; updatedAt: string } | undefined {
    const row = this.db.prepare('SELECT value, updated_at FROM engine_settings WHERE key = ?').get(key) as { value: string; updated_at: string } | undefined;
    return row ? { value: row.value, updatedAt: row.updated_at } : undefined;
  }

  /**
   * Compare-and-set in one transaction: writes `values` only if `key` still holds `expected` (undefined: unset).
   * Returns the value found when it differs, so two writers cannot silently overwrite each other.
   */
  replaceSettings(key: string, expected: string | undefined, values: Record<string, string>, at: string): { ok: true } | { ok: false; current: string | undefined } {
    const put = this.db.prepare('INSERT INTO engine_settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    return this.db
      .transaction((): { ok: true } | { ok: false; current: string | undefined } => {
        const current = this.getSetting(key);
        if (current !== expected) return { ok: false, current };
        for (const [k, v] of Object.entries(values)) put.run(k, v, at);
        return { ok: true };
      })
      .immediate();
  }

  close(): void {
    if (this.handle?.open) this.handle.close();
    this.handle = undefined;
  }
}
