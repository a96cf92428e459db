// Notification targets, the outbox and the delivery log in the connector's SQLite file (schema step 0007).
import { randomBytes } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { openSqlite, prepareCached } from '../store/sqlite/database.ts';
import type { NotificationDelivery, NotificationEventKind, NotificationPayload, NotificationTarget, NotificationTargetInput } from '../contract/index.ts';

/** A target as stored, secret included (never leaves the connector except once, when created). */
export interface TargetRecord extends Omit<NotificationTarget, 'lastDelivery'> {
  secret?: string;
}

export interface OutboxRow {
  id: string;
  targetId: string;
  event: NotificationEventKind | 'test';
  payload: NotificationPayload;
  attempts: number;
}

/** Delivery log entries kept per target. */
export const DELIVERY_LOG_SIZE = 50;

interface TargetRow {
  id: string;
  kind: 'webhook' | 'email';
  name: string;
  url: string | null;
  recipients: string | null;
  secret: string | null;
  events: string;
  environment_ids: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

const toTarget = (r: TargetRow): TargetRecord => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  ...(r.url !== null ? { url: r.url } : {}),
  ...(r.recipients !== null ? { recipients: JSON.parse(r.recipients) as string[] } : {}),
  ...(r.secret !== null ? { secret: r.secret } : {}),
  events: JSON.parse(r.events) as NotificationEventKind[],
  environmentIds: JSON.parse(r.environment_ids) as string[],
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const newId = (prefix: string, bytes = 8) => `${prefix}-${randomBytes(bytes).toString('hex')}`;

export class NotificationStore {
  private handle: Database | undefined;
  constructor(private readonly file: string) {}

  get db(): Database {
    this.handle ??= openSqlite(this.file).db;
    return this.handle;
  }
  private stmt(sql: string) {
    return prepareCached(this.db, sql);
  }

  listTargets(): TargetRecord[] {
    return (this.stmt('SELECT * FROM notification_targets ORDER BY created_at, id').all() as TargetRow[]).map(toTarget);
  }
  getTarget(id: string): TargetRecord | undefined {
    const row = this.stmt('SELECT * FROM notification_targets WHERE id = ?').get(id) as TargetRow | undefined;
    return row && toTarget(row);
  }

  /** A webhook target gets a new random signing secret, stored here and returned to the caller once. */
  createTarget(input: NotificationTargetInput, createdBy: string): TargetRecord {
    const now = new Date().toISOString();
    const id = newId('nt', 6);
    const secret = input.kind === 'webhook' ? randomBytes(32).toString('hex') : null;
    this.stmt(
      `INSERT INTO notification_targets (id, kind, name, url, recipients, secret, events, environment_ids, created_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      input.kind,
      input.name,
      input.kind === 'webhook' ? input.url : null,
      input.kind === 'email' ? JSON.stringify(input.recipients) : null,
      secret,
      JSON.stringify(input.events),
      JSON.stringify(input.environmentIds),
      createdBy,
      now,
      now,
    );
    return this.getTarget(id)!;
  }

  /** Replaces name, address and subscriptions; the kind and the secret stay. undefined when absent. */
  updateTarget(id: string, input: NotificationTargetInput): TargetRecord | undefined {
    const res = this.stmt(
      `UPDATE notification_targets SET name = ?, url = ?, recipients = ?, events = ?, environment_ids = ?, updated_at = ? WHERE id = ? AND kind = ?`,
    ).run(
      input.name,
      input.kind === 'webhook' ? input.url : null,
      input.kind === 'email' ? JSON.stringify(input.recipients) : null,
      JSON.stringify(input.events),
      JSON.stringify(input.environmentIds),
      new Date().toISOString(),
      id,
      input.kind,
    );
    return res.changes ? this.getTarget(id) : undefined;
  }

  deleteTarget(id: string): boolean {
    return this.stmt('DELETE FROM notification_targets WHERE id = ?').run(id).changes > 0;
  }

  /** Inserts unless (task, event, target) is already in the outbox; true when a row was added. */
  enqueue(dedupeKey: string, targetId: string, payload: NotificationPayload): boolean {
    const now = new Date().toISOString();
    return (
      this.stmt(
        `INSERT INTO notification_outbox (id, target_id, dedupe_key, event, payload, state, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
      ).run(payload.id, targetId, dedupeKey, payload.kind, JSON.stringify(payload), now, now).changes > 0
    );
  }

  /** Pending rows due now, oldest first. */
  due(now: Date, limit: number): OutboxRow[] {
    const rows = this.stmt(
      `SELECT id, target_id, event, payload, attempts FROM notification_outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
    ).all(now.toISOString(), limit) as { id: string; target_id: string; event: OutboxRow['event']; payload: string; attempts: number }[];
    return rows.map((r) => ({ id: r.id, targetId: r.target_id, event: r.event, payload: JSON.parse(r.payload) as NotificationPayload, attempts: r.attempts }));
  }

  /** The soonest pending row's due time (the worker sleeps until then). */
  nextDue(): string | undefined {
    return (this.stmt(`SELECT MIN(next_attempt_at) AS t FROM notification_outbox WHERE state = 'pending'`).get() as { t: string | null }).t ?? undefined;
  }

  /** One attempt's result: the outbox row moves on and the delivery log gains an entry (trimmed to the last 50), atomically. */
  recordAttempt(row: OutboxRow, result: { outcome: NotificationDelivery['outcome']; statusCode?: number; message: string; durationMs: number; retryAt?: Date }): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      if (result.outcome === 'retrying') {
        this.stmt(`UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?`).run((result.retryAt ?? new Date()).toISOString(), row.id);
      } else {
        this.stmt(`UPDATE notification_outbox SET attempts = attempts + 1, state = ?, done_at = ? WHERE id = ?`).run(result.outcome, now, row.id);
      }
      this.logAttempt(row.targetId, row.id, row.event, row.attempts + 1, now, result);
    })();
  }

  /** A log entry for a send outside the outbox (Send test). */
  logAttempt(targetId: string, notificationId: string, event: string, attempt: number, at: string, result: { outcome: NotificationDelivery['outcome']; statusCode?: number; message: string; durationMs: number }): NotificationDelivery {
    const info = this.stmt(
      `INSERT INTO notification_attempts (target_id, notification_id, event, at, outcome, attempt, status_code, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(targetId, notificationId, event, at, result.outcome, attempt, result.statusCode ?? null, result.message, Math.round(result.durationMs));
    this.stmt(`DELETE FROM notification_attempts WHERE target_id = ? AND id <= ?`).run(targetId, Number(info.lastInsertRowid) - DELIVERY_LOG_SIZE);
    return this.deliveries(targetId, 1)[0]!;
  }

  /** Newest first. */
  deliveries(targetId: string, limit = DELIVERY_LOG_SIZE): NotificationDelivery[] {
    const rows = this.stmt(`SELECT * FROM notification_attempts WHERE target_id = ? ORDER BY id DESC LIMIT ?`).all(targetId, limit) as {
      id: number;
      notification_id: string;
      event: NotificationDelivery['event'];
      at: string;
      outcome: NotificationDelivery['outcome'];
      attempt: number;
      status_code: number | null;
      message: string;
      duration_ms: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      notificationId: r.notification_id,
      event: r.event,
      outcome: r.outcome,
      attempt: r.attempt,
      ...(r.status_code !== null ? { statusCode: r.status_code } : {}),
      message: r.message,
      durationMs: r.duration_ms,
    }));
  }

  environmentName(id: string): string | undefined {
    return (this.stmt('SELECT name FROM environments WHERE id = ?').get(id) as { name: string } | undefined)?.name;
  }

  /** The connector payload of the newest connector.unhealthy row: how the health monitor learns of an incident a restart interrupted. */
  lastHealthNotice(): NonNullable<NotificationPayload['connector']> | undefined {
    const row = this.stmt(`SELECT payload FROM notification_outbox WHERE event = 'connector.unhealthy' ORDER BY rowid DESC LIMIT 1`).get() as { payload: string } | undefined;
    return row ? (JSON.parse(row.payload) as NotificationPayload).connector : undefined;
  }

  /** Delivered and failed rows older than the sweep could reach again are dropped. */
  prune(before: string): void {
    this.stmt(`DELETE FROM notification_outbox WHERE state <> 'pending' AND created_at < ?`).run(before);
  }

  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }
}
