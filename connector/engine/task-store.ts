// Durable engine tasks in the connector's SQLite file (schema step 0002). Every write is one statement,
// so a SIGKILL leaves either the previous or the next version of a task, never half of one.
import type { Database, Statement } from 'better-sqlite3';
import { openSqlite, prepareCached } from '../store/sqlite/database.ts';
import type { MigrationState } from '../contract/index.ts';
import type { MigrationRecord } from './types.ts';

export interface TaskFilter {
  environmentId?: string | undefined;
  vmId?: string | undefined;
  state?: MigrationState | undefined;
  limit: number;
  offset: number;
}

export interface MigrationTaskRepository {
  insert(task: MigrationRecord): MigrationRecord;
  save(task: MigrationRecord): void;
  get(id: string): MigrationRecord | undefined;
  /** Newest first. The records may be shared between callers: read them, never mutate them. */
  list(filter: TaskFilter): { items: MigrationRecord[]; total: number };
  /** Tasks in these states, oldest first (FIFO). */
  byStates(states: readonly MigrationState[]): MigrationRecord[];
  close(): void;
}

/** Distinct list pages kept between writes (a page per environment, VM and filter the portal polls). */
const PAGE_CACHE_ENTRIES = 256;

export class SqliteMigrationTasks implements MigrationTaskRepository {
  private handle: Database | undefined;
  /** Bumped by every write through this connection; SQLite's data_version covers writes by other connections. */
  private writes = 0;
  private readonly pages = new Map<string, { version: string; page: { items: MigrationRecord[]; total: number } }>();

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
    this.stmt(
      `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, created_at, updated_at, data)
       VALUES (?, 'migration', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(rec.id, seq, rec.state, rec.environmentId, rec.vmId, rec.createdAt, rec.updatedAt, JSON.stringify(rec));
    return rec;
  }

  save(task: MigrationRecord): void {
    this.writes += 1;
    this.stmt('UPDATE engine_tasks SET state = ?, updated_at = ?, data = ? WHERE id = ?').run(task.state, task.updatedAt, JSON.stringify(task), task.id);
  }

  get(id: string): MigrationRecord | undefined {
    const row = this.stmt(`SELECT data FROM engine_tasks WHERE id = ? AND kind = 'migration'`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as MigrationRecord) : undefined;
  }

  list(f: TaskFilter): { items: MigrationRecord[]; total: number } {
    // Many open portal tabs poll the same page; it is read from SQLite once per change of the table.
    const key = JSON.stringify([f.environmentId, f.vmId, f.state, f.limit, f.offset]);
    const version = this.version();
    const hit = this.pages.get(key);
    if (hit && hit.version === version) return hit.page;
    const where = [`kind = 'migration'`];
    const args: string[] = [];
    if (f.environmentId) (where.push('environment_id = ?'), args.push(f.environmentId));
    if (f.vmId) (where.push('vm_id = ?'), args.push(f.vmId));
    if (f.state) (where.push('state = ?'), args.push(f.state));
    const clause = where.join(' AND ');
    const total = (this.stmt(`SELECT COUNT(*) AS n FROM engine_tasks WHERE ${clause}`).get(...args) as { n: number }).n;
    const rows = this.stmt(`SELECT data FROM engine_tasks WHERE ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args, f.limit, f.offset) as { data: string }[];
    const page = { items: rows.map((r) => JSON.parse(r.data) as MigrationRecord), total };
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

  insert(rec: Omit<ExportRecord, 'seq'>): ExportRecord {
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM engine_tasks').get() as { n: number }).n;
    const full = { ...rec, seq };
    this.db
      .prepare(
        `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, created_at, updated_at, data)
         VALUES (?, 'export', ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(full.id, seq, full.state, full.environmentId, full.instanceId, full.createdAt, full.updatedAt, JSON.stringify(full));
    return full;
  }

  save(rec: ExportRecord): void {
    this.db.prepare('UPDATE engine_tasks SET state = ?, updated_at = ?, data = ? WHERE id = ?').run(rec.state, rec.updatedAt, JSON.stringify(rec), rec.id);
  }

  get(id: string): ExportRecord | undefined {
    const row = this.db.prepare(`SELECT data FROM engine_tasks WHERE id = ? AND kind = 'export'`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ExportRecord) : undefined;
  }

  /** Newest first, created at or after `since` (ISO). */
  since(since: string): ExportRecord[] {
    const rows = this.db.prepare(`SELECT data FROM engine_tasks WHERE kind = 'export' AND created_at >= ? ORDER BY seq DESC`).all(since) as { data: string }[];
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
