import type { PgMigration } from './types.ts';

/** Issue 18: each environment carries the migration form's Advanced defaults as one JSON document. */
export const environmentImportDefaults: PgMigration = {
  version: 6,
  name: 'environments carry import defaults',
  async up(db) {
    await db.query(
      `ALTER TABLE environments ADD COLUMN import_defaults TEXT NOT NULL DEFAULT '{"licenseType":"AWS","encryption":{"encrypted":false},"tags":[]}'`,
    );
  },
};
