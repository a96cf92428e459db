import { join, resolve } from 'node:path';
import { SqliteStore } from './sqlite/store.ts';

export * from './types.ts';
export { SqliteStore } from './sqlite/store.ts';

/** The connector's store as configured: SQLite in the data directory unless a file is named. */
export function createStore(opts: { dataDir: string; sqliteFile?: string | undefined; defaultRegion: string }): SqliteStore {
  const file = opts.sqliteFile ?? join(opts.dataDir, 'connector.sqlite');
  return new SqliteStore(file === ':memory:' ? file : resolve(file), { defaultRegion: opts.defaultRegion });
}
