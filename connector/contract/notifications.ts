import { z } from 'zod';
import { EnvironmentId } from './environments.ts';
import { singleLine } from './text.ts';

/** What a notification target can be told about. `wave.finished` is reserved: waves do not exist yet. */
export const NotificationEventKind = z.enum([
  'migration.completed',
  'migration.failed',
  'cutover.ready',
  'cutover.done',
  'wave.finished',
  'export.completed',
  'export.failed',
  'connector.unhealthy',
]);
export type NotificationEventKind = z.infer<typeof NotificationEventKind>;

export const NotificationTargetId = z.string().regex(/^nt-[a-z0-9]{1,40}$/, 'A notification target id looks like nt-1a2b3c4d5e6f.');
export const NotificationTargetParams = z.object({ id: NotificationTargetId });

const Email = z.email({ error: 'Each recipient must be an e-mail address such as ops@example.com.' });

/** The subscriptions of one target: which events, from which environments (empty: every environment). */
const Subscriptions = {
  events: z.array(NotificationEventKind).max(8).refine((a) => new Set(a).size === a.length, 'An event is listed twice.'),
  environmentIds: z.array(EnvironmentId).max(100).default([]),
};

export const NotificationTargetInput = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('webhook'),
      name: singleLine(64).pipe(z.string().min(1, 'A notification target needs a name.')),
      url: z.url({ protocol: /^https$/, error: 'The webhook URL must be an https:// URL, such as https://hooks.example.com/vm2ec2.' }).max(2000),
      ...Subscriptions,
    }),
    z.strictObject({
      kind: z.literal('email'),
      name: singleLine(64).pipe(z.string().min(1, 'A notification target needs a name.')),
      recipients: z.array(Email).min(1, 'An e-mail target needs at least one recipient.').max(20),
      ...Subscriptions,
    }),
  ])
  .meta({ id: 'NotificationTargetSettings' });
export type NotificationTargetInput = z.infer<typeof NotificationTargetInput>;

export const NotificationTarget = z
  .object({
    id: NotificationTargetId,
    kind: z.enum(['webhook', 'email']),
    name: z.string(),
    url: z.string().optional(),
    recipients: z.array(z.string()).optional(),
    events: z.array(NotificationEventKind),
    environmentIds: z.array(z.string()),
    createdBy: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    /** The newest delivery attempt, if any. */
    lastDelivery: z.lazy(() => NotificationDelivery).optional(),
  })
  .meta({ id: 'NotificationTarget' });
export type NotificationTarget = z.infer<typeof NotificationTarget>;

/** A created webhook target with its signing secret: shown this once, never returned again. */
export const NotificationTargetCreated = NotificationTarget.extend({
  secret: z.string().optional().meta({ description: 'Webhook signing secret (hex). Returned only in this response.' }),
}).meta({ id: 'NotificationTargetCreated' });

export const NotificationDelivery = z
  .object({
    id: z.number().int().positive(),
    at: z.iso.datetime(),
    /** The idempotency id of the notification (the same on every attempt of it). */
    notificationId: z.string(),
    event: z.union([NotificationEventKind, z.literal('test')]),
    outcome: z.enum(['delivered', 'retrying', 'failed']),
    attempt: z.number().int().positive(),
    /** HTTP status the webhook answered, absent for e-mail and connection failures. */
    statusCode: z.number().int().optional(),
    message: z.string(),
    durationMs: z.number().int().nonnegative(),
  })
  .meta({ id: 'NotificationDelivery' });
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;

export const NotificationTargetList = z
  .object({
    targets: z.array(NotificationTarget),
    /** E-mail targets need an SMTP relay in the connector configuration; relay is host:port. */
    email: z.object({ configured: z.boolean(), relay: z.string().optional() }),
  })
  .meta({ id: 'NotificationTargetList' });
export type NotificationTargetList = z.infer<typeof NotificationTargetList>;

export const NotificationDeliveryLog = z
  .object({ deliveries: z.array(NotificationDelivery).meta({ description: 'The last 50 attempts, newest first.' }) })
  .meta({ id: 'NotificationDeliveryLog' });

const example = {
  id: 'ntf-6f1d2c9a4b7e4f0c9d3e2a1b0c9d8e7f',
  kind: 'migration.completed',
  occurredAt: '2026-12-03T16:40:12.000Z',
  text: 'Migration of web-01 to Amazon EC2 completed: instance i-0abc1234def567890 in us-east-1 (environment Production).',
  environment: { id: 'env-1a2b3c4d5e6f', name: 'Production' },
  migration: { id: 'import-vm-1a2b3c4d', vmId: 'vm-42', vmName: 'web-01', mode: 'cold', state: 'completed', region: 'us-east-1', instanceId: 'i-0abc1234def567890', requestedBy: 'VSPHERE.LOCAL\\operator' },
  test: false,
};

/**
 * The body of every webhook call and the content of every e-mail. `text` is one line a chat relay can post as is
 * (Slack: `{"text": payload.text}`; Teams: a message card's `text`).
 */
export const NotificationPayload = z
  .object({
    /** Idempotency id: the same on every attempt of this notification, also sent as the X-Vm2ec2-Idempotency-Id header. */
    id: z.string(),
    kind: z.union([NotificationEventKind, z.literal('test')]),
    occurredAt: z.iso.datetime(),
    text: z.string(),
    environment: z.object({ id: z.string(), name: z.string() }).optional(),
    migration: z
      .object({
        id: z.string(),
        vmId: z.string(),
        vmName: z.string().optional(),
        mode: z.enum(['cold', 'warm']),
        state: z.string(),
        region: z.string(),
        instanceId: z.string().optional(),
        error: z.string().optional(),
        requestedBy: z.string(),
      })
      .optional(),
    export: z
      .object({ id: z.string(), instanceId: z.string(), state: z.string(), region: z.string(), bucket: z.string(), s3Key: z.string().optional(), error: z.string().optional(), requestedBy: z.string() })
      .optional(),
    /** connector.unhealthy: `unhealthy` when the incident begins, `recovered` when it ends; `since` identifies the incident. */
    connector: z.object({ state: z.enum(['unhealthy', 'recovered']), since: z.iso.datetime(), problems: z.array(z.string()) }).optional(),
    test: z.boolean(),
  })
  .meta({ id: 'NotificationPayload', examples: [example] });
export type NotificationPayload = z.infer<typeof NotificationPayload>;

/** Headers of every webhook call. */
export const WEBHOOK_HEADERS = {
  signature: 'x-vm2ec2-signature-256',
  idempotency: 'x-vm2ec2-idempotency-id',
  event: 'x-vm2ec2-event',
} as const;
