import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../connector/store/postgres/database.ts';
import { PG_MIGRATIONS } from '../../connector/store/postgres/migrations/index.ts';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { migrate } from '../../connector/store/sqlite/database.ts';
import { MIGRATIONS } from '../../connector/store/sqlite/migrations/index.ts';
import { freshDatabase } from '../support/postgres.ts';

const open: PgDatabase[] = [];
afterAll(async () => Promise.all(open.map((d) => d.close())));
const pgDatabase = async (url?: string) => {
  const db = new PgDatabase(pgConfigFromUrl(url ?? (await freshDatabase())));
  open.push(db);
  return db;
};

describe('schema steps on both backends', () => {
  it('PostgreSQL and SQLite have the same steps: same versions, same names, same order', () => {
    expect(PG_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
  });

  it('after every step both backends have the same tables with the same columns', async () => {
    const lite = new Database(':memory:');
    migrate(lite, MIGRATIONS);
    const liteTables = (lite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((t) => t.name);
    const liteSchema = Object.fromEntries(
      liteTables.map((t) => [t, (lite.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY name`).all(t) as { name: string }[]).map((c) => c.name)]),
    );
    lite.close();

    const db = await pgDatabase();
    await db.migrate();
    const cols = await db.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name COLLATE "C"`,
    );
    const pgSchema: Record<string, string[]> = {};
    for (const r of cols.rows) (pgSchema[r.table_name] ??= []).push(r.column_name);
    for (const t of Object.keys(liteSchema)) liteSchema[t]!.sort();
    for (const t of Object.keys(pgSchema)) pgSchema[t]!.sort();
    expect(pgSchema).toEqual(liteSchema);
  });

  it('three connectors starting together on one new database apply each step exactly once', async () => {
    const url = await freshDatabase();
    const runners = await Promise.all([pgDatabase(url), pgDatabase(url), pgDatabase(url)]);
    const reports = await Promise.all(runners.map((r) => r.migrate()));
    const appliedBy = reports.flatMap((r) => r.applied.map((a) => a.version)).sort((a, b) => a - b);
    expect(appliedBy).toEqual(PG_MIGRATIONS.map((m) => m.version));
    const recorded = await runners[0]!.query<{ version: number; n: number }>('SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version');
    expect(recorded.rows).toEqual(PG_MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
    // Each report says the schema ended at the latest step.
    for (const r of reports) expect(r.to).toBe(PG_MIGRATIONS.length);
    // A fourth start later finds nothing to do.
    expect((await (await pgDatabase(url)).migrate()).applied).toEqual([]);
  });

  it('a failing step rolls back, names the step, and leaves the earlier steps recorded', async () => {
    const db = await pgDatabase();
    const broken = [...PG_MIGRATIONS.slice(0, 2), { version: 3, name: 'broken step', up: async (c: { query: (s: string) => Promise<unknown> }) => void (await c.query('CREATE TABLE half_done (x int); SELECT no_such_column FROM environments')) }];
    await expect(db.migrate(broken)).rejects.toThrow(/Schema step 3 \(broken step\) failed on PostgreSQL: .*no_such_column/);
    const versions = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2]);
    const half = await db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'half_done'`);
    expect(half.rowCount).toBe(0);
    // The lock was released: the real steps apply afterwards.
    expect((await db.migrate()).applied.map((a) => a.version)[0]).toBe(3);
  });

  it('refuses a database written by a newer connector, saying what to do', async () => {
    const db = await pgDatabase();
    await db.migrate();
    await db.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00.000Z')`);
    await expect(db.migrate()).rejects.toThrow(/schema version 999, newer than this connector knows .* Upgrade this connector/);
  });

  it('tx commits what resolves and rolls back what throws, on one client', async () => {
    const db = await pgDatabase();
    await db.query('CREATE TABLE t (x int PRIMARY KEY)');
    await db.tx(async (c) => {
      await c.query('INSERT INTO t VALUES (1)');
      // Same client: the uncommitted row is visible inside the transaction.
      expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0]!.n).toBe(1);
    });
    await expect(
      db.tx(async (c) => {
        await c.query('INSERT INTO t VALUES (2)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await db.query('SELECT array_agg(x ORDER BY x) AS xs FROM t')).rows[0]!.xs).toEqual([1]);
    // BIGINT comes back as a number, as from SQLite.
    expect((await db.query('SELECT 9007199254740991::bigint AS big')).rows[0]!.big).toBe(9007199254740991);
  });
});
