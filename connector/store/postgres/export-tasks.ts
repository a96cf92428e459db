// Export tasks and engine settings on the fleet's PostgreSQL: the same behaviour as the SQLite repository. The region
// limit holds across the fleet: the count and the insert run in one transaction under an advisory lock on the region,
// so two connectors exporting at once cannot both take the last place.
import { ActiveTaskConflict, holds, type ExportRecord, type ExportTaskRepository, type SavedSince, type SettingsSwap } from '../../engine/task-store.ts';
import type { PgDatabase, PgQueryable } from './database.ts';
import { isPgTargetConflict, pgSaveSql } from './task-sql.ts';

const SAVE_SQL = pgSaveSql(false);
const parse = (r: { data: string }): ExportRecord => JSON.parse(r.data) as ExportRecord;
/** Namespace of the advisory locks on export regions (the key's first half; hashtext(region) is the second). */
const EXPORT_REGION_LOCK = 1_014_001;
/** Namespace of the advisory locks on engine settings keys. */
const SETTINGS_LOCK = 1_014_002;
const PUT_SETTING = 'INSERT INTO engine_settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at';

export class PgExportTasks implements ExportTaskRepository, SavedSince<ExportRecord> {
  /** The pool belongs to the store, which closes it. */
  constructor(private readonly db: PgDatabase) {}

  async insert(rec: Omit<ExportRecord, 'seq'>, maxActiveInRegion?: number): Promise<ExportRecord | undefined> {
    let full: ExportRecord | undefined;
    try {
      full = await this.db.tx(async (c) => {
        if (maxActiveInRegion !== undefined) await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [EXPORT_REGION_LOCK, rec.region]);
        const { rows } = await c.query<{ seq: number }>(`SELECT nextval('engine_tasks_seq') AS seq`);
        const withSeq = { ...rec, seq: rows[0]!.seq };
        // A statement begun after the lock sees every export committed by the lock's previous holders.
        const r = await c.query(
          `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, active_target, created_at, updated_at, data)
           SELECT $1, 'export', $2, $3, $4, $5, $6, $7, $8, $9
           WHERE $10::integer IS NULL OR (SELECT COUNT(*) FROM engine_tasks WHERE kind = 'export' AND state IN ('active', 'cancelling') AND data::jsonb ->> 'region' = $11) < $10::integer`,
          [
            withSeq.id, withSeq.seq, withSeq.state, withSeq.environmentId, withSeq.instanceId, holds(withSeq.state) ? withSeq.instanceId : null,
            withSeq.createdAt, withSeq.updatedAt, JSON.stringify(withSeq), maxActiveInRegion ?? null, withSeq.region,
          ],
        );
        return (r.rowCount ?? 0) > 0 ? withSeq : undefined;
      });
    } catch (err) {
      if (!isPgTargetConflict(err)) throw err;
      throw new ActiveTaskConflict(rec.instanceId, await this.holderOf(rec.instanceId));
    }
    if (!full) {
      // The region is full; an export of the same instance among them is the better answer.
      const holder = await this.holderOf(rec.instanceId);
      if (holder) throw new ActiveTaskConflict(rec.instanceId, holder);
    }
    return full;
  }

  async setVcenterTask(id: string, moRef: string): Promise<void> {
    await this.db.query(`UPDATE engine_tasks SET data = jsonb_set(data::jsonb, '{vcenterTask}', to_jsonb($1::text))::text WHERE id = $2 AND kind = 'export'`, [moRef, id]);
  }

  async holderOf(instanceId: string): Promise<ExportRecord | undefined> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE kind = 'export' AND active_target = $1`, [instanceId]);
    return rows[0] && parse(rows[0]);
  }

  async save(rec: ExportRecord): Promise<void> {
    await this.db.query(SAVE_SQL, [rec.state, rec.updatedAt, JSON.stringify(rec), rec.id]);
  }

  async remove(id: string): Promise<void> {
    await this.db.query(`DELETE FROM engine_tasks WHERE id = $1 AND kind = 'export'`, [id]);
  }

  async get(id: string): Promise<ExportRecord | undefined> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE id = $1 AND kind = 'export'`, [id]);
    return rows[0] && parse(rows[0]);
  }

  async since(since: string): Promise<ExportRecord[]> {
    const { rows } = await this.db.query<{ data: string }>(
      `SELECT data FROM engine_tasks WHERE kind = 'export' AND created_at >= $1 AND data::jsonb ->> 'exportTaskId' <> '' ORDER BY seq DESC`,
      [since],
    );
    return rows.map(parse);
  }

  async savedSince(since: string): Promise<ExportRecord[]> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE kind = 'export' AND updated_at >= $1 ORDER BY seq`, [since]);
    return rows.map(parse);
  }

  async active(): Promise<ExportRecord[]> {
    const { rows } = await this.db.query<{ data: string }>(`SELECT data FROM engine_tasks WHERE kind = 'export' AND state IN ('active', 'cancelling') ORDER BY seq`);
    return rows.map(parse);
  }

  async getSetting(key: string): Promise<string | undefined> {
    return settingOf(this.db, key);
  }

  async setSetting(key: string, value: string, at: string): Promise<void> {
    await this.db.query(PUT_SETTING, [key, value, at]);
  }

  async getSettingRecord(key: string): Promise<{ value: string; updatedAt: string } | undefined> {
    const { rows } = await this.db.query<{ value: string; updated_at: string }>('SELECT value, updated_at FROM engine_settings WHERE key = $1', [key]);
    return rows[0] && { value: rows[0].value, updatedAt: rows[0].updated_at };
  }

  async replaceSettings(key: string, expected: string | undefined, values: Record<string, string>, at: string): Promise<SettingsSwap> {
    // Writers of one key take turns on an advisory lock (a key not yet set has no row to lock).
    return this.db.tx(async (c): Promise<SettingsSwap> => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SETTINGS_LOCK, key]);
      const current = await settingOf(c, key);
      if (current !== expected) return { ok: false, current };
      for (const [k, v] of Object.entries(values)) await c.query(PUT_SETTING, [k, v, at]);
      return { ok: true };
    });
  }

  async close(): Promise<void> {}
}

async function settingOf(db: PgQueryable, key: string): Promise<string | undefined> {
  return (await db.query<{ value: string }>('SELECT value FROM engine_settings WHERE key = $1', [key])).rows[0]?.value;
}
