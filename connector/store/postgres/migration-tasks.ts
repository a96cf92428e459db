// Migration tasks on the fleet's PostgreSQL (schema steps 0002, 0004, 0010): the same behaviour as the SQLite
// repository. What SQLite got from its single writer is explicit here: the unique partial index decides a race for a
// VM, a sequence numbers the tasks, and a claim locks the row it takes (FOR UPDATE SKIP LOCKED), so connectors
// claiming at once each get a different task and none waits for another.
import type { MigrationState } from '../../contract/index.ts';
import type { MigrationRecord } from '../../engine/types.ts';
import type { RollbackRecord } from '../../engine/rollback.ts';
import type { ResumeRecord } from '../../engine/warm/resume.ts';
import { ActiveTaskConflict, holds, type CancelRequest, type FleetTaskClaims, type MigrationTaskRepository, type RegionSlots, type SavedSince, type TaskFilter, type WarmRequest } from '../../engine/task-store.ts';
import { insertOwner, warmRequestsOf } from '../sqlite/migration-tasks.ts';
import type { PgDatabase } from './database.ts';
import { isPgTargetConflict, pgSaveSql } from './task-sql.ts';

const SAVE_OWNED_SQL = pgSaveSql(true);
/** Namespace of the advisory locks on region slot scopes (see export-tasks.ts for the others). */
const SLOTS_LOCK = 1_014_003;
const parse = (r: { data: string }): MigrationRecord => JSON.parse(r.data) as MigrationRecord;

/**
 * Claims the next queued migration for $1 of vCenter $2 whose start window has opened at `now` (a parameter), when
 * `when` holds: priority DESC, then FIFO.
 */
const claimSql = (now: string, when = 'true') => `UPDATE engine_tasks SET state = 'running', owner = $1, updated_at = ${now},
         data = (data::jsonb || jsonb_build_object('state', 'running', 'connectorId', $1::text))::text
       WHERE ${when} AND id = (SELECT id FROM engine_tasks WHERE kind = 'migration' AND state = 'queued' AND vcenter_id IN ($2, '')
                   AND (not_before IS NULL OR not_before <= ${now})
                   ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING data`;

/**
 * Takes over for $1 the running migrations of vCenter $2 whose owner is lost (heartbeat before $3), or with `mine` its
 * own; import-slot holders first, then oldest, at most `limit`. Rows a live owner is writing right now are skipped
 * (SKIP LOCKED): the next poll sees them again.
 */
const adoptSql = (mine: string, limit: string) => `UPDATE engine_tasks SET owner = $1, data = (data::jsonb || jsonb_build_object('connectorId', $1::text))::text
       WHERE id IN (SELECT e.id FROM engine_tasks e
                    WHERE e.kind = 'migration' AND e.state IN ('running', 'cancelling') AND e.vcenter_id IN ($2, '')
                      AND (e.owner IS NULL OR (${mine} AND e.owner = $1)
                           OR (NOT ${mine} AND e.owner <> $1 AND NOT EXISTS (SELECT 1 FROM connectors c WHERE c.id = e.owner AND c.heartbeat_at >= $3)))
                    ORDER BY EXISTS (SELECT 1 FROM region_slots s WHERE s.task_id = e.id) DESC, e.seq LIMIT ${limit}
                    FOR UPDATE OF e SKIP LOCKED)
       RETURNING seq, data, EXISTS (SELECT 1 FROM region_slots s WHERE s.task_id = engine_tasks.id) AS holds`;

export class PgMigrationTasks implements MigrationTaskRepository, FleetTaskClaims, RegionSlots, SavedSince<MigrationRecord> {
  /** The pool belongs to the store, which closes it. */
  constructor(private readonly db: PgDatabase) {}

  async insert(task: MigrationRecord): Promise<MigrationRecord> {
    const { rows } = await this.db.query<{ seq: number }>(`SELECT nextval('engine_tasks_seq') AS seq`);
    const rec = { ...task, seq: rows[0]!.seq };
    try {
      await this.db.query(
        `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, active_target, created_at, updated_at, data, owner, vcenter_id, priority, not_before)
         VALUES ($1, 'migration', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          rec.id, rec.seq, rec.state, rec.environmentId, rec.vmId, holds(rec.state) ? rec.vmId : null, rec.createdAt, rec.updatedAt, JSON.stringify(rec),
          insertOwner(rec), rec.vcenterId ?? '', Math.trunc(rec.priority ?? 0), rec.notBefore ?? null,
        ],
      );
    } catch (err) {
      if (!isPgTargetConflict(err)) throw err;
      throw new ActiveTaskConflict(rec.vmId, await this.holderOf(rec.vmId, rec.vcenterId ?? ''));
    }
    return rec;
  }

  async setVcenterTask(id: string, moRef: string): Promise<void> {
    await this.db.query(`UPDATE engine_tasks SET data = jsonb_set(data::jsonb, '{vcenterTask}', to_jsonb($1::text))::text WHERE id = $2 AND kind = 'migration'`, [moRef, id]);
  }

  /** One UPDATE: a second request finds the claim in the row and changes nothing (the row lock orders them). */
  async claimRollback(id: string, mark: RollbackRecord): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE engine_tasks SET data = jsonb_set(data::jsonb, '{rollback}', $1::jsonb)::text WHERE id = $2 AND kind = 'migration' AND state = 'completed'
         AND (COALESCE(jsonb_typeof(data::jsonb -> 'rollback'), 'null') = 'null' OR data::jsonb -> 'rollback' ->> 'state' = 'failed')`,
      [JSON.stringify(mark), id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async setRollback(id: string, mark: RollbackRecord): Promise<void> {
    await this.db.query(`UPDATE engine_tasks SET data = jsonb_set(data::jsonb, '{rollback}', $1::jsonb)::text WHERE id = $2 AND kind = 'migration'`, [JSON.stringify(mark), id]);
  }

  /** Issue 16, Resume replication (engine/warm/resume.ts): one UPDATE, so of two requests (or connectors) one wins. */
  async markResume(id: string, mark: ResumeRecord | null, from: readonly (ResumeRecord['state'] | null)[]): Promise<boolean> {
    const states = from.filter((s): s is ResumeRecord['state'] => s !== null);
    const params: unknown[] = [id];
    const set = mark ? `jsonb_set(data::jsonb, '{resume}', $${params.push(JSON.stringify(mark))}::jsonb)::text` : `(data::jsonb - 'resume')::text`;
    const allowed = [
      ...(from.includes(null) ? [`COALESCE(jsonb_typeof(data::jsonb -> 'resume'), 'null') = 'null'`] : []),
      ...(states.length ? [`data::jsonb -> 'resume' ->> 'state' = ANY($${params.push(states)}::text[])`] : []),
    ];
    if (!allowed.length) return false;
    const r = await this.db.query(`UPDATE engine_tasks SET data = ${set} WHERE id = $1 AND kind = 'migration' AND state = 'completed' AND (${allowed.join(' OR ')})`, params);
    return (r.rowCount ?? 0) > 0;
  }

  /**
   * ResumeMarks.keptPointsDue. Parsing the JSON is the cost: rows without the key are skipped on their text first, and
   * the others parsed once (OFFSET 0 keeps the lateral from being inlined into one cast per condition).
   * "C" order of toISOString text is time order.
   */
  async keptPointsDue(finishedBy: string): Promise<MigrationRecord[]> {
    const { rows } = await this.db.query<{ data: string }>(
      `SELECT t.data FROM engine_tasks t, LATERAL (SELECT t.data::jsonb AS j OFFSET 0) x
       WHERE t.kind = 'migration' AND t.state = 'completed' AND position('"pointKept"' in t.data) > 0
         AND j ->> 'mode' = 'warm' AND j -> 'warm' -> 'pointKept' = 'true'::jsonb AND COALESCE(jsonb_typeof(j -> 'resume'), 'null') = 'null'
         AND (j ->> 'finishedAt') COLLATE "C" <= $1
       ORDER BY t.seq`,
      [finishedBy],
    );
    return rows.map(parse);
  }

  /** The active migration of a VM of vCenter `vcenterId` ('': tasks recorded without one), if any. */
  async holderOf(vmId: string, vcenterId = ''): Promise<MigrationRecord | undefined> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND vcenter_id = $2 AND active_target = $1`, [vmId, vcenterId]);
    return rows[0] && parse(rows[0]);
  }

  async save(task: MigrationRecord): Promise<boolean> {
    const r = await this.db.query(SAVE_OWNED_SQL, [task.state, task.updatedAt, JSON.stringify(task), task.id, task.connectorId ?? null]);
    return (r.rowCount ?? 0) > 0;
  }

  async get(id: string): Promise<MigrationRecord | undefined> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE id = $1 AND kind = 'migration'`, [id]);
    return rows[0] && parse(rows[0]);
  }

  async list(f: TaskFilter): Promise<{ items: MigrationRecord[]; total: number }> {
    const where = [`kind = 'migration'`];
    const args: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      args.push(value);
      where.push(clause.replace('?', `$${args.length}`));
    };
    if (f.environmentId) add('environment_id = ?', f.environmentId);
    if (f.environmentIds) add('environment_id = ANY(?::text[])', [...f.environmentIds]);
    if (f.vmId) add('vm_id = ?', f.vmId);
    if (f.vcenterId !== undefined) add(`vcenter_id IN (?, '')`, f.vcenterId);
    if (f.state) add('state = ?', f.state);
    const clause = where.join(' AND ');
    const total = (await this.db.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM engine_tasks WHERE ${clause}`, args)).rows[0]!.n;
    const { rows } = await this.db.query<{ data: string }>(
      `SELECT data FROM engine_tasks WHERE ${clause} ORDER BY seq DESC LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
      [...args, f.limit, f.offset],
    );
    return { items: rows.map(parse), total };
  }

  async byStates(states: readonly MigrationState[]): Promise<MigrationRecord[]> {
    if (states.length === 0) return [];
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND state = ANY($1::text[]) ORDER BY seq`, [[...states]]);
    return rows.map(parse);
  }

  async savedSince(since: string): Promise<MigrationRecord[]> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE kind = 'migration' AND updated_at >= $1 ORDER BY seq`, [since]);
    return rows.map(parse);
  }

  async claimNext(me: string, vcenterId: string, now: string): Promise<MigrationRecord | undefined> {
    const { rows } = await this.db.query<{ data: string }>(claimSql('$3'), [me, vcenterId, now]);
    return rows[0] && parse(rows[0]);
  }

  async adopt(me: string, vcenterId: string, staleBefore: string, mine = true, limit?: number): Promise<MigrationRecord[]> {
    const { rows } = await this.db.query<{ seq: number; data: string; holds: boolean }>(adoptSql('$4', '$5'), [me, vcenterId, staleBefore, mine, limit ?? null]);
    return rows.sort((a, b) => Number(b.holds) - Number(a.holds) || a.seq - b.seq).map(parse);
  }

  async adoptOrClaim(me: string, vcenterId: string, staleBefore: string, now: string): Promise<{ task: MigrationRecord; adopted: boolean } | undefined> {
    // The claim reads the takeover's result, so it runs after it and only when it took nothing (the two touch
    // different rows: running and cancelling ones, queued ones).
    const { rows } = await this.db.query<{ data: string; adopted: boolean }>(
      `WITH adopted AS (${adoptSql('false', '1')}),
            claimed AS (${claimSql('$4', 'NOT EXISTS (SELECT 1 FROM adopted)')})
       SELECT data, true AS adopted FROM adopted UNION ALL SELECT data, false AS adopted FROM claimed`,
      [me, vcenterId, staleBefore, now],
    );
    return rows[0] && { task: parse(rows[0]), adopted: rows[0].adopted };
  }

  async lostImportRegions(me: string, vcenterId: string, staleBefore: string): Promise<string[]> {
    const { rows } = await this.db.query<{ scope: string }>(
      `SELECT DISTINCT s.scope FROM region_slots s JOIN engine_tasks e ON e.id = s.task_id
       WHERE s.kind = 'import' AND e.kind = 'migration' AND e.state IN ('running', 'cancelling') AND e.vcenter_id IN ($2, '')
         AND (e.owner IS NULL
              OR e.owner <> $1 AND NOT EXISTS (SELECT 1 FROM connectors c WHERE c.id = e.owner AND c.heartbeat_at >= $3))`,
      [me, vcenterId, staleBefore],
    );
    return rows.map((r) => r.scope);
  }

  async release(id: string, me: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE engine_tasks SET owner = NULL, data = (data::jsonb - 'connectorId')::text
       WHERE id = $1 AND kind = 'migration' AND owner = $2 AND state IN ('running', 'cancelling')`,
      [id, me],
    );
    return (rowCount ?? 0) > 0;
  }

  async requestCancel(id: string, by: string, at: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE engine_tasks SET cancel_requested = $1 WHERE id = $2 AND kind = 'migration' AND state IN ('queued', 'running', 'cancelling')`,
      [JSON.stringify({ by, at }), id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async cancelRequests(me: string): Promise<CancelRequest[]> {
    const { rows } = await this.db.query<{ id: string; cancel_requested: string }>(
      `SELECT id, cancel_requested FROM engine_tasks WHERE owner = $1 AND cancel_requested IS NOT NULL AND kind = 'migration'`,
      [me],
    );
    return rows.map((r) => ({ id: r.id, ...(JSON.parse(r.cancel_requested) as { by: string; at: string }) }));
  }

  /** The row lock orders requests asked at once: the second finds the first's entry and changes nothing. */
  async requestWarm(req: WarmRequest): Promise<boolean> {
    const { taskId, action, ...rest } = req;
    const r = await this.db.query(
      `UPDATE engine_tasks SET warm_requests = (COALESCE(warm_requests, '{}')::jsonb || jsonb_build_object($2::text, $3::jsonb))::text
       WHERE id = $1 AND kind = 'migration' AND state = 'running' AND COALESCE(warm_requests, '{}')::jsonb -> $2::text IS NULL`,
      [taskId, action, JSON.stringify(rest)],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async warmRequests(me: string): Promise<WarmRequest[]> {
    const { rows } = await this.db.query<{ id: string; warm_requests: string }>(
      `SELECT id, warm_requests FROM engine_tasks WHERE owner = $1 AND state = 'running' AND warm_requests IS NOT NULL AND kind = 'migration'`,
      [me],
    );
    return warmRequestsOf(rows);
  }

  async clearWarmRequest(req: Pick<WarmRequest, 'taskId' | 'action' | 'id'>): Promise<void> {
    await this.db.query(
      `UPDATE engine_tasks SET warm_requests = NULLIF((warm_requests::jsonb - $2::text)::text, '{}')
       WHERE id = $1 AND kind = 'migration' AND warm_requests::jsonb -> $2::text ->> 'id' = $3`,
      [req.taskId, req.action, req.id],
    );
  }

  async queuedOrder(): Promise<Pick<MigrationRecord, 'id' | 'priority' | 'notBefore'>[]> {
    const { rows } = await this.db.query<{ id: string; priority: number; not_before: string | null }>(
      `SELECT id, priority, not_before FROM engine_tasks WHERE kind = 'migration' AND state = 'queued' ORDER BY seq`,
    );
    return rows.map((r) => ({ id: r.id, priority: r.priority, ...(r.not_before ? { notBefore: r.not_before } : {}) }));
  }

  async takeSlot(kind: 'import' | 'export', scope: string, holder: string, taskId: string, max: number, at: string): Promise<boolean> {
    // Takers of one scope's slots take turns on an advisory lock: the count and the insert see each other's commits.
    return this.db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SLOTS_LOCK, `${kind}:${scope}`]);
      await c.query(
        `DELETE FROM region_slots s WHERE s.kind = $1 AND s.scope = $2 AND NOT EXISTS
           (SELECT 1 FROM engine_tasks t WHERE t.id = s.task_id AND t.state IN ('running', 'cancelling'))`,
        [kind, scope],
      );
      if ((await c.query('SELECT 1 FROM region_slots WHERE kind = $1 AND holder = $2', [kind, holder])).rows.length > 0) return true;
      const held = (await c.query<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM region_slots WHERE kind = $1 AND scope = $2', [kind, scope])).rows[0]!.n;
      if (held >= max) return false;
      await c.query('INSERT INTO region_slots (kind, scope, holder, task_id, taken_at) VALUES ($1, $2, $3, $4, $5)', [kind, scope, holder, taskId, at]);
      return true;
    });
  }

  async releaseSlot(kind: 'import' | 'export', holder: string): Promise<void> {
    await this.db.query('DELETE FROM region_slots WHERE kind = $1 AND holder = $2', [kind, holder]);
  }

  async slotsHeld(kind: 'import' | 'export', scope: string): Promise<number> {
    return (await this.db.query<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM region_slots WHERE kind = $1 AND scope = $2', [kind, scope])).rows[0]!.n;
  }

  async close(): Promise<void> {}
}
