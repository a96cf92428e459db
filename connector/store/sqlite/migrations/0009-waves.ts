import type { SqliteMigration } from './types.ts';

/**
 * Issue 14: waves. One row per wave: its name, priority and start window (ISO-8601 UTC text, so they compare as text on
 * both backends), who created and who cancelled it, and its migrations as JSON ([{ id, vmId, vmName, diskBytes }], in
 * row order); their states live on the engine's tasks (waveId), never copied here. window_closed_at marks a wave whose
 * not-after time has passed and whose unstarted migrations were cancelled (set once, by whichever connector sweeps first).
 */
export const waves: SqliteMigration = {
  version: 9,
  name: 'waves',
  up(db) {
    db.exec(`
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
      ) STRICT;
      CREATE INDEX waves_newest ON waves (created_at DESC, id DESC);
      CREATE INDEX waves_open_windows ON waves (not_after) WHERE not_after IS NOT NULL AND window_closed_at IS NULL;
    `);
  },
};
