import { join, resolve } from 'node:path';
import { PgStore } from './postgres/store.ts';
import { readStorePassword } from './postgres/password.ts';
import { pgConfigFromUrl } from './postgres/url.ts';
import { SqliteStore } from './sqlite/store.ts';

export * from './types.ts';
export { SqliteStore } from './sqlite/store.ts';
export { PgStore } from './postgres/store.ts';

export interface StoreOptions {
  dataDir: string;
  /** SQLite file; default `<dataDir>/connector.sqlite`. */
  sqliteFile?: string | undefined;
  /** PostgreSQL (postgres://user@host:port/database, no password): the fleet's shared store. */
  url?: string | undefined;
  passwordFile?: string | undefined;
  defaultRegion: string;
  env?: NodeJS.ProcessEnv;
  /** A dropped idle PostgreSQL connection (the pool reconnects by itself). */
  onError?: (err: Error) => void;
}

/** The connector's store as configured: PostgreSQL when `url` is set, else SQLite in the data directory. */
export function createStore(opts: StoreOptions & { url?: undefined }): SqliteStore;
export function createStore(opts: StoreOptions): SqliteStore | PgStore;
export function createStore(opts: StoreOptions): SqliteStore | PgStore {
  if (opts.url) {
    const config = pgConfigFromUrl(opts.url, readStorePassword({ passwordFile: opts.passwordFile, env: opts.env }));
    return PgStore.create(config, { defaultRegion: opts.defaultRegion, ...(opts.onError ? { onError: opts.onError } : {}) });
  }
  const file = opts.sqliteFile ?? join(opts.dataDir, 'connector.sqlite');
  return new SqliteStore(file === ':memory:' ? file : resolve(file), { defaultRegion: opts.defaultRegion });
}
