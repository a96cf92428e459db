import type { SqliteMigration } from './types.ts';

/**
 * Issue 14: the fleet's connectors. Each connector upserts its row every fleet.heartbeatMs; a row whose heartbeat_at is
 * older than fleet.leaseMs is a dead connector (the Status tab shows it, and its peers take its tasks over).
 * time_zone (IANA) is the zone the connector reads its bandwidth schedule in. Times are ISO-8601 UTC text, so they sort and compare as text on both backends.
 */
export const fleetConnectors: SqliteMigration = {
  version: 8,
  name: 'fleet connectors',
  up(db) {
    db.exec(`
      CREATE TABLE connectors (
        id TEXT PRIMARY KEY,
        vcenter_id TEXT NOT NULL,
        version TEXT NOT NULL,
        host TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX connectors_by_vcenter ON connectors (vcenter_id, heartbeat_at);
    `);
  },
};
