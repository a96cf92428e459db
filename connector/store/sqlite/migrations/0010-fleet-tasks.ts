import type { SqliteMigration } from './types.ts';

/**
 * Issue 14: tasks shared by a fleet. What a claim filters and orders on becomes columns (until now only in the JSON):
 * `vcenter_id` (the vCenter whose connectors may run the task; '' for tasks recorded before this step, which any
 * connector of the store may take), `priority` and `not_before` (waves). `owner` is the connector running the task
 * (NULL while queued or ended): saves are checked against it, so a connector whose task a peer took over writes
 * nothing. `cancel_requested` holds a cancel asked on another connector ({"by","at"} JSON) until the owner acts on it.
 * `region_slots` holds the fleet's EC2 import slots: one row per task importing in an account/region scope, counted
 * under a lock when claimed and owned by the task (a takeover inherits it).
 */
export const fleetTasks: SqliteMigration = {
  version: 10,
  name: 'fleet tasks: owner, claim columns, region slots',
  up(db) {
    db.exec(`
      ALTER TABLE engine_tasks ADD COLUMN owner TEXT;
      ALTER TABLE engine_tasks ADD COLUMN vcenter_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE engine_tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE engine_tasks ADD COLUMN not_before TEXT;
      ALTER TABLE engine_tasks ADD COLUMN cancel_requested TEXT;
      UPDATE engine_tasks SET
        priority = COALESCE(CAST(json_extract(data, '$.priority') AS INTEGER), 0),
        not_before = json_extract(data, '$.notBefore'),
        owner = CASE WHEN state IN ('running', 'cancelling', 'active') THEN json_extract(data, '$.connectorId') END;
      CREATE INDEX engine_tasks_claim ON engine_tasks (kind, vcenter_id, priority DESC, seq) WHERE state = 'queued';
      CREATE INDEX engine_tasks_by_owner ON engine_tasks (owner) WHERE owner IS NOT NULL;
      CREATE TABLE region_slots (
        kind TEXT NOT NULL CHECK (kind IN ('import', 'export')),
        scope TEXT NOT NULL,
        holder TEXT NOT NULL,
        task_id TEXT NOT NULL,
        taken_at TEXT NOT NULL,
        PRIMARY KEY (kind, holder)
      ) STRICT;
      CREATE INDEX region_slots_by_scope ON region_slots (kind, scope);
    `);
  },
};
