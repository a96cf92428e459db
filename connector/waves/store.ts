// Waves on the store's database (schema step 0009): SQLite for a single connector, PostgreSQL for a fleet. A wave's
// migrations are engine tasks; the wave row keeps only what belongs to the wave itself.
import { join, resolve } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { MigrationMode } from '../contract/index.ts';
import { openSqlite, prepareCached } from '../store/sqlite/database.ts';
import type { Store } from '../store/index.ts';

/** One VM of a wave: its engine task, and its disks' size when the wave was created (bytes left before the copy reports). */
export interface WaveTaskRef {
  id: string;
  vmId: string;
  vmName: string;
  diskBytes: number;
}

export interface WaveRecord {
  id: string;
  name: string;
  priority: number;
  /** ISO-8601 UTC. */
  notBefore?: string;
  notAfter?: string;
  environmentId: string;
  mode: MigrationMode;
  createdBy: string;
  createdAt: string;
  cancelledBy?: string;
  cancelledAt?: string;
  /** Set once the not-after time passed and the wave's unstarted migrations were cancelled. */
  windowClosedAt?: string;
  tasks: WaveTaskRef[];
}

export interface WaveFilter {
  environmentId?: string | undefined;
  /** Only waves of these environments (a user's visible ones); empty matches nothing. */
  environmentIds?: readonly string[] | undefined;
  limit: number;
  offset: number;
}

export interface WaveRepository {
  insert(wave: WaveRecord): Promise<void>;
  /** Only to undo a wave whose creation failed half-way. */
  delete(id: string): Promise<void>;
  get(id: string): Promise<WaveRecord | undefined>;
  /** Newest first. */
  list(filter: WaveFilter): Promise<{ items: WaveRecord[]; total: number }>;
  /** Records the cancel once (the first caller's name and time stay); the wave as stored afterwards. */
  markCancelled(id: string, by: string, at: string): Promise<WaveRecord | undefined>;
  /** Waves whose not-after time is at or before `now` and that were not swept yet. */
  windowsClosedBy(now: string): Promise<WaveRecord[]>;
  /** Claims the sweep of a wave's closed window: true for exactly one caller across the fleet. */
  markWindowClosed(id: string, at: string): Promise<boolean>;
  close(): Promise<void>;
}

interface Row {
  id: string;
  name: string;
  priority: number;
  not_before: string | null;
  not_after: string | null;
  environment_id: string;
  mode: MigrationMode;
  created_by: string;
  created_at: string;
  cancelled_by: string | null;
  cancelled_at: string | null;
  window_closed_at: string | null;
  tasks: string;
}

const toRecord = (r: Row): WaveRecord => ({
  id: r.id,
  name: r.name,
  priority: Number(r.priority),
  ...(r.not_before !== null ? { notBefore: r.not_before } : {}),
  ...(r.not_after !== null ? { notAfter: r.not_after } : {}),
  environmentId: r.environment_id,
  mode: r.mode,
  createdBy: r.created_by,
  createdAt: r.created_at,
  ...(r.cancelled_by !== null ? { cancelledBy: r.cancelled_by } : {}),
  ...(r.cancelled_at !== null ? { cancelledAt: r.cancelled_at } : {}),
  ...(r.window_closed_at !== null ? { windowClosedAt: r.window_closed_at } : {}),
  tasks: JSON.parse(r.tasks) as WaveTaskRef[],
});

const COLUMNS = 'id, name, priority, not_before, not_after, environment_id, mode, created_by, created_at, tasks';
const values = (w: WaveRecord) => [w.id, w.name, w.priority, w.notBefore ?? null, w.notAfter ?? null, w.environmentId, w.mode, w.createdBy, w.createdAt, JSON.stringify(w.tasks)];

/** The WHERE clause of a list filter, with `?` placeholders (renumbered for PostgreSQL). */
function listWhere(f: WaveFilter): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.environmentId !== undefined) {
    parts.push('environment_id = ?');
    params.push(f.environmentId);
  }
  if (f.environmentIds !== undefined) {
    if (f.environmentIds.length === 0) parts.push('1 = 0');
    else {
      parts.push(`environment_id IN (${f.environmentIds.map(() => '?').join(', ')})`);
      params.push(...f.environmentIds);
    }
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export class SqliteWaves implements WaveRepository {
  private handle: Database | undefined;
  /** The file is opened on first use, so building the connector touches no disk. */
  constructor(private readonly file: string) {}

  private get db(): Database {
    this.handle ??= openSqlite(this.file).db;
    return this.handle;
  }
  private stmt(sql: string) {
    return prepareCached(this.db, sql);
  }

  async insert(w: WaveRecord): Promise<void> {
    this.stmt(`INSERT INTO waves (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...values(w));
  }
  async delete(id: string): Promise<void> {
    this.stmt('DELETE FROM waves WHERE id = ?').run(id);
  }
  async get(id: string): Promise<WaveRecord | undefined> {
    const row = this.stmt('SELECT * FROM waves WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }
  async list(f: WaveFilter): Promise<{ items: WaveRecord[]; total: number }> {
    const where = listWhere(f);
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM waves ${where.sql}`).get(...where.params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM waves ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`).all(...where.params, f.limit, f.offset) as Row[];
    return { items: rows.map(toRecord), total };
  }
  async markCancelled(id: string, by: string, at: string): Promise<WaveRecord | undefined> {
    this.stmt('UPDATE waves SET cancelled_by = ?, cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL').run(by, at, id);
    return this.get(id);
  }
  async windowsClosedBy(now: string): Promise<WaveRecord[]> {
    const rows = this.stmt('SELECT * FROM waves WHERE not_after IS NOT NULL AND window_closed_at IS NULL AND not_after <= ? ORDER BY not_after').all(now) as Row[];
    return rows.map(toRecord);
  }
  async markWindowClosed(id: string, at: string): Promise<boolean> {
    return this.stmt('UPDATE waves SET window_closed_at = ? WHERE id = ? AND window_closed_at IS NULL').run(at, id).changes === 1;
  }
  async close(): Promise<void> {
    this.handle?.close();
    this.handle = undefined;
  }
}

/** What the PostgreSQL store hands out (a pg pool or client). */
export interface PgQuery {
  query<R extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount?: number | null }>;
}

/** `?` placeholders as PostgreSQL's $1, $2, … */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

export class PgWaves implements WaveRepository {
  constructor(private readonly db: PgQuery) {}

  private async rows(sql: string, params: unknown[]): Promise<Row[]> {
    return (await this.db.query<Row>(numbered(sql), params)).rows;
  }

  async insert(w: WaveRecord): Promise<void> {
    await this.db.query(numbered(`INSERT INTO waves (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), values(w));
  }
  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM waves WHERE id = $1', [id]);
  }
  async get(id: string): Promise<WaveRecord | undefined> {
    const [row] = await this.rows('SELECT * FROM waves WHERE id = ?', [id]);
    return row && toRecord(row);
  }
  async list(f: WaveFilter): Promise<{ items: WaveRecord[]; total: number }> {
    const where = listWhere(f);
    const [count] = await this.rows(`SELECT COUNT(*)::int AS n FROM waves ${where.sql}`, where.params) as unknown as { n: number }[];
    const rows = await this.rows(`SELECT * FROM waves ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [...where.params, f.limit, f.offset]);
    return { items: rows.map(toRecord), total: Number(count?.n ?? 0) };
  }
  async markCancelled(id: string, by: string, at: string): Promise<WaveRecord | undefined> {
    await this.db.query(numbered('UPDATE waves SET cancelled_by = ?, cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL'), [by, at, id]);
    return this.get(id);
  }
  async windowsClosedBy(now: string): Promise<WaveRecord[]> {
    return (await this.rows('SELECT * FROM waves WHERE not_after IS NOT NULL AND window_closed_at IS NULL AND not_after <= ? ORDER BY not_after', [now])).map(toRecord);
  }
  async markWindowClosed(id: string, at: string): Promise<boolean> {
    const res = await this.db.query(numbered('UPDATE waves SET window_closed_at = ? WHERE id = ? AND window_closed_at IS NULL'), [at, id]);
    return res.rowCount === 1;
  }
  async close(): Promise<void> {
    // The pool belongs to the store.
  }
}

/** The waves table on the store's own database: PostgreSQL when the store is, else the SQLite file. */
export function openWaves(store: Store, fallback: { dataDir: string; sqliteFile?: string | undefined }): WaveRepository {
  const backend = (store as { backend?: { kind: 'sqlite'; file: string } | { kind: 'postgres'; db: PgQuery } }).backend;
  if (backend?.kind === 'postgres') return new PgWaves(backend.db);
  const file = backend?.kind === 'sqlite' ? backend.file : (fallback.sqliteFile ?? join(fallback.dataDir, 'connector.sqlite'));
  return new SqliteWaves(file === ':memory:' ? file : resolve(file));
}
