// "Bring back to vCenter" tasks on the store's database (schema step 0011): SQLite for one connector, PostgreSQL for a
// fleet. The record is JSON; state, export and the running target are columns.
import { join, resolve } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { ReturnState, ReturnTask } from '../contract/index.ts';
import { ActiveTaskConflict } from '../engine/task-store.ts';
import { openSqlite, prepareCached } from '../store/sqlite/database.ts';
import type { PgQueryable } from '../store/postgres/database.ts';
import type { Store } from '../store/index.ts';

/** A return task as stored: the API's view plus what the run needs and the API does not show. */
export interface ReturnRecord extends ReturnTask {
  seq: number;
  /** The resource pool ImportVApp is called on (the host's or cluster's root pool when one of those was chosen). */
  poolId?: string;
  hostId?: string;
  /** The connector that runs it (fleet). */
  connectorId?: string;
}

export const RETURN_ENDED: readonly ReturnState[] = ['completed', 'failed', 'cancelled'];
const ended = (s: ReturnState) => RETURN_ENDED.includes(s);

/** `<folder>/<name>`: the VM a running task creates; one running task per VM. */
export const returnTarget = (t: { folderId: string; name: string }) => `${t.folderId}/${t.name.toLowerCase()}`;

export interface ReturnFilter {
  exportId?: string | undefined;
  /** Only tasks this user requested (non-administrators). */
  requestedBy?: string | undefined;
  limit: number;
  offset: number;
}

export interface ReturnTaskRepository {
  /** Records a new task (seq is assigned); ActiveTaskConflict when a running task already creates this VM. */
  insert(rec: Omit<ReturnRecord, 'seq'>): Promise<ReturnRecord>;
  save(rec: ReturnRecord): Promise<void>;
  get(id: string): Promise<ReturnRecord | undefined>;
  /** Newest first. */
  list(filter: ReturnFilter): Promise<{ items: ReturnRecord[]; total: number }>;
  /** Tasks in these states, oldest first. */
  byStates(states: readonly ReturnState[]): Promise<ReturnRecord[]>;
  close(): Promise<void>;
}

function where(f: ReturnFilter): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.exportId !== undefined) (parts.push('export_id = ?'), params.push(f.exportId));
  if (f.requestedBy !== undefined) (parts.push('requested_by = ?'), params.push(f.requestedBy));
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

const INSERT = `INSERT INTO return_tasks (id, seq, state, environment_id, export_id, requested_by, active_target, created_at, updated_at, data)
  VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM return_tasks), ?, ?, ?, ?, ?, ?, ?, ?)`;
const insertParams = (r: Omit<ReturnRecord, 'seq'>) => [r.id, r.state, r.environmentId, r.exportId, r.requestedBy, ended(r.state) ? null : returnTarget(r), r.createdAt, r.updatedAt];
/** An ended task gives its target up in the same statement that records the end. */
const SAVE = `UPDATE return_tasks SET state = ?, updated_at = ?, data = ?, active_target = CASE WHEN ? THEN NULL ELSE active_target END WHERE id = ?`;

export class SqliteReturnTasks implements ReturnTaskRepository {
  private handle: Database | undefined;
  constructor(private readonly file: string) {}

  private get db(): Database {
    this.handle ??= openSqlite(this.file).db;
    return this.handle;
  }

  async insert(rec: Omit<ReturnRecord, 'seq'>): Promise<ReturnRecord> {
    try {
      prepareCached(this.db, INSERT).run(...insertParams(rec), '{}');
    } catch (err) {
      const e = err as { code?: string };
      if (e.code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ActiveTaskConflict(returnTarget(rec), await this.holder(returnTarget(rec)));
      throw err;
    }
    const seq = (prepareCached(this.db, 'SELECT seq FROM return_tasks WHERE id = ?').get(rec.id) as { seq: number }).seq;
    const full = { ...rec, seq } as ReturnRecord;
    await this.save(full);
    return full;
  }

  private async holder(target: string): Promise<ReturnRecord | undefined> {
    const row = prepareCached(this.db, 'SELECT data FROM return_tasks WHERE active_target = ?').get(target) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ReturnRecord) : undefined;
  }

  async save(rec: ReturnRecord): Promise<void> {
    prepareCached(this.db, SAVE).run(rec.state, rec.updatedAt, JSON.stringify(rec), ended(rec.state) ? 1 : 0, rec.id);
  }

  async get(id: string): Promise<ReturnRecord | undefined> {
    const row = prepareCached(this.db, 'SELECT data FROM return_tasks WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ReturnRecord) : undefined;
  }

  async list(f: ReturnFilter): Promise<{ items: ReturnRecord[]; total: number }> {
    const w = where(f);
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM return_tasks ${w.sql}`).get(...w.params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT data FROM return_tasks ${w.sql} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...w.params, f.limit, f.offset) as { data: string }[];
    return { items: rows.map((r) => JSON.parse(r.data) as ReturnRecord), total };
  }

  async byStates(states: readonly ReturnState[]): Promise<ReturnRecord[]> {
    if (states.length === 0) return [];
    const rows = this.db.prepare(`SELECT data FROM return_tasks WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY seq`).all(...states) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as ReturnRecord);
  }

  async close(): Promise<void> {
    if (this.handle?.open) this.handle.close();
    this.handle = undefined;
  }
}

// PostgreSQL's dialect of the statements above: numbered placeholders, a boolean where SQLite takes 0/1.
// The record goes in whole, with its seq, in the insert itself: a parallel insert that loses on the target's index reads
// the holder at once, and must not find a row whose data is still a placeholder.
const PG_INSERT = `INSERT INTO return_tasks (id, seq, state, environment_id, export_id, requested_by, active_target, created_at, updated_at, data)
  SELECT $1, n.seq, $2, $3, $4, $5, $6, $7, $8, ($9::jsonb || jsonb_build_object('seq', n.seq))::text
  FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM return_tasks) n RETURNING seq`;
const PG_SAVE = `UPDATE return_tasks SET state = $1, updated_at = $2, data = $3, active_target = CASE WHEN $4::boolean THEN NULL ELSE active_target END WHERE id = $5`;

function pgWhere(f: ReturnFilter): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.exportId !== undefined) (params.push(f.exportId), parts.push(`export_id = $${params.length}`));
  if (f.requestedBy !== undefined) (params.push(f.requestedBy), parts.push(`requested_by = $${params.length}`));
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export class PgReturnTasks implements ReturnTaskRepository {
  /** The pool belongs to the store, which closes it. */
  constructor(private readonly db: PgQueryable) {}

  private async rows(sql: string, params: unknown[]): Promise<ReturnRecord[]> {
    return (await this.db.query<{ data: string }>(sql, params)).rows.map((r) => JSON.parse(r.data) as ReturnRecord);
  }

  async insert(rec: Omit<ReturnRecord, 'seq'>): Promise<ReturnRecord> {
    let seq: number;
    try {
      // The seq sub-select may collide under parallel inserts (primary key on id, not seq): seq only orders the list.
      const r = await this.db.query<{ seq: number }>(PG_INSERT, [...insertParams(rec), JSON.stringify(rec)]);
      seq = Number(r.rows[0]!.seq);
    } catch (err) {
      const e = err as { code?: string; constraint?: string };
      if (e.code === '23505' && e.constraint === 'return_tasks_one_per_target') {
        const [holder] = await this.rows('SELECT data FROM return_tasks WHERE active_target = $1', [returnTarget(rec)]);
        throw new ActiveTaskConflict(returnTarget(rec), holder);
      }
      throw err;
    }
    return { ...rec, seq } as ReturnRecord;
  }

  async save(rec: ReturnRecord): Promise<void> {
    await this.db.query(PG_SAVE, [rec.state, rec.updatedAt, JSON.stringify(rec), ended(rec.state), rec.id]);
  }

  async get(id: string): Promise<ReturnRecord | undefined> {
    return (await this.rows('SELECT data FROM return_tasks WHERE id = $1', [id]))[0];
  }

  async list(f: ReturnFilter): Promise<{ items: ReturnRecord[]; total: number }> {
    const w = pgWhere(f);
    const count = (await this.db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM return_tasks ${w.sql}`, w.params)).rows[0];
    const n = w.params.length;
    const items = await this.rows(`SELECT data FROM return_tasks ${w.sql} ORDER BY seq DESC LIMIT $${n + 1} OFFSET $${n + 2}`, [...w.params, f.limit, f.offset]);
    return { items, total: Number(count?.n ?? 0) };
  }

  async byStates(states: readonly ReturnState[]): Promise<ReturnRecord[]> {
    if (states.length === 0) return [];
    return this.rows('SELECT data FROM return_tasks WHERE state = ANY($1::text[]) ORDER BY seq', [[...states]]);
  }

  async close(): Promise<void> {
    // The pool belongs to the store.
  }
}

/** The return tasks on the store's own database: PostgreSQL when the store is, else the SQLite file. */
export function openReturnTasks(store: Store, fallback: { dataDir: string; sqliteFile?: string | undefined }): ReturnTaskRepository {
  const backend = (store as Partial<Pick<Store, 'backend'>>).backend;
  if (backend?.kind === 'postgres') return new PgReturnTasks(backend.db);
  const file = backend?.kind === 'sqlite' ? backend.file : (fallback.sqliteFile ?? join(fallback.dataDir, 'connector.sqlite'));
  return new SqliteReturnTasks(file === ':memory:' ? file : resolve(file));
}
