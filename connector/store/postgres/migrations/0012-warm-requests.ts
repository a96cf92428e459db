import type { PgMigration } from './types.ts';

/** Issue 14: warm actions asked on a connector that does not run the task, held for its owner (see the SQLite step). */
export const warmRequests: PgMigration = {
  version: 12,
  name: 'warm requests for the task owner',
  async up(db) {
    await db.query(`ALTER TABLE engine_tasks ADD COLUMN warm_requests TEXT;`);
  },
};
