import pg from 'pg';
import { AppError } from '../../errors.ts';
import type { MigrationReport } from '../sqlite/database.ts';
import { PG_MIGRATIONS, type PgMigration } from './migrations/index.ts';

export interface PgResult<R> {
  rows: R[];
  rowCount: number | null;
}

/** What a query runs on: the database, or the one client of a transaction. */
export interface PgQueryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<PgResult<R>>;
}

// BIGINT (int8) columns come back as numbers: ids, seq numbers and epoch milliseconds all fit in 2^53, and the row
// mappers are shared with SQLite, which returns numbers. Per pool, not pg's process-wide parser table.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

// Errors that mean "the database cannot be reached or refuses us", as opposed to a bad statement.
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '28P01', '28000', '3D000', '57P01', '57P02', '57P03', '53300']);
function isUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && UNREACHABLE_CODES.has(e.code)) return true;
  return /^(Connection terminated|timeout exceeded when trying to connect)/.test(e.message ?? '');
}

export interface PgDatabaseOptions {
  /** Shown in errors: user@host:port/database (never a password). */
  describe?: string;
  /** An idle client's connection dropped (server restart, network). */
  onError?: (err: Error) => void;
  /** Runs once before the first query (schema steps, seed rows); retried on the next query if it fails. */
  prepare?: (raw: PgQueryable) => Promise<void>;
}

/** The shared PostgreSQL database of a fleet: a pg pool, transactions on one client, versioned schema steps. */
export class PgDatabase implements PgQueryable {
  readonly pool: pg.Pool;
  readonly describe: string;
  private readonly prepare: ((raw: PgQueryable) => Promise<void>) | undefined;
  private prepared: Promise<void> | undefined;

  constructor(config: pg.PoolConfig, opts: PgDatabaseOptions = {}) {
    this.pool = new pg.Pool({ max: 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000, ...config, types });
    this.describe = opts.describe ?? `${config.user ?? ''}@${config.host ?? ''}:${config.port ?? 5432}/${config.database ?? ''}`;
    this.prepare = opts.prepare;
    // Must be handled, or pg's 'error' event would end the process.
    this.pool.on('error', (err) => opts.onError?.(err));
  }

  /** Resolves once the schema is up to date; the store's first query waits for it. */
  ready(): Promise<void> {
    if (!this.prepare) return Promise.resolve();
    this.prepared ??= this.prepare(this.raw()).catch((err: unknown) => {
      this.prepared = undefined;
      throw this.explain(err);
    });
    return this.prepared;
  }

  async query<R extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<PgResult<R>> {
    await this.ready();
    try {
      return (await this.pool.query(sql, params)) as unknown as PgResult<R>;
    } catch (err) {
      throw this.explain(err);
    }
  }

  /** Runs `fn` in one transaction on one client: COMMIT when it resolves, ROLLBACK when it throws. */
  async tx<T>(fn: (client: PgQueryable) => Promise<T>, opts: { isolation?: 'read committed' | 'repeatable read' | 'serializable' } = {}): Promise<T> {
    await this.ready();
    const client = await this.pool.connect().catch((err: unknown) => Promise.reject(this.explain(err)));
    let broken: Error | undefined;
    try {
      await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
      try {
        const result = await fn({ query: (sql, params) => client.query(sql, params) as never });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      }
    } catch (err) {
      throw this.explain(err);
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

  private raw(): PgQueryable {
    return { query: (sql, params) => this.pool.query(sql, params) as never };
  }

  /** A lost or refused connection becomes STORE_UNAVAILABLE with what to check; statement errors pass unchanged. */
  private explain(err: unknown): unknown {
    if (err instanceof AppError || !isUnreachable(err)) return err;
    return new AppError(
      503,
      'STORE_UNAVAILABLE',
      `The connector cannot use its PostgreSQL database ${this.describe}: ${(err as Error).message}. Check store.url, that the server accepts connections from this host, and the password in store.passwordFile or VM2EC2_STORE_PASSWORD.`,
    );
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
  const q: PgQueryable = { query: (sql, params) => client.query(sql, params) as never };
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
          await m.up(q);
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
