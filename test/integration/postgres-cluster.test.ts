import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
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

  it('a caller killed outright (SIGKILL) leaves no server and no directory behind', async () => {
    const script = `import { startPostgresCluster } from ${JSON.stringify(new URL('../../lab/postgres/cluster.ts', import.meta.url).pathname)};
      const c = await startPostgresCluster(); console.log(JSON.stringify({ dir: c.dir, port: c.port })); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ dir: string; port: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { dir: string; port: number });
      });
      child.on('exit', (code) => reject(new Error(`the child exited (${code}) before its cluster started`)));
    });
    expect(existsSync(started.dir)).toBe(true);
    expect(await accepts(started.port)).toBe(true);
    child.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    while ((existsSync(started.dir) || (await accepts(started.port))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await accepts(started.port)).toBe(false);
    expect(existsSync(started.dir)).toBe(false);
  });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
