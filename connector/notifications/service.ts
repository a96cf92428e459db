// The notification pipeline: an observer that writes outbox rows as tasks are saved, a startup sweep for saves a
// crash kept from the outbox, and a worker that sends due rows and records each attempt. At least once: a crash
// between sending and recording sends again, with the same idempotency id.
import type { ConnectorConfig } from '../config.ts';
import type { NotificationDelivery, NotificationPayload } from '../contract/index.ts';
import type { TaskObserver } from '../engine/observer.ts';
import type { ExportRecord, SavedSince } from '../engine/task-store.ts';
import type { MigrationRecord } from '../engine/types.ts';
import { dedupeKey, exportEvents, migrationEvents, notificationId, testPayload, type TaskEvent } from './events.ts';
import { sendEmail, sendWebhook, type SendResult } from './senders.ts';
import { newId, type NotificationStore, type OutboxRow, type TargetRecord } from './store.ts';

type Options = ConnectorConfig['notifications'];

/**
 * Where the startup sweep finds recent task saves: the engine's own repositories on the store's database (the
 * connector's SQLite file, or the fleet's PostgreSQL), not the file that holds the outbox.
 */
export interface SweptTasks {
  migrations: SavedSince<MigrationRecord>;
  exports: SavedSince<ExportRecord>;
}

/** How far back the startup sweep looks, and how long finished outbox rows are kept (longer, so a sweep never re-adds one). */
const SWEEP_HORIZON_MS = 7 * 86_400_000;
const KEEP_DONE_MS = 30 * 86_400_000;

export class NotificationService {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    readonly store: NotificationStore,
    private readonly tasks: SweptTasks,
    private readonly opts: Options,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  /** host:port of the configured SMTP relay; undefined when e-mail is not configured. */
  get smtpRelay(): string | undefined {
    return this.opts.email ? `${this.opts.email.host}:${this.opts.email.port}` : undefined;
  }

  /** Joins the engine's observers: called after every persisted save, returns at once, never throws. */
  readonly observer: TaskObserver = {
    migrationSaved: (task, before) => {
      if (before && before.state === task.state && before.phase === task.phase) return;
      this.safely(() => this.enqueue(migrationEvents(task)));
    },
    exportSaved: (task, before) => {
      if (before && before.state === task.state) return;
      this.safely(() => this.enqueue(exportEvents(task)));
    },
  };

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // The startup sweep enqueues what this missed.
      this.log(`Notifications: could not queue a notification (${(err as Error).message}); the next start retries.`);
    }
  }

  /** Outbox rows for every subscribed target; `sweep` also skips targets created after the event. */
  enqueue(events: readonly TaskEvent[], sweep = false): number {
    if (!events.length) return 0;
    const targets = this.store.listTargets();
    let added = 0;
    for (const ev of events) {
      let envName: string | undefined;
      for (const t of targets) {
        if (!subscribed(t, ev)) continue;
        if (sweep && t.createdAt > ev.occurredAt) continue;
        if (ev.environmentId && envName === undefined) envName = this.store.environmentName(ev.environmentId) ?? '';
        const key = dedupeKey(ev.subject, ev.kind, t.id);
        if (this.store.enqueue(key, t.id, ev.build(notificationId(key), envName || undefined))) added++;
      }
    }
    if (added) this.wake();
    return added;
  }

  /** Enqueues what recent task states imply; rows already in the outbox stay as they are. */
  async sweep(now = new Date()): Promise<number> {
    this.store.prune(new Date(now.getTime() - KEEP_DONE_MS).toISOString());
    const since = new Date(now.getTime() - SWEEP_HORIZON_MS).toISOString();
    const [migrations, exports] = await Promise.all([this.tasks.migrations.savedSince(since), this.tasks.exports.savedSince(since)]);
    // In the order the tasks were recorded, as the outbox would have had them.
    const events = [...migrations.map((t) => ({ seq: t.seq, events: migrationEvents(t) })), ...exports.map((t) => ({ seq: t.seq, events: exportEvents(t) }))]
      .sort((a, b) => a.seq - b.seq)
      .flatMap((t) => t.events);
    return this.enqueue(events, true);
  }

  /** Sweeps, then starts the worker; a store that does not answer is logged (the worker starts regardless). */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      const added = await this.sweep();
      if (added) this.log(`Notifications: the startup sweep queued ${added} notification(s) a restart had kept from the outbox.`);
    } catch (err) {
      this.log(`Notifications: the startup sweep could not read the tasks (${(err as Error).message}); the next start retries.`);
    }
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Runs the worker now (or right after the pass in progress). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = this.drain()
      .catch((err: unknown) => this.log(`Notifications: the delivery worker failed (${(err as Error).message}); it tries again.`))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wake();
          return;
        }
        this.schedule();
      });
  }

  private schedule(): void {
    const next = this.store.nextDue();
    const wait = next ? Math.max(0, Math.min(Date.parse(next) - Date.now(), this.opts.pollMs)) : this.opts.pollMs;
    this.timer = setTimeout(() => this.wake(), wait);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.store.due(new Date(), 20);
      if (!rows.length || this.stopped) return;
      for (const row of rows) {
        if (this.stopped) return;
        await this.deliver(row);
      }
    }
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const target = this.store.getTarget(row.targetId);
    if (!target) return; // deleted meanwhile: its rows went with it
    const started = Date.now();
    const result = await this.send(target, row.payload);
    const durationMs = Date.now() - started;
    const attempt = row.attempts + 1;
    if (result.ok) {
      this.store.recordAttempt(row, { outcome: 'delivered', ...code(result), message: result.message, durationMs });
    } else if (result.retryable && attempt < this.opts.maxAttempts) {
      const delay = Math.min(this.opts.retryDelayMs * 2 ** (attempt - 1), this.opts.retryMaxDelayMs);
      const retryAt = new Date(Date.now() + delay);
      this.store.recordAttempt(row, { outcome: 'retrying', ...code(result), message: `${result.message} Retrying at ${retryAt.toISOString()}.`, durationMs, retryAt });
    } else {
      const why = result.retryable ? ` Gave up after ${attempt} attempts.` : '';
      this.store.recordAttempt(row, { outcome: 'failed', ...code(result), message: `${result.message}${why}`, durationMs });
    }
  }

  send(target: TargetRecord, payload: NotificationPayload): Promise<SendResult> {
    if (target.kind === 'webhook') {
      return sendWebhook(target.url!, target.secret!, payload, { timeoutMs: this.opts.timeoutMs, caPem: this.opts.webhookCaPem });
    }
    if (!this.opts.email) {
      return Promise.resolve({ ok: false, retryable: false, message: 'No SMTP relay is configured: set notifications.email in the connector configuration file.' });
    }
    return sendEmail(this.opts.email, target.recipients ?? [], payload, this.opts.timeoutMs);
  }

  /** Send test: one attempt now, outside the outbox, recorded in the target's delivery log. */
  async sendTest(target: TargetRecord, by: string): Promise<NotificationDelivery> {
    const payload = testPayload(newId('ntf-test', 12), target.name, by);
    const started = Date.now();
    const result = await this.send(target, payload);
    return this.store.logAttempt(target.id, payload.id, 'test', 1, new Date().toISOString(), {
      outcome: result.ok ? 'delivered' : 'failed',
      ...code(result),
      message: result.message,
      durationMs: Date.now() - started,
    });
  }
}

const code = (r: SendResult) => (r.statusCode ? { statusCode: r.statusCode } : {});

const subscribed = (t: TargetRecord, ev: TaskEvent) =>
  t.events.includes(ev.kind) && (t.environmentIds.length === 0 || !ev.environmentId || t.environmentIds.includes(ev.environmentId));
