import type { SqliteMigration } from './types.ts';

/**
 * At most one active migration per VM and one active export per instance, enforced by SQLite itself: a task
 * holds its target in `active_target` from its insert until it ends (then NULL), and a unique index refuses a
 * second holder in the same statement that would record it, so parallel requests cannot both get in.
 * A database that already holds duplicates keeps them all: only the oldest active task per target takes the
 * hold, the others run to their end as before, and from now on no new duplicate can be recorded.
 */
export const oneActiveTaskPerTarget: SqliteMigration = {
  version: 4,
  name: 'one active migration per VM and one active export per instance',
  up(db) {
    db.exec(`
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
