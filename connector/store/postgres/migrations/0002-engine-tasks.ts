import type { PgMigration } from './types.ts';

/** The migration engine's durable tasks: a few indexed columns plus the full record as JSON. */
export const engineTasks: PgMigration = {
  version: 2,
  name: 'engine tasks (migrations, exports) and engine settings',
  async up(db) {
    await db.query(`
      CREATE TABLE engine_tasks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('migration', 'export')),
        seq BIGINT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        environment_id TEXT NOT NULL,
        vm_id TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX engine_tasks_by_state ON engine_tasks (kind, state, seq);
      CREATE TABLE engine_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `);
  },
};
