// PostgreSQL as the connector's store: selected by store.url, the password from a file or the environment (never the
// URL), a clear 503 when the database cannot be used, and the password in no message.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../connector/config-file.ts';
import { AppError } from '../../connector/errors.ts';
import { createStore, PgStore, SqliteStore } from '../../connector/store/index.ts';
import { readStorePassword } from '../../connector/store/postgres/password.ts';
import { startPostgresCluster, type PostgresCluster } from '../../lab/postgres/cluster.ts';
import { reservePort } from '../../lab/ports.ts';

const SECRET = 'fleet-Pa55-word';
let dir: string;
let cluster: PostgresCluster;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-pgstore-'));
  // Its own cluster: the run's shared one trusts every login, this one asks for the password as production does.
  cluster = await startPostgresCluster({ password: SECRET });
});
afterAll(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

const minimal = { vcenter: { url: 'https://vc.example.com' } };
const problemsOf = async (raw: unknown, env: NodeJS.ProcessEnv = {}): Promise<string[]> => {
  try {
    await resolveConfig(raw, { env, baseDir: dir });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('store.url in the configuration', () => {
  it('is refused with a password in it, saying where the password goes, without repeating it', async () => {
    const problems = await problemsOf({ ...minimal, store: { url: `postgres://vm2ec2:${SECRET}@db.example.com/vm2ec2` } });
    expect(problems).toEqual([expect.stringMatching(/^store\.url: must not contain a password .* store\.passwordFile, or in the environment variable VM2EC2_STORE_PASSWORD$/)]);
    expect(problems.join()).not.toContain(SECRET);
  });

  it('names what is missing or wrong in a URL', async () => {
    expect(await problemsOf({ ...minimal, store: { url: 'mysql://a@b/c' } })).toEqual([expect.stringMatching(/^store\.url: must start with postgres:\/\//)]);
    expect(await problemsOf({ ...minimal, store: { url: 'postgres://db.example.com/vm2ec2' } })).toEqual([expect.stringMatching(/^store\.url: must name the user, the host and the database/)]);
    expect(await problemsOf({ ...minimal, store: { url: 'postgres://a@b/c', sqliteFile: 'x.sqlite' } })).toEqual([expect.stringMatching(/store\.url .* or store\.sqliteFile .* not both/)]);
    expect(await problemsOf({ ...minimal, store: { passwordFile: '/etc/vm2ec2/pg' } })).toEqual([expect.stringMatching(/store\.passwordFile .* needs store\.url/)]);
  });

  it('comes from VM2EC2_STORE_URL and VM2EC2_STORE_PASSWORD_FILE too, the file relative to the configuration', async () => {
    const config = await resolveConfig(minimal, { env: { VM2EC2_STORE_URL: 'postgres://vm2ec2@db.example.com:6432/fleet', VM2EC2_STORE_PASSWORD_FILE: 'pg-password' }, baseDir: dir });
    expect(config.store).toEqual({ url: 'postgres://vm2ec2@db.example.com:6432/fleet', passwordFile: join(dir, 'pg-password') });
  });
});

describe('the store password', () => {
  it('is read from a file only its owner can read; a file others can read is refused with the chmod to run', async () => {
    const file = join(dir, 'pw-open');
    await writeFile(file, `${SECRET}\n`);
    await chmod(file, 0o644);
    expect(() => readStorePassword({ passwordFile: file, env: {} })).toThrow(new RegExp(`can be read by other users \\(mode 644\\); restrict it with chmod 600 ${file}`));
    await chmod(file, 0o600);
    expect(readStorePassword({ passwordFile: file, env: { VM2EC2_STORE_PASSWORD: 'ignored' } })).toBe(SECRET);
    expect(() => readStorePassword({ passwordFile: join(dir, 'nothing-here'), env: {} })).toThrow(/store\.passwordFile: cannot read .*nothing-here \(ENOENT\)/);
  });

  it('falls back to VM2EC2_STORE_PASSWORD, else none', () => {
    expect(readStorePassword({ env: { VM2EC2_STORE_PASSWORD: SECRET } })).toBe(SECRET);
    expect(readStorePassword({ env: {} })).toBeUndefined();
  });
});

describe('createStore on PostgreSQL', () => {
  it('is SQLite without store.url, PostgreSQL with it', async () => {
    const lite = createStore({ dataDir: dir, sqliteFile: ':memory:', defaultRegion: 'us-east-1' });
    expect(lite).toBeInstanceOf(SqliteStore);
    expect(lite.backend).toEqual({ kind: 'sqlite', file: ':memory:' });
    await lite.close();
  });

  it('logs in with the password from the file and keeps the data where every connector of the fleet sees it', async () => {
    const file = join(dir, 'pw');
    await writeFile(file, SECRET, { mode: 0o600 });
    const a = createStore({ dataDir: dir, url: cluster.url, passwordFile: file, defaultRegion: 'eu-west-1', env: {} });
    const b = createStore({ dataDir: join(dir, 'other'), url: cluster.url, defaultRegion: 'us-east-1', env: { VM2EC2_STORE_PASSWORD: SECRET } });
    try {
      expect(a).toBeInstanceOf(PgStore);
      expect(a.backend.kind).toBe('postgres');
      const env = await a.environments.create({ name: 'Shared', description: '', region: 'eu-west-1', vpcId: null, subnetIds: [], securityGroupIds: [], instanceTypes: [] });
      expect(await b.environments.get(env.id)).toEqual(env);
      // The first connector created the default environment in its region; the second found it.
      expect((await b.environments.get('env-default'))?.region).toBe('eu-west-1');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a wrong password is STORE_UNAVAILABLE naming where the password comes from, and the password is in no message', async () => {
    const store = createStore({ dataDir: dir, url: cluster.url, defaultRegion: 'us-east-1', env: { VM2EC2_STORE_PASSWORD: 'not-the-password' } });
    try {
      const err = (await store.environments.list().catch((e: unknown) => e)) as AppError;
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ statusCode: 503, code: 'STORE_UNAVAILABLE' });
      expect(err.message).toMatch(/password authentication failed for user "vm2ec2".*store\.passwordFile or VM2EC2_STORE_PASSWORD/);
      expect(err.message).not.toContain('not-the-password');
      expect(JSON.stringify(err)).not.toContain('not-the-password');
    } finally {
      await store.close();
    }
  });

  it('an unreachable server is STORE_UNAVAILABLE, and the store works once the server is there', async () => {
    const port = await reservePort();
    const url = `postgres://vm2ec2@127.0.0.1:${port}/postgres`;
    const store = createStore({ dataDir: dir, url, defaultRegion: 'us-east-1', env: { VM2EC2_STORE_PASSWORD: SECRET } });
    const late = await (async () => {
      const err = (await store.environments.list().catch((e: unknown) => e)) as AppError;
      expect(err).toMatchObject({ statusCode: 503, code: 'STORE_UNAVAILABLE', message: expect.stringMatching(new RegExp(`vm2ec2@127\\.0\\.0\\.1:${port}/postgres: .*ECONNREFUSED.*Check store\\.url`)) });
      // The database comes up after the connector: the next request prepares the schema and succeeds.
      return startPostgresCluster({ port, password: SECRET });
    })();
    try {
      expect((await store.environments.list()).map((e) => e.id)).toEqual(['env-default']);
    } finally {
      await store.close();
      await late.stop();
    }
  });
});
