import type { SqliteMigration } from './types.ts';

/**
 * Issue 18: each environment carries the defaults of the migration form's Advanced section (licence type, encryption,
 * tags) as one JSON document; existing environments get what imports did before: AWS licence, unencrypted, no tags.
 */
export const environmentImportDefaults: SqliteMigration = {
  version: 6,
  name: 'environments carry import defaults',
  up(db) {
    db.exec(
      `ALTER TABLE environments ADD COLUMN import_defaults TEXT NOT NULL DEFAULT '{"licenseType":"AWS","encryption":{"encrypted":false},"tags":[]}';`,
    );
  },
};
