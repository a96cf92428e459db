// Migration tasks in the connector's SQLite file (schema step 0002). Every write is one statement, so a SIGKILL
// leaves either the previous or the next version of a task, never half of one. better-sqlite3 is synchronous: the
// async methods answer from the same tick's statement.
import type { Database, Statement } from 'better-sqlite3';
import { openSqlite, prepareCached } from './database.ts';
import type { MigrationState } from '../../contract/index.ts';
import type { MigrationRecord } from '../../engine/types.ts';
import type { RollbackRecord } from '../../engine/rollback.ts';
import type { ResumeRecord } from '../../engine/warm/resume.ts';
import { ActiveTaskConflict, holds, type CancelRequest, type FleetTaskClaims, type MigrationTaskRepository, type RegionSlots, type SavedSince, type TaskFilter, type WarmRequest } from '../../engine/task-store.ts';
import { isTargetConflict, saveSql } from './task-sql.ts';

const SAVE_OWNED_SQL = saveSql(true);
/** Slots whose task no longer runs (it ended, or was undone after a takeover without releasing them) are dropped. */
const SLOTS_GC_SQL = `DELETE FROM region_slots WHERE kind = ? AND scope = ? AND NOT EXISTS
  (SELECT 1 FROM engine_tasks t WHERE t.id = region_slots.task_id AND t.state IN ('running', 'cancelling'))`;

/** Distinct list pages kept between writes (a page per environment, VM and filter the portal polls). */
const PAGE_CACHE_ENTRIES = 256;
/** Parsed rows kept for reuse by list() and peek() (about 1 KiB each). */
const ROW_CACHE_ENTRIES = 20_000;

export class SqliteMigrationTasks implements MigrationTaskRepository, FleetTaskClaims, RegionSlots, SavedSince<MigrationRecord> {
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

  async insert(task: MigrationRecord): Promise<MigrationRecord> {
    const seq = (this.stmt('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM engine_tasks').get() as { n: number }).n;
    const rec = { ...task, seq };
    this.writes += 1;
    try {
      this.stmt(
        `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, active_target, created_at, updated_at, data, owner, vcenter_id, priority, not_before)
         VALUES (?, 'migration', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        rec.id, seq, rec.state, rec.environmentId, rec.vmId, holds(rec.state) ? rec.vmId : null, rec.createdAt, rec.updatedAt, JSON.stringify(rec),
        insertOwner(rec), rec.vcenterId ?? '', Math.trunc(rec.priority ?? 0), rec.notBefore ?? null,
      );
    } catch (err) {
      if (!isTargetConflict(err)) throw err;
      throw new ActiveTaskConflict(rec.vmId, this.holderNow(rec.vmId, rec.vcenterId ?? ''));
    }
    return rec;
  }

  /** Records the vCenter task that shows this migration (vcenter-tasks/): only that field of the JSON changes. */
  async setVcenterTask(id: string, moRef: string): Promise<void> {
    this.writes += 1;
    this.stmt(`UPDATE engine_tasks SET data = json_set(data, '$.vcenterTask', ?) WHERE id = ? AND kind = 'migration'`).run(moRef, id);
  }

  /** One UPDATE: a second request finds the claim in the row and changes nothing. */
  async claimRollback(id: string, mark: RollbackRecord): Promise<boolean> {
    this.writes += 1;
    return (
      this.stmt(
        `UPDATE engine_tasks SET data = json_set(data, '$.rollback', json(?)) WHERE id = ? AND kind = 'migration' AND state = 'completed'
           AND (json_extract(data, '$.rollback') IS NULL OR json_extract(data, '$.rollback.state') = 'failed')`,
      ).run(JSON.stringify(mark), id).changes > 0
    );
  }

  async setRollback(id: string, mark: RollbackRecord): Promise<void> {
    this.writes += 1;
    this.stmt(`UPDATE engine_tasks SET data = json_set(data, '$.rollback', json(?)) WHERE id = ? AND kind = 'migration'`).run(JSON.stringify(mark), id);
  }

  /** Issue 16, Resume replication (engine/warm/resume.ts): one UPDATE, so of two requests (or connectors) one wins. */
  async markResume(id: string, mark: ResumeRecord | null, from: readonly (ResumeRecord['state'] | null)[]): Promise<boolean> {
    this.writes += 1;
    const states = from.filter((s): s is ResumeRecord['state'] => s !== null);
    const allowed = [...(from.includes(null) ? [`json_extract(data, '$.resume') IS NULL`] : []), ...(states.length ? [`json_extract(data, '$.resume.state') IN (${states.map(() => '?').join(', ')})`] : [])];
    if (!allowed.length) return false;
    const set = mark ? `json_set(data, '$.resume', json(?))` : `json_remove(data, '$.resume')`;
    return (
      this.stmt(`UPDATE engine_tasks SET data = ${set} WHERE id = ? AND kind = 'migration' AND state = 'completed' AND (${allowed.join(' OR ')})`).run(
        ...(mark ? [JSON.stringify(mark)] : []),
        id,
        ...states,
      ).changes > 0
    );
  }

  /**
   * ResumeMarks.keptPointsDue, on JSON fields (no column holds them): rows without the key are skipped on their text
   * before any is parsed. finishedAt is always toISOString, so text order is time order.
   */
  async keptPointsDue(finishedBy: string): Promise<MigrationRecord[]> {
    const rows = this.stmt(
      `SELECT data FROM engine_tasks WHERE kind = 'migration' AND state = 'completed' AND instr(data, '"pointKept"') > 0 AND json_extract(data, '$.mode') = 'warm'
         AND json_extract(data, '$.warm.pointKept') = 1 AND json_extract(data, '$.resume') IS NULL AND json_extract(data, '$.finishedAt') <= ?
       ORDER BY seq`,
    ).all(finishedBy) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as MigrationRecord);
  }

  /** The active migration of a VM of vCenter `vcenterId` ('': tasks recorded without one), if any. */
  async holderOf(vmId: string, vcenterId = ''): Promise<MigrationRecord | undefined> {
    return this.holderNow(vmId, vcenterId);
  }

  private holderNow(vmId: string, vcenterId: string): MigrationRecord | undefined {
    const row = this.stmt(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND vcenter_id = ? AND active_target = ?`).get(vcenterId, vmId) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as MigrationRecord) : undefined;
  }

  /** See saveSql: an ended task gives its VM up in the same statement that records the end. */
  async save(task: MigrationRecord): Promise<boolean> {
    this.writes += 1;
    return this.stmt(SAVE_OWNED_SQL).run({ state: task.state, updatedAt: task.updatedAt, data: JSON.stringify(task), id: task.id, owner: task.connectorId ?? null }).changes > 0;
  }

  // Fleet claims: SQLite has one writer at a time, so each UPDATE … RETURNING decides alone (any number of handles).

  async claimNext(me: string, vcenterId: string, now: string): Promise<MigrationRecord | undefined> {
    this.writes += 1;
    const row = this.stmt(
      `UPDATE engine_tasks SET state = 'running', owner = @me, updated_at = @now, data = json_set(data, '$.state', 'running', '$.connectorId', @me)
       WHERE id = (SELECT id FROM engine_tasks WHERE kind = 'migration' AND state = 'queued' AND vcenter_id IN (@vc, '')
                   AND (not_before IS NULL OR not_before <= @now)
                   ORDER BY priority DESC, seq LIMIT 1)
       RETURNING data`,
    ).get({ me, vc: vcenterId, now }) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as MigrationRecord) : undefined;
  }

  async adopt(me: string, vcenterId: string, staleBefore: string, mine = true, limit?: number): Promise<MigrationRecord[]> {
    this.writes += 1;
    const rows = this.stmt(
      `UPDATE engine_tasks SET owner = @me, data = json_set(data, '$.connectorId', @me)
       WHERE id IN (SELECT id FROM engine_tasks
                    WHERE kind = 'migration' AND state IN ('running', 'cancelling') AND vcenter_id IN (@vc, '')
                      AND (owner IS NULL OR (@mine AND owner = @me)
                           OR (NOT @mine AND owner <> @me AND NOT EXISTS (SELECT 1 FROM connectors c WHERE c.id = engine_tasks.owner AND c.heartbeat_at >= @stale)))
                    ORDER BY EXISTS (SELECT 1 FROM region_slots s WHERE s.task_id = engine_tasks.id) DESC, seq LIMIT @limit)
       RETURNING seq, data, EXISTS (SELECT 1 FROM region_slots s WHERE s.task_id = engine_tasks.id) AS holds`,
    ).all({ me, vc: vcenterId, stale: staleBefore, mine: mine ? 1 : 0, limit: limit ?? -1 }) as { seq: number; data: string; holds: number }[];
    return rows.sort((a, b) => b.holds - a.holds || a.seq - b.seq).map((r) => JSON.parse(r.data) as MigrationRecord);
  }

  /** The two claims one after the other, each deciding alone: with this in-process driver a call costs no round trip. */
  async adoptOrClaim(me: string, vcenterId: string, staleBefore: string, now: string): Promise<{ task: MigrationRecord; adopted: boolean } | undefined> {
    const [lost] = await this.adopt(me, vcenterId, staleBefore, false, 1);
    if (lost) return { task: lost, adopted: true };
    const claimed = await this.claimNext(me, vcenterId, now);
    return claimed && { task: claimed, adopted: false };
  }

  async lostImportRegions(me: string, vcenterId: string, staleBefore: string): Promise<string[]> {
    const rows = this.stmt(
      `SELECT DISTINCT s.scope FROM region_slots s JOIN engine_tasks e ON e.id = s.task_id
       WHERE s.kind = 'import' AND e.kind = 'migration' AND e.state IN ('running', 'cancelling') AND e.vcenter_id IN (@vc, '')
         AND (e.owner IS NULL
              OR e.owner <> @me AND NOT EXISTS (SELECT 1 FROM connectors c WHERE c.id = e.owner AND c.heartbeat_at >= @stale))`,
    ).all({ me, vc: vcenterId, stale: staleBefore }) as { scope: string }[];
    return rows.map((r) => r.scope);
  }

  async release(id: string, me: string): Promise<boolean> {
    this.writes += 1;
    const r = this.stmt(
      `UPDATE engine_tasks SET owner = NULL, data = json_remove(data, '$.connectorId')
       WHERE id = ? AND kind = 'migration' AND owner = ? AND state IN ('running', 'cancelling')`,
    ).run(id, me);
    return r.changes > 0;
  }

  async requestCancel(id: string, by: string, at: string): Promise<boolean> {
    this.writes += 1;
    return this.stmt(`UPDATE engine_tasks SET cancel_requested = ? WHERE id = ? AND kind = 'migration' AND state IN ('queued', 'running', 'cancelling')`).run(JSON.stringify({ by, at }), id).changes > 0;
  }

  async cancelRequests(me: string): Promise<CancelRequest[]> {
    const rows = this.stmt(`SELECT id, cancel_requested FROM engine_tasks WHERE owner = ? AND cancel_requested IS NOT NULL AND kind = 'migration'`).all(me) as { id: string; cancel_requested: string }[];
    return rows.map((r) => ({ id: r.id, ...(JSON.parse(r.cancel_requested) as { by: string; at: string }) }));
  }

  async requestWarm(req: WarmRequest): Promise<boolean> {
    this.writes += 1;
    const { taskId, action, ...rest } = req;
    return (
      this.stmt(
        `UPDATE engine_tasks SET warm_requests = json_set(COALESCE(warm_requests, '{}'), '$.' || @action, json(@req))
         WHERE id = @id AND kind = 'migration' AND state = 'running' AND json_extract(COALESCE(warm_requests, '{}'), '$.' || @action) IS NULL`,
      ).run({ id: taskId, action, req: JSON.stringify(rest) }).changes > 0
    );
  }

  async warmRequests(me: string): Promise<WarmRequest[]> {
    const rows = this.stmt(`SELECT id, warm_requests FROM engine_tasks WHERE owner = ? AND state = 'running' AND warm_requests IS NOT NULL AND kind = 'migration'`).all(me) as { id: string; warm_requests: string }[];
    return warmRequestsOf(rows);
  }

  async clearWarmRequest(req: Pick<WarmRequest, 'taskId' | 'action' | 'id'>): Promise<void> {
    this.writes += 1;
    this.stmt(
      `UPDATE engine_tasks SET warm_requests = NULLIF(json_remove(warm_requests, '$.' || @action), '{}')
       WHERE id = @id AND kind = 'migration' AND json_extract(warm_requests, '$.' || @action || '.id') = @rid`,
    ).run({ id: req.taskId, action: req.action, rid: req.id });
  }

  async get(id: string): Promise<MigrationRecord | undefined> {
    const row = this.stmt(`SELECT data FROM engine_tasks WHERE id = ? AND kind = 'migration'`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as MigrationRecord) : undefined;
  }

  async peek(id: string): Promise<MigrationRecord | undefined> {
    return this.peekNow(id);
  }

  /** peek() without the promise (the list and poll paths). */
  peekNow(id: string): MigrationRecord | undefined {
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

  async list(f: TaskFilter): Promise<{ items: MigrationRecord[]; total: number }> {
    return this.listNow(f);
  }

  /** list() without the promise. */
  listNow(f: TaskFilter): { items: MigrationRecord[]; total: number } {
    // Many open portal tabs poll the same page; it is read from SQLite once per change of the table.
    const key = JSON.stringify([f.environmentId, f.environmentIds, f.vmId, f.vcenterId, f.state, f.limit, f.offset]);
    const version = this.version();
    const hit = this.pages.get(key);
    if (hit && hit.version === version) return hit.page;
    const where = [`kind = 'migration'`];
    const args: string[] = [];
    if (f.environmentId) (where.push('environment_id = ?'), args.push(f.environmentId));
    // One statement whatever the number of environments.
    if (f.environmentIds) (where.push('environment_id IN (SELECT value FROM json_each(?))'), args.push(JSON.stringify(f.environmentIds)));
    if (f.vmId) (where.push('vm_id = ?'), args.push(f.vmId));
    if (f.vcenterId !== undefined) (where.push(`vcenter_id IN (?, '')`), args.push(f.vcenterId));
    if (f.state) (where.push('state = ?'), args.push(f.state));
    const clause = where.join(' AND ');
    const total = (this.stmt(`SELECT COUNT(*) AS n FROM engine_tasks WHERE ${clause}`).get(...args) as { n: number }).n;
    const rows = this.stmt(`SELECT id, data FROM engine_tasks WHERE ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args, f.limit, f.offset) as { id: string; data: string }[];
    const page = { items: rows.map((r) => this.shared(r, version)), total };
    if (this.pages.size >= PAGE_CACHE_ENTRIES) this.pages.clear();
    this.pages.set(key, { version, page });
    return page;
  }

  async byStates(states: readonly MigrationState[]): Promise<MigrationRecord[]> {
    if (states.length === 0) return [];
    const rows = this.stmt(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND state IN (${states.map(() => '?').join(',')}) ORDER BY seq`).all(...states) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as MigrationRecord);
  }

  async savedSince(since: string): Promise<MigrationRecord[]> {
    const rows = this.stmt(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND updated_at >= ? ORDER BY seq`).all(since) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as MigrationRecord);
  }

  async queuedOrder(): Promise<Pick<MigrationRecord, 'id' | 'priority' | 'notBefore'>[]> {
    const rows = this.stmt(`SELECT id, priority, not_before FROM engine_tasks WHERE kind = 'migration' AND state = 'queued' ORDER BY seq`).all() as { id: string; priority: number; not_before: string | null }[];
    return rows.map((r) => ({ id: r.id, priority: r.priority, ...(r.not_before ? { notBefore: r.not_before } : {}) }));
  }

  async takeSlot(kind: 'import' | 'export', scope: string, holder: string, taskId: string, max: number, at: string): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        this.stmt(SLOTS_GC_SQL).run(kind, scope);
        if (this.stmt('SELECT 1 FROM region_slots WHERE kind = ? AND holder = ?').get(kind, holder)) return true;
        if ((this.stmt('SELECT COUNT(*) AS n FROM region_slots WHERE kind = ? AND scope = ?').get(kind, scope) as { n: number }).n >= max) return false;
        this.stmt('INSERT INTO region_slots (kind, scope, holder, task_id, taken_at) VALUES (?, ?, ?, ?, ?)').run(kind, scope, holder, taskId, at);
        return true;
      })
      .immediate();
  }

  async releaseSlot(kind: 'import' | 'export', holder: string): Promise<void> {
    this.stmt('DELETE FROM region_slots WHERE kind = ? AND holder = ?').run(kind, holder);
  }

  async slotsHeld(kind: 'import' | 'export', scope: string): Promise<number> {
    return (this.stmt('SELECT COUNT(*) AS n FROM region_slots WHERE kind = ? AND scope = ?').get(kind, scope) as { n: number }).n;
  }

  async close(): Promise<void> {
    this.pages.clear();
    this.rows.clear();
    if (this.handle?.open) this.handle.close();
    this.handle = undefined;
  }
}

/** The requests of `warm_requests` columns (schema step 0012), oldest first. */
export function warmRequestsOf(rows: { id: string; warm_requests: string }[]): WarmRequest[] {
  return rows
    .flatMap((r) => Object.entries(JSON.parse(r.warm_requests) as Record<string, Omit<WarmRequest, 'taskId' | 'action'>>).map(([action, req]) => ({ ...req, taskId: r.id, action: action as WarmRequest['action'] })))
    .sort((a, b) => a.at.localeCompare(b.at));
}

/** The owner of a task recorded already started (imports, tests); a queued task is nobody's until claimed. */
export function insertOwner(rec: MigrationRecord): string | null {
  return rec.state !== 'queued' && holds(rec.state) ? (rec.connectorId ?? null) : null;
}
