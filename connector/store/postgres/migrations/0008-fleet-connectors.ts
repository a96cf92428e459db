import type { PgMigration } from './types.ts';

/** Issue 14: the fleet's connectors and their heartbeats (see the SQLite step). */
export const fleetConnectors: PgMigration = {
  version: 8,
  name: 'fleet connectors',
  async up(db) {
    await db.query(`
      CREATE TABLE connectors (
        id TEXT PRIMARY KEY,
        vcenter_id TEXT NOT NULL,
        version TEXT NOT NULL,
        host TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      );
      CREATE INDEX connectors_by_vcenter ON connectors (vcenter_id, heartbeat_at);
    `);
  },
};
