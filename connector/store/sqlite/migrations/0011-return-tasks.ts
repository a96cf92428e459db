import type { SqliteMigration } from './types.ts';

/**
 * Issue 16: "Bring back to vCenter" tasks (an export's OVA imported into vCenter). The record is JSON in `data`; what
 * is filtered on is a column. `active_target` is `<folder id>/<VM name>` while the task runs and NULL once it ended: its
 * unique index lets only one running task create a given VM, so a retried or doubled request never makes two VMs.
 */
export const returnTasks: SqliteMigration = {
  version: 11,
  name: 'return-tasks',
  up(db) {
    db.exec(`
      CREATE TABLE return_tasks (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        environment_id TEXT NOT NULL,
        export_id TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        active_target TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX return_tasks_one_per_target ON return_tasks (active_target) WHERE active_target IS NOT NULL;
      CREATE INDEX return_tasks_newest ON return_tasks (seq DESC);
      CREATE INDEX return_tasks_by_state ON return_tasks (state, seq);
    `);
  },
};
