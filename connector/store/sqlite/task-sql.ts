// SQL shared by the SQLite migration and export repositories (one table, engine_tasks, schema steps 0002/0004).

const ENDED_STATES_SQL = `('completed', 'failed', 'cancelled')`;

/**
 * UPDATE of a task (state, updated_at, data, state again, id): an ended task gives its target up in the same
 * statement; an active one that holds nothing (a duplicate recorded before schema step 0004) takes the hold once free.
 */
export const SAVE_SQL = `UPDATE engine_tasks SET state = ?, updated_at = ?, data = ?,
  active_target = CASE WHEN ? IN ${ENDED_STATES_SQL} THEN NULL
    ELSE COALESCE(active_target, (SELECT engine_tasks.vm_id WHERE NOT EXISTS
      (SELECT 1 FROM engine_tasks o WHERE o.kind = engine_tasks.kind AND o.active_target = engine_tasks.vm_id))) END
  WHERE id = ?`;

/** The one-active-task-per-target index (schema step 0004) refused the row. */
export function isTargetConflict(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'SQLITE_CONSTRAINT_UNIQUE' && (e.message ?? '').includes('active_target');
}
