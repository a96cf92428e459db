import type { PgMigration } from './types.ts';

/** Issue 14: waves (see the SQLite step). */
export const waves: PgMigration = {
  version: 9,
  name: 'waves',
  async up(db) {
    await db.query(`
      CREATE TABLE waves (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        priority INTEGER NOT NULL,
        not_before TEXT,
        not_after TEXT,
        environment_id TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('cold', 'warm')),
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        cancelled_by TEXT,
        cancelled_at TEXT,
        window_closed_at TEXT,
        tasks TEXT NOT NULL
      );
      CREATE INDEX waves_newest ON waves (created_at DESC, id DESC);
      CREATE INDEX waves_open_windows ON waves (not_after) WHERE not_after IS NOT NULL AND window_closed_at IS NULL;
    `);
  },
};
