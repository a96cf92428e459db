import type { PgMigration } from './types.ts';

/** The portal polls each environment's and each VM's task list (see the SQLite step for the measurement). */
export const taskListIndexes: PgMigration = {
  version: 3,
  name: 'indexes for task lists per environment and per VM',
  async up(db) {
    await db.query(`
      CREATE INDEX engine_tasks_by_environment ON engine_tasks (kind, environment_id, seq);
      CREATE INDEX engine_tasks_by_vm ON engine_tasks (kind, vm_id, seq);
    `);
  },
};
