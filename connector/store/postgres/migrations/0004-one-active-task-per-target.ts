import type { PgMigration } from './types.ts';

/**
 * At most one active migration per VM and one active export per instance: a task holds its target in
 * `active_target` while active, and a partial unique index refuses a second holder (see the SQLite step).
 */
export const oneActiveTaskPerTarget: PgMigration = {
  version: 4,
  name: 'one active migration per VM and one active export per instance',
  async up(db) {
    await db.query(`
      ALTER TABLE engine_tasks ADD COLUMN active_target TEXT;
      UPDATE engine_tasks SET active_target = vm_id
        WHERE state IN ('queued', 'running', 'cancelling', 'active')
          AND seq = (SELECT MIN(o.seq) FROM engine_tasks o
                     WHERE o.kind = engine_tasks.kind AND o.vm_id = engine_tasks.vm_id
                       AND o.state IN ('queued', 'running', 'cancelling', 'active'));
      CREATE UNIQUE INDEX engine_tasks_one_active_per_target ON engine_tasks (kind, active_target) WHERE active_target IS NOT NULL;
    `);
  },
};
