import type { PgMigration } from './types.ts';

/** Issue 14: tasks shared by a fleet: owner, claim columns backfilled from the JSON, region slots (see the SQLite
 * step), and a sequence for seq. */
export const fleetTasks: PgMigration = {
  version: 10,
  name: 'fleet tasks: owner, claim columns, region slots',
  async up(db) {
    await db.query(`
      ALTER TABLE engine_tasks ADD COLUMN owner TEXT;
      ALTER TABLE engine_tasks ADD COLUMN vcenter_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE engine_tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE engine_tasks ADD COLUMN not_before TEXT;
      ALTER TABLE engine_tasks ADD COLUMN cancel_requested TEXT;
      UPDATE engine_tasks SET
        priority = COALESCE(trunc((data::jsonb ->> 'priority')::numeric)::integer, 0),
        not_before = data::jsonb ->> 'notBefore',
        owner = CASE WHEN state IN ('running', 'cancelling', 'active') THEN data::jsonb ->> 'connectorId' END;
      CREATE INDEX engine_tasks_claim ON engine_tasks (kind, vcenter_id, priority DESC, seq) WHERE state = 'queued';
      CREATE INDEX engine_tasks_by_owner ON engine_tasks (owner) WHERE owner IS NOT NULL;
      CREATE TABLE region_slots (
        kind TEXT NOT NULL CHECK (kind IN ('import', 'export')),
        scope TEXT NOT NULL,
        holder TEXT NOT NULL,
        task_id TEXT NOT NULL,
        taken_at TEXT NOT NULL,
        PRIMARY KEY (kind, holder)
      );
      CREATE INDEX region_slots_by_scope ON region_slots (kind, scope);
      -- seq from a sequence: connectors inserting at once must not both take MAX(seq) + 1.
      CREATE SEQUENCE engine_tasks_seq;
      SELECT setval('engine_tasks_seq', COALESCE((SELECT MAX(seq) FROM engine_tasks), 0) + 1, false);
    `);
  },
};
