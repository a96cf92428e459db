import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStore, DEFAULT_ENVIRONMENT_ID, StoreConflictError, type Store } from '../../connector/store/index.ts';
import { migrate, openSqlite } from '../../connector/store/sqlite/database.ts';
import { MIGRATIONS } from '../../connector/store/sqlite/migrations/index.ts';
import { AppError } from '../../connector/errors.ts';
import { BACKENDS, closeAll } from '../support/backends.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-store-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const fields = (name: string, region = 'us-east-1') => ({
  name,
  description: '',
  region,
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-0123456789abcdef0'],
  securityGroupIds: ['sg-0123456789abcdef0'],
  instanceTypes: ['m5.large'],
});

describe('SQLite schema migrations', () => {
  it('applies every migration once, in order, and records it', () => {
    const file = join(dir, 'migrate.sqlite');
    const first = openSqlite(file);
    expect(first.report.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(first.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(first.db.pragma('foreign_keys', { simple: true })).toBe(1);
    first.db.close();
    const again = openSqlite(file);
    expect(again.report.applied).toEqual([]);
    const recorded = again.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    expect(recorded).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    again.db.close();
  });

  it('refuses a database written by a newer connector', () => {
    const db = new Database(':memory:');
    migrate(db, MIGRATIONS);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(MIGRATIONS.length + 1, 'future', 'x');
    expect(() => migrate(db, MIGRATIONS)).toThrow(/newer than this connector knows/);
    db.close();
  });

  it('rolls a failing migration back entirely', () => {
    const db = new Database(':memory:');
    const broken = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, name: 'half done', up: (d: Database.Database) => d.exec('CREATE TABLE half (x); SELECT * FROM nowhere;') },
    ];
    expect(() => migrate(db, broken)).toThrow();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    expect((db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v).toBe(MIGRATIONS.length);
    db.close();
  });

  it('keeps the database file private to the connector user', async () => {
    const store = createStore({ dataDir: join(dir, 'private'), defaultRegion: 'us-east-1' });
    await store.environments.list();
    expect((await stat(join(dir, 'private', 'connector.sqlite'))).mode & 0o777).toBe(0o600);
    await store.close();
  });
});

describe('an unusable data directory', () => {
  it('is reported as STORE_UNAVAILABLE with what to fix', async () => {
    const notADir = join(dir, 'a-file');
    await writeFile(notADir, 'x');
    const store = createStore({ dataDir: notADir, defaultRegion: 'us-east-1' });
    const err = await store.environments.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ statusCode: 503, code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/writable by the connector's user/) });
    await store.close();
  });
});

describe.each(BACKENDS)('store repositories ($name)', (backend) => {
  let store: Store;
  beforeEach(async () => {
    store = await backend.openStore({ defaultRegion: 'eu-west-1' });
  });
  afterEach(async () => store.close());

  it('starts with the default environment in the configured region', async () => {
    const [only, ...rest] = await store.environments.list();
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ id: DEFAULT_ENVIRONMENT_ID, isDefault: true, region: 'eu-west-1', vpcId: null, subnetIds: [] });
  });

  it('creates, updates and deletes environments with unique names (case-insensitive)', async () => {
    const prod = await store.environments.create(fields('Production'));
    expect(prod.id).toMatch(/^env-[0-9a-f]{12}$/);
    expect(await store.environments.get(prod.id)).toEqual(prod);
    await expect(store.environments.create(fields('production'))).rejects.toBeInstanceOf(StoreConflictError);
    const test = await store.environments.create(fields('Test', 'us-west-2'));
    await expect(store.environments.update(test.id, fields('PRODUCTION'))).rejects.toBeInstanceOf(StoreConflictError);
    const renamed = await store.environments.update(test.id, { ...fields('Staging', 'us-west-2'), instanceTypes: [] });
    expect(renamed).toMatchObject({ name: 'Staging', region: 'us-west-2', instanceTypes: [] });
    expect(await store.environments.update('env-nothere', fields('X'))).toBeUndefined();
    expect((await store.environments.list()).map((e) => e.name)).toEqual(['Default', 'Production', 'Staging']);
    expect(await store.environments.delete(prod.id)).toBe(true);
    expect(await store.environments.delete(prod.id)).toBe(false);
  });

  it('replaces permissions atomically and drops them with the environment', async () => {
    const env = await store.environments.create(fields('Prod'));
    expect(await store.permissions.replace(env.id, [{ principal: 'a@x', role: 'General' }, { principal: 'b@x', role: 'ReadOnly' }])).toEqual([]);
    const before = await store.permissions.replace(env.id, [{ principal: 'a@x', role: 'Owner' }]);
    expect(before.map((p) => [p.principal, p.role])).toEqual([
      ['a@x', 'General'],
      ['b@x', 'ReadOnly'],
    ]);
    expect(await store.permissions.forPrincipal('a@x')).toEqual(new Map([[env.id, 'Owner']]));
    expect(await store.permissions.forPrincipal('b@x')).toEqual(new Map());
    await expect(store.permissions.replace(env.id, [{ principal: 'c@x', role: 'Superuser' as never }])).rejects.toThrow();
    expect((await store.permissions.list(env.id)).map((p) => p.principal)).toEqual(['a@x']);
    await store.environments.delete(env.id);
    expect(await store.permissions.forPrincipal('a@x')).toEqual(new Map());
  });

  it('pages and filters the audit log, newest first', async () => {
    for (let i = 1; i <= 5; i++) {
      await store.audit.append({
        actor: i % 2 ? 'a@x' : 'b@x',
        action: 'import.authorize',
        outcome: i === 3 ? 'denied' : 'granted',
        environmentId: 'env-1',
        message: `entry ${i}`,
        ...(i === 3 ? { code: 'NO_ENVIRONMENT_PERMISSION', details: { role: 'ReadOnly' } } : {}),
      });
    }
    const page1 = await store.audit.query({ limit: 2 });
    expect(page1.map((e) => e.message)).toEqual(['entry 5', 'entry 4']);
    const page2 = await store.audit.query({ limit: 2, before: page1[1]!.id });
    expect(page2.map((e) => e.message)).toEqual(['entry 3', 'entry 2']);
    expect(page2[0]).toMatchObject({ outcome: 'denied', code: 'NO_ENVIRONMENT_PERMISSION', details: { role: 'ReadOnly' } });
    expect((await store.audit.query({ limit: 10, actor: 'b@x' })).map((e) => e.message)).toEqual(['entry 4', 'entry 2']);
    expect(await store.audit.query({ limit: 10, environmentId: 'env-2' })).toEqual([]);
  });

  it('accepts a token id once and forgets expired ones', async () => {
    const exp = new Date('2030-01-01T00:00:00Z');
    expect(await store.usedTokens.consume('jti-1', exp)).toBe(true);
    expect(await store.usedTokens.consume('jti-1', exp)).toBe(false);
    expect(await store.usedTokens.purgeExpired(new Date('2029-12-31T00:00:00Z'))).toBe(0);
    expect(await store.usedTokens.purgeExpired(new Date('2030-01-02T00:00:00Z'))).toBe(1);
  });

  it('keeps the first value of a setting', async () => {
    expect(await store.settings.get('k')).toBeUndefined();
    expect(await store.settings.getOrInit('k', 'one')).toBe('one');
    expect(await store.settings.getOrInit('k', 'two')).toBe('one');
  });

  describe('several connectors on one store, in parallel', () => {
    let peers: Store[] = [];
    beforeEach(async () => {
      peers = await backend.openStores(4, { defaultRegion: 'eu-west-1' });
    });
    afterEach(async () => closeAll(peers));
    const each = <T>(n: number, fn: (s: Store, i: number) => Promise<T>) => Promise.allSettled(Array.from({ length: n }, (_, i) => fn(peers[i % peers.length]!, i)));

    it('starting together, they create one default environment', async () => {
      const lists = await Promise.all(peers.map((p) => p.environments.list()));
      for (const l of lists) expect(l.map((e) => e.id)).toEqual([DEFAULT_ENVIRONMENT_ID]);
    });

    it('of 8 creates of one name (any case), exactly one succeeds and the others get a name conflict', async () => {
      const results = await each(8, (s, i) => s.environments.create(fields(i % 2 ? 'Wave-1' : 'WAVE-1')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
        expect((r as PromiseRejectedResult).reason).toMatchObject({ field: 'name' });
      }
      expect((await peers[0]!.environments.list()).filter((e) => e.name.toLowerCase() === 'wave-1')).toHaveLength(1);
    });

    it('getOrInit: the first writer wins and every caller reads its value', async () => {
      const results = await each(12, (s, i) => s.settings.getOrInit('fleet.secret', `value-${i}`));
      const values = results.map((r) => (r as PromiseFulfilledResult<string>).value);
      expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
      expect(new Set(values).size).toBe(1);
      expect(values[0]).toMatch(/^value-\d+$/);
      expect(await peers[3]!.settings.get('fleet.secret')).toBe(values[0]);
    });

    it('an import token presented 12 times at once is accepted once', async () => {
      const exp = new Date(Date.now() + 60_000);
      const results = await each(12, (s) => s.usedTokens.consume('jti-replayed', exp));
      expect(results.map((r) => (r as PromiseFulfilledResult<boolean>).value).filter(Boolean)).toHaveLength(1);
    });

    it('permission lists replaced at once end as one of them, and each caller gets back the list it replaced', async () => {
      const env = await peers[0]!.environments.create(fields('Prod'));
      const lists = Array.from({ length: 6 }, (_, i) => [
        { principal: `user${i}@x`, role: 'General' as const },
        { principal: `shared@x`, role: i % 2 ? ('Owner' as const) : ('ReadOnly' as const) },
      ]);
      const results = await Promise.all(lists.map((l, i) => peers[i % peers.length]!.permissions.replace(env.id, l)));
      const key = (l: { principal: string; role: string }[]) => l.map((p) => `${p.principal}:${p.role}`).sort().join(',');
      const final = key(await peers[1]!.permissions.list(env.id));
      expect(lists.map(key)).toContain(final);
      // The replaced lists chain: exactly one caller replaced the empty list, and every other caller replaced a list one
      // of the others wrote (never a mix of two).
      const befores = results.map(key);
      expect(befores.filter((b) => b === '')).toHaveLength(1);
      for (const b of befores.filter((b) => b !== '')) expect(lists.map(key)).toContain(b);
      expect(new Set([...befores, final]).size).toBe(lists.length + 1);
    });
  });
});
