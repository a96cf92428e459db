import type { Database } from 'better-sqlite3';

/** One schema step. Applied once, in version order, inside a transaction, and recorded in schema_migrations. */
export interface SqliteMigration {
  version: number;
  name: string;
  up(db: Database): void;
}
