// The fleet's connectors as the shared store knows them: each connector upserts its row every heartbeat, and a row
// whose heartbeat is older than the lease is a lost connector. SQLite (one connector) and PostgreSQL (a fleet) hold the
// same `connectors` table (schema step 0008); the engine's takeover reads heartbeat_at from it.
import type { Database } from 'better-sqlite3';
import type { ConnectorHealth } from '../contract/index.ts';
import { openSqlite } from '../store/sqlite/database.ts';
import type { PgQueryable } from '../store/postgres/database.ts';

export interface ConnectorEntry {
  id: string;
  vcenterId: string;
  version: string;
  host: string;
  timeZone: string;
  startedAt: string;
}

export interface ConnectorRecord extends ConnectorEntry {
  heartbeatAt: string;
}

export interface ConnectorWithHealth extends ConnectorRecord {
  heartbeatAgeMs: number;
  health: ConnectorHealth;
}

export interface ConnectorRegistry {
  /** Inserts or refreshes this connector's row with heartbeat_at = now. */
  heartbeat(me: ConnectorEntry, now: Date): Promise<void>;
  /** Every connector, oldest id first, with its health at `now`. */
  list(now: Date): Promise<ConnectorWithHealth[]>;
  get(id: string): Promise<ConnectorRecord | undefined>;
  close(): Promise<void>;
}

interface Row {
  id: string;
  vcenter_id: string;
  version: string;
  host: string;
  time_zone: string;
  started_at: string;
  heartbeat_at: string;
}

const toRecord = (r: Row): ConnectorRecord => ({
  id: r.id,
  vcenterId: r.vcenter_id,
  version: r.version,
  host: r.host,
  timeZone: r.time_zone,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
});

/** alive while the last heartbeat is younger than the lease (a clock a little ahead of ours counts as age 0). */
export function withHealth(r: ConnectorRecord, now: Date, leaseMs: number): ConnectorWithHealth {
  const heartbeatAgeMs = Math.max(0, now.getTime() - Date.parse(r.heartbeatAt));
  return { ...r, heartbeatAgeMs, health: heartbeatAgeMs < leaseMs ? 'alive' : 'lost' };
}

const UPSERT_COLUMNS = 'id, vcenter_id, version, host, time_zone, started_at, heartbeat_at';
// A restart keeps the id but is a new process: started_at, version and host follow the newest heartbeat.
const UPSERT_UPDATE =
  'vcenter_id = excluded.vcenter_id, version = excluded.version, host = excluded.host, time_zone = excluded.time_zone, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at';

export class SqliteConnectorRegistry implements ConnectorRegistry {
  private handle: Database | undefined;

  /** Opens its own connection on the store's file (as the engine's repositories do); the schema steps run on open. */
  constructor(
    private readonly file: string,
    private readonly leaseMs: number,
  ) {}

  private db(): Database {
    return (this.handle ??= openSqlite(this.file).db);
  }

  async heartbeat(me: ConnectorEntry, now: Date): Promise<void> {
    this.db()
      .prepare(`INSERT INTO connectors (${UPSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ${UPSERT_UPDATE}`)
      .run(me.id, me.vcenterId, me.version, me.host, me.timeZone, me.startedAt, now.toISOString());
  }

  async list(now: Date): Promise<ConnectorWithHealth[]> {
    const rows = this.db().prepare('SELECT * FROM connectors ORDER BY id').all() as Row[];
    return rows.map((r) => withHealth(toRecord(r), now, this.leaseMs));
  }

  async get(id: string): Promise<ConnectorRecord | undefined> {
    const row = this.db().prepare('SELECT * FROM connectors WHERE id = ?').get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async close(): Promise<void> {
    this.handle?.close();
    this.handle = undefined;
  }
}

/** On the fleet's PostgreSQL; the pool belongs to the store, which closes it. */
export class PgConnectorRegistry implements ConnectorRegistry {
  constructor(
    private readonly db: PgQueryable,
    private readonly leaseMs: number,
  ) {}

  async heartbeat(me: ConnectorEntry, now: Date): Promise<void> {
    await this.db.query(`INSERT INTO connectors (${UPSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET ${UPSERT_UPDATE}`, [
      me.id,
      me.vcenterId,
      me.version,
      me.host,
      me.timeZone,
      me.startedAt,
      now.toISOString(),
    ]);
  }

  async list(now: Date): Promise<ConnectorWithHealth[]> {
    const { rows } = await this.db.query<Row>('SELECT * FROM connectors ORDER BY id COLLATE "C"');
    return rows.map((r) => withHealth(toRecord(r), now, this.leaseMs));
  }

  async get(id: string): Promise<ConnectorRecord | undefined> {
    const { rows } = await this.db.query<Row>('SELECT * FROM connectors WHERE id = $1', [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async close(): Promise<void> {}
}
