import type { PgMigration } from './types.ts';

/** Issue 15: notification targets, the durable outbox and the delivery log (see the SQLite step). */
export const notifications: PgMigration = {
  version: 7,
  name: 'notification targets, outbox and delivery log',
  async up(db) {
    await db.query(`
      CREATE TABLE notification_targets (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
        name TEXT NOT NULL,
        url TEXT,
        recipients TEXT,
        secret TEXT,
        events TEXT NOT NULL DEFAULT '[]',
        environment_ids TEXT NOT NULL DEFAULT '[]',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE notification_outbox (
        id TEXT PRIMARY KEY,
        target_id TEXT NOT NULL REFERENCES notification_targets (id) ON DELETE CASCADE,
        dedupe_key TEXT NOT NULL UNIQUE,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        done_at TEXT
      );
      CREATE INDEX notification_outbox_due ON notification_outbox (state, next_attempt_at);
      CREATE TABLE notification_attempts (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        target_id TEXT NOT NULL REFERENCES notification_targets (id) ON DELETE CASCADE,
        notification_id TEXT NOT NULL,
        event TEXT NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
        attempt INTEGER NOT NULL,
        status_code INTEGER,
        message TEXT NOT NULL,
        duration_ms INTEGER NOT NULL
      );
      CREATE INDEX notification_attempts_by_target ON notification_attempts (target_id, id);
    `);
  },
};
