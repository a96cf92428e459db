// SQL shared by the PostgreSQL migration and export repositories (engine_tasks, schema steps 0002/0004/0010/0013); the same
// rules as ../sqlite/task-sql.ts, in PostgreSQL's dialect. `data` is TEXT (as on SQLite), cast to jsonb where read.

const ENDED_STATES_SQL = `('completed', 'failed', 'cancelled')`;

/** UPDATE of a task ($1 state, $2 updated_at, $3 data, $4 id; $5 owner when owner-checked): see saveSql on SQLite. */
export function pgSaveSql(ownerChecked: boolean): string {
  return `UPDATE engine_tasks SET state = $1, updated_at = $2, data = $3,
  active_target = CASE WHEN $1 IN ${ENDED_STATES_SQL} THEN NULL
    ELSE COALESCE(active_target, (SELECT engine_tasks.vm_id WHERE NOT EXISTS
      (SELECT 1 FROM engine_tasks o WHERE o.kind = engine_tasks.kind AND o.vcenter_id = engine_tasks.vcenter_id AND o.active_target = engine_tasks.vm_id))) END,
  cancel_requested = CASE WHEN $1 = 'cancelling' OR $1 IN ${ENDED_STATES_SQL} THEN NULL ELSE cancel_requested END
  WHERE id = $4${ownerChecked ? ' AND (owner IS NULL OR owner = $5)' : ''}`;
}

/** The one-active-task-per-target index (schema steps 0004 and 0013: per vCenter and target) refused the row. */
export function isPgTargetConflict(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'engine_tasks_one_active_per_target';
}
