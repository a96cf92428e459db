import pg from 'pg';
import type { MigrationReport } from '../sqlite/database.ts';
import { PG_MIGRATIONS, type PgMigration } from './migrations/index.ts';

/** What a query runs on: the pool, or the one client of a transaction. */
export interface PgQueryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

// BIGINT (int8) columns come back as numbers: ids, seq numbers and epoch milliseconds all fit in 2^53, and the row
// mappers are shared with SQLite, which returns numbers. Per pool, not pg's process-wide parser table.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The shared PostgreSQL database of a fleet: a pg pool, transactions on one client, versioned schema steps. */
export class PgDatabase implements PgQueryable {
  readonly pool: pg.Pool;

  constructor(config: pg.PoolConfig, opts: { onError?: (err: Error) => void } = {}) {
    this.pool = new pg.Pool({ max: 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000, ...config, types });
    // An idle client's connection can drop (server restart, network); pg emits it here and it must not crash the process.
    this.pool.on('error', (err) => opts.onError?.(err));
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, params);
  }

  /** Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws. */
  async tx<T>(fn: (client: PgQueryable) => Promise<T>, opts: { isolation?: 'read committed' | 'repeatable read' | 'serializable' } = {}): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      }
    } finally {
      // A client whose ROLLBACK failed may be mid-transaction: destroy it rather than hand it to the next caller.
      client.release(broken);
    }
  }

  /** Brings the schema up to date (see migrations/index.ts); safe when several connectors start together. */
  migrate(migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<MigrationReport> {
    return migratePg(this.pool, migrations);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

// Any fixed 64-bit key; advisory locks are per database, so fleets on other databases of the server do not wait.
const SCHEMA_LOCK = 7_316_502_118_804_004;

/**
 * Applies the steps the database has not seen, each in its own transaction, all under one session advisory lock:
 * connectors starting together queue on the lock and the later ones find the steps already recorded.
 */
export async function migratePg(pool: pg.Pool, migrations: readonly PgMigration[]): Promise<MigrationReport> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Schema migration #${i + 1} has version ${m.version}: versions must be 1, 2, 3, … in order`);
  });
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`);
      const current = Number((await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0]!.v);
      const latest = migrations.at(-1)?.version ?? 0;
      if (current > latest) {
        throw new Error(
          `The connector database has schema version ${current}, newer than this connector knows (${latest}). ` +
            'Upgrade this connector to the version the rest of the fleet runs.',
        );
      }
      const applied: MigrationReport['applied'] = [];
      for (const m of migrations) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await m.up(client);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch((e: Error) => (broken = e));
          throw new Error(`Schema step ${m.version} (${m.name}) failed on PostgreSQL: ${(err as Error).message}`, { cause: err });
        }
        applied.push({ version: m.version, name: m.name });
      }
      return { from: current, to: Math.max(current, latest), applied };
    } finally {
      if (!broken) await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch((e: Error) => (broken = e));
    }
  } finally {
    client.release(broken);
  }
}
