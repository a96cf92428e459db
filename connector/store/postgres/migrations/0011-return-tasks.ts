import type { PgMigration } from './types.ts';

/** Issue 16: "Bring back to vCenter" tasks (see the SQLite step). */
export const returnTasks: PgMigration = {
  version: 11,
  name: 'return-tasks',
  async up(db) {
    await db.query(`
      CREATE TABLE return_tasks (
        id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        state TEXT NOT NULL,
        environment_id TEXT NOT NULL,
        export_id TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        active_target TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE UNIQUE INDEX return_tasks_one_per_target ON return_tasks (active_target) WHERE active_target IS NOT NULL;
      CREATE INDEX return_tasks_newest ON return_tasks (seq DESC);
      CREATE INDEX return_tasks_by_state ON return_tasks (state, seq);
    `);
  },
};
