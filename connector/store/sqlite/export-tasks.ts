// Export tasks and engine settings in the connector's SQLite file, in the same table family as migrations.
import type { Database } from 'better-sqlite3';
import { openSqlite, prepareCached } from './database.ts';
import { ActiveTaskConflict, holds, type ExportRecord, type ExportTaskRepository, type SavedSince, type SettingsSwap } from '../../engine/task-store.ts';
import { isTargetConflict, saveSql } from './task-sql.ts';

const SAVE_SQL = saveSql(false);

export class SqliteExportTasks implements ExportTaskRepository, SavedSince<ExportRecord> {
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
  async insert(rec: Omit<ExportRecord, 'seq'>, maxActiveInRegion?: number): Promise<ExportRecord | undefined> {
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
      throw new ActiveTaskConflict(full.instanceId, this.holderNow(full.instanceId));
    }
    if (inserted === 0) {
      // The region is full; an export of the same instance among them is the better answer.
      const holder = this.holderNow(full.instanceId);
      if (holder) throw new ActiveTaskConflict(full.instanceId, holder);
      return undefined;
    }
    return full;
  }

  /** Records the vCenter task that shows this export (vcenter-tasks/): only that field of the JSON changes. */
  async setVcenterTask(id: string, moRef: string): Promise<void> {
    prepareCached(this.db, `UPDATE engine_tasks SET data = json_set(data, '$.vcenterTask', ?) WHERE id = ? AND kind = 'export'`).run(moRef, id);
  }

  /** The active export of an instance, if any. */
  async holderOf(instanceId: string): Promise<ExportRecord | undefined> {
    return this.holderNow(instanceId);
  }

  private holderNow(instanceId: string): ExportRecord | undefined {
    const row = prepareCached(this.db, `SELECT data FROM engine_tasks WHERE kind = 'export' AND active_target = ?`).get(instanceId) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ExportRecord) : undefined;
  }

  /** See SAVE_SQL: an ended export gives its instance up in the same statement that records the end. */
  async save(rec: ExportRecord): Promise<void> {
    prepareCached(this.db, SAVE_SQL).run({ state: rec.state, updatedAt: rec.updatedAt, data: JSON.stringify(rec), id: rec.id });
  }

  /** Drops a reservation EC2 never accepted (nothing was exported). */
  async remove(id: string): Promise<void> {
    prepareCached(this.db, `DELETE FROM engine_tasks WHERE id = ? AND kind = 'export'`).run(id);
  }

  async get(id: string): Promise<ExportRecord | undefined> {
    const row = this.db.prepare(`SELECT data FROM engine_tasks WHERE id = ? AND kind = 'export'`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as ExportRecord) : undefined;
  }

  /** Newest first, created at or after `since` (ISO). */
  async since(since: string): Promise<ExportRecord[]> {
    // Reservations EC2 has not accepted yet (no export task id) are not exports yet.
    const rows = this.db.prepare(`SELECT data FROM engine_tasks WHERE kind = 'export' AND created_at >= ? AND json_extract(data, '$.exportTaskId') <> '' ORDER BY seq DESC`).all(since) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as ExportRecord);
  }

  async savedSince(since: string): Promise<ExportRecord[]> {
    const rows = prepareCached(this.db, `SELECT data FROM engine_tasks WHERE kind = 'export' AND updated_at >= ? ORDER BY seq`).all(since) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as ExportRecord);
  }

  async active(): Promise<ExportRecord[]> {
    const rows = this.db.prepare(`SELECT data FROM engine_tasks WHERE kind = 'export' AND state IN ('active', 'cancelling') ORDER BY seq`).all() as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as ExportRecord);
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.settingNow(key);
  }

  private settingNow(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM engine_settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  async setSetting(key: string, value: string, at: string): Promise<void> {
    this.db.prepare('INSERT INTO engine_settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(key, value, at);
  }

  /** A setting with when it was last written. */
  async getSettingRecord(key: string): Promise<{ value: string; updatedAt: string } | undefined> {
    const row = this.db.prepare('SELECT value, updated_at FROM engine_settings WHERE key = ?').get(key) as { value: string; updated_at: string } | undefined;
    return row ? { value: row.value, updatedAt: row.updated_at } : undefined;
  }

  /**
   * Compare-and-set in one transaction: writes `values` only if `key` still holds `expected` (undefined: unset).
   * Returns the value found when it differs, so two writers cannot silently overwrite each other.
   */
  async replaceSettings(key: string, expected: string | undefined, values: Record<string, string>, at: string): Promise<SettingsSwap> {
    const put = this.db.prepare('INSERT INTO engine_settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    return this.db
      .transaction((): SettingsSwap => {
        const current = this.settingNow(key);
        if (current !== expected) return { ok: false, current };
        for (const [k, v] of Object.entries(values)) put.run(k, v, at);
        return { ok: true };
      })
      .immediate();
  }

  async close(): Promise<void> {
    if (this.handle?.open) this.handle.close();
    this.handle = undefined;
  }
}
