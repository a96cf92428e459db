// SQL shared by the SQLite migration and export repositories (one table, engine_tasks, schema steps 0002/0004/0010/0013).

const ENDED_STATES_SQL = `('completed', 'failed', 'cancelled')`;

/**
 * UPDATE of a task (named parameters @state, @updatedAt, @data, @id; @owner when owner-checked): an ended task gives its
 * target up in the same statement; an active one that holds nothing (a duplicate recorded before schema step 0004) takes
 * the hold once free. A peer's cancel request is spent once the task is cancelling or ended. Owner-checked (migrations,
 * schema step 0010): the row is written only if no connector owns it or `@owner` does, so a connector whose task a peer
 * took over writes nothing.
 */
export function saveSql(ownerChecked: boolean): string {
  return `UPDATE engine_tasks SET state = @state, updated_at = @updatedAt, data = @data,
  active_target = CASE WHEN @state IN ${ENDED_STATES_SQL} THEN NULL
    ELSE COALESCE(active_target, (SELECT engine_tasks.vm_id WHERE NOT EXISTS
      (SELECT 1 FROM engine_tasks o WHERE o.kind = engine_tasks.kind AND o.vcenter_id = engine_tasks.vcenter_id AND o.active_target = engine_tasks.vm_id))) END,
  cancel_requested = CASE WHEN @state = 'cancelling' OR @state IN ${ENDED_STATES_SQL} THEN NULL ELSE cancel_requested END
  WHERE id = @id${ownerChecked ? ' AND (owner IS NULL OR owner = @owner)' : ''}`;
}

/** The one-active-task-per-target index (schema steps 0004 and 0013: per vCenter and target) refused the row. */
export function isTargetConflict(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'SQLITE_CONSTRAINT_UNIQUE' && (e.message ?? '').includes('active_target');
}
