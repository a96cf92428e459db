import type { PgQueryable } from '../database.ts';

/** One schema step. Applied once across the fleet, in version order, inside a transaction, recorded in schema_migrations. */
export interface PgMigration {
  version: number;
  name: string;
  up(db: PgQueryable): Promise<void>;
}
