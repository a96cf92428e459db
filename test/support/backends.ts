// The store backends every store/engine suite runs on: `describe.each(BACKENDS)('… ($name)', (backend) => …)`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { PgStore, SqliteStore, type Store } from '../../connector/store/index.ts';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { freshDatabase } from './postgres.ts';

export interface StoreOpts {
  defaultRegion?: string;
  now?: () => Date;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A store on a new, empty database. */
  openStore(opts?: StoreOpts): Promise<SqliteStore | PgStore>;
  /**
   * `n` stores on ONE new database, each with its own connection(s): several connectors sharing a store (on SQLite,
   * several handles on one file).
   */
  openStores(n: number, opts?: StoreOpts): Promise<(SqliteStore | PgStore)[]>;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const storeOpts = (o: StoreOpts = {}) => ({ defaultRegion: o.defaultRegion ?? 'us-east-1', ...(o.now ? { now: o.now } : {}) });

export const sqliteBackend: Backend = {
  name: 'sqlite',
  openStore: async (o) => new SqliteStore(':memory:', storeOpts(o)),
  openStores: async (n, o) => {
    const dir = mkdtempSync(join(tmpdir(), 'vm2ec2-backend-'));
    tempDirs.push(dir);
    return Array.from({ length: n }, () => new SqliteStore(join(dir, 'connector.sqlite'), storeOpts(o)));
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  openStore: async (o) => PgStore.create(pgConfigFromUrl(await freshDatabase('store')), storeOpts(o)),
  openStores: async (n, o) => {
    const url = await freshDatabase('store');
    return Array.from({ length: n }, () => PgStore.create(pgConfigFromUrl(url), storeOpts(o)));
  },
};

export const BACKENDS: readonly Backend[] = [sqliteBackend, postgresBackend];

/** Closes every store given (for afterEach). */
export async function closeAll(stores: readonly Store[]): Promise<void> {
  await Promise.all(stores.map((s) => s.close()));
}
