import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPostgresCluster } from '../../lab/postgres/cluster.ts';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { freshDatabase } from '../support/postgres.ts';

describe('test PostgreSQL harness', () => {
  it('gives each caller its own empty database on the run\'s cluster', async () => {
    const [a, b] = await Promise.all([freshDatabase(), freshDatabase()]);
    expect(a).not.toBe(b);
    const ca = new pg.Client({ connectionString: a });
    const cb = new pg.Client({ connectionString: b });
    await Promise.all([ca.connect(), cb.connect()]);
    try {
      await ca.query('CREATE TABLE only_in_a (x int)');
      const seen = await cb.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'`);
      expect(seen.rows[0].n).toBe(0);
      const host = await ca.query(`SELECT inet_server_addr()::text AS addr, current_setting('fsync') AS fsync`);
      expect(host.rows[0]).toEqual({ addr: '127.0.0.1/32', fsync: 'off' });
    } finally {
      await Promise.all([ca.end(), cb.end()]);
    }
  });

  it('a cluster with a password refuses a login without it, and stop() ends the server and removes its directory', async () => {
    const { existsSync } = await import('node:fs');
    const cluster = await startPostgresCluster({ password: 'lab-Secret-1' });
    try {
      const anonymous = new pg.Client(pgConfigFromUrl(cluster.url, 'wrong'));
      await expect(anonymous.connect()).rejects.toThrow(/password authentication failed/);
      const ok = new pg.Client(pgConfigFromUrl(cluster.url, 'lab-Secret-1'));
      await ok.connect();
      expect((await ok.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      await ok.end();
    } finally {
      await cluster.stop();
    }
    expect(existsSync(cluster.dir)).toBe(false);
    const late = new pg.Client({ ...pgConfigFromUrl(cluster.url, 'lab-Secret-1'), connectionTimeoutMillis: 2000 });
    await expect(late.connect()).rejects.toThrow();
  });
});
