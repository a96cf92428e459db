import type { PgMigration } from './types.ts';

export const initial: PgMigration = {
  version: 1,
  name: 'environments, permissions, audit log, used import tokens, settings',
  async up(db) {
    await db.query(`
      CREATE TABLE environments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        is_default SMALLINT NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
        region TEXT NOT NULL,
        vpc_id TEXT,
        subnet_ids TEXT NOT NULL DEFAULT '[]',
        security_group_ids TEXT NOT NULL DEFAULT '[]',
        instance_types TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- Names are unique ignoring case, as SQLite's COLLATE NOCASE.
      CREATE UNIQUE INDEX environments_name_nocase ON environments (lower(name));
      CREATE UNIQUE INDEX environments_single_default ON environments (is_default) WHERE is_default = 1;

      CREATE TABLE environment_permissions (
        environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
        principal TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('NoAccess', 'ReadOnly', 'General', 'Owner')),
        PRIMARY KEY (environment_id, principal)
      );
      CREATE INDEX environment_permissions_by_principal ON environment_permissions (principal);

      -- No foreign key: the audit trail outlives deleted environments.
      CREATE TABLE audit_log (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        environment_id TEXT,
        vm_id TEXT,
        code TEXT,
        message TEXT NOT NULL,
        details TEXT
      );
      CREATE INDEX audit_log_by_environment ON audit_log (environment_id, id);
      CREATE INDEX audit_log_by_actor ON audit_log (actor, id);

      CREATE TABLE used_import_tokens (
        jti TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX used_import_tokens_by_expiry ON used_import_tokens (expires_at);

      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `);
  },
};
