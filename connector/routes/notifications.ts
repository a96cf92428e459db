// Notification targets (Administration → Notifications): administrators only; every change, test send and refusal audited.
import type { FastifyInstance } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ApiErrorBody,
  NotificationDelivery,
  NotificationDeliveryLog,
  NotificationPayload,
  NotificationTarget,
  NotificationTargetCreated,
  NotificationTargetInput,
  NotificationTargetList,
  NotificationTargetParams,
  WEBHOOK_HEADERS,
} from '../contract/index.ts';
import type { Caller } from '../auth/plugin.ts';
import { AppError } from '../errors.ts';
import type { TargetRecord } from '../notifications/store.ts';
import { audit, requireAdministrator } from './access-helpers.ts';

const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 422: ApiErrorBody };
const tags = ['notifications'];

/** Never the secret. */
function toDto(app: FastifyInstance, t: TargetRecord): NotificationTarget {
  const { secret: _secret, ...rest } = t;
  const last = app.notifications.store.deliveries(t.id, 1)[0];
  return { ...rest, ...(last ? { lastDelivery: last } : {}) };
}

const where = (t: { kind: string; url?: string; recipients?: string[] }) => (t.kind === 'webhook' ? t.url : (t.recipients ?? []).join(', '));

function loadTarget(app: FastifyInstance, id: string): TargetRecord {
  const t = app.notifications.store.getTarget(id);
  if (!t) throw new AppError(404, 'NOTIFICATION_TARGET_NOT_FOUND', `There is no notification target ${id}. It may have been deleted; reload Notifications.`);
  return t;
}

/** Unknown environments and e-mail without a configured relay are refused, with the refusal audited. */
async function checkInput(app: FastifyInstance, caller: Caller, input: NotificationTargetInput): Promise<void> {
  let problem: string | undefined;
  const known = new Set((await app.store.environments.list()).map((e) => e.id));
  const unknown = input.environmentIds.filter((id) => !known.has(id));
  if (unknown.length) problem = `There is no environment ${unknown.join(', ')}. Reload Notifications and choose from the current environments.`;
  else if (input.kind === 'email' && !app.notifications.smtpRelay) {
    problem = 'E-mail targets need an SMTP relay: set notifications.email (host, port, from, credentials) in the connector configuration file, restart the connector, then add the target.';
  }
  if (problem) {
    await audit(app, caller, { action: 'notification.target', outcome: 'denied', code: 'NOTIFICATION_TARGET_INVALID', message: `Refused notification target "${input.name}": ${problem}` });
    throw new AppError(422, 'NOTIFICATION_TARGET_INVALID', problem);
  }
}

export const notificationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/notifications/targets',
    { schema: { operationId: 'listNotificationTargets', tags, summary: 'Notification targets and whether e-mail is configured (administrators)', response: { 200: NotificationTargetList, 401: ApiErrorBody, 403: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      const relay = app.notifications.smtpRelay;
      return { targets: app.notifications.store.listTargets().map((t) => toDto(app, t)), email: { configured: relay !== undefined, ...(relay ? { relay } : {}) } };
    },
  );

  app.post(
    '/notifications/targets',
    {
      schema: {
        operationId: 'createNotificationTarget',
        tags,
        summary: 'Add a webhook or e-mail target; a webhook’s signing secret is in this response only',
        body: NotificationTargetInput,
        response: { 201: NotificationTargetCreated, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAdministrator(app, request);
      await checkInput(app, caller, request.body);
      const t = app.notifications.store.createTarget(request.body, caller.principal);
      await audit(app, caller, {
        action: 'notification.target',
        outcome: 'changed',
        message: `Added the ${t.kind} notification target "${t.name}" (${where(t)}) for ${t.events.join(', ') || 'no events'}.`,
        details: { targetId: t.id, kind: t.kind, events: t.events, environmentIds: t.environmentIds },
      });
      return reply.status(201).send({ ...toDto(app, t), ...(t.secret ? { secret: t.secret } : {}) });
    },
  );

  app.put(
    '/notifications/targets/:id',
    {
      schema: {
        operationId: 'replaceNotificationTarget',
        tags,
        summary: 'Replace a target’s name, address and subscriptions (its kind and signing secret stay)',
        params: NotificationTargetParams,
        body: NotificationTargetInput,
        response: { 200: NotificationTarget, ...errors },
      },
    },
    async (request) => {
      const caller = await requireAdministrator(app, request);
      const before = loadTarget(app, request.params.id);
      if (before.kind !== request.body.kind) {
        throw new AppError(422, 'NOTIFICATION_TARGET_INVALID', `The target "${before.name}" is a ${before.kind} target; its kind cannot change. Add a new target instead.`);
      }
      await checkInput(app, caller, request.body);
      const after = app.notifications.store.updateTarget(before.id, request.body);
      if (!after) throw new AppError(404, 'NOTIFICATION_TARGET_NOT_FOUND', `There is no notification target ${before.id}. It was deleted meanwhile.`);
      await audit(app, caller, {
        action: 'notification.target',
        outcome: 'changed',
        message: `Changed the notification target "${after.name}" (${where(after)}) for ${after.events.join(', ') || 'no events'}.`,
        details: { targetId: after.id, before: { name: before.name, address: where(before), events: before.events, environmentIds: before.environmentIds } },
      });
      return toDto(app, after);
    },
  );

  app.delete(
    '/notifications/targets/:id',
    { schema: { operationId: 'deleteNotificationTarget', tags, summary: 'Delete a target, its pending notifications and its delivery log', params: NotificationTargetParams, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      const caller = await requireAdministrator(app, request);
      const t = loadTarget(app, request.params.id);
      app.notifications.store.deleteTarget(t.id);
      await audit(app, caller, { action: 'notification.target', outcome: 'changed', message: `Deleted the notification target "${t.name}" (${where(t)}).`, details: { targetId: t.id } });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/notifications/targets/:id/deliveries',
    { schema: { operationId: 'listNotificationDeliveries', tags, summary: 'The target’s last 50 delivery attempts, newest first', params: NotificationTargetParams, response: { 200: NotificationDeliveryLog, ...errors } } },
    async (request) => {
      await requireAdministrator(app, request);
      return { deliveries: app.notifications.store.deliveries(loadTarget(app, request.params.id).id) };
    },
  );

  app.post(
    '/notifications/targets/:id/test',
    { schema: { operationId: 'testNotificationTarget', tags, summary: 'Send test: one attempt now, recorded in the delivery log', params: NotificationTargetParams, response: { 200: NotificationDelivery, ...errors } } },
    async (request) => {
      const caller = await requireAdministrator(app, request);
      const t = loadTarget(app, request.params.id);
      const delivery = await app.notifications.sendTest(t, caller.principal);
      await audit(app, caller, {
        action: 'notification.test',
        outcome: 'granted',
        message: `Sent a test notification to "${t.name}" (${where(t)}): ${delivery.outcome === 'delivered' ? 'delivered' : 'not delivered'}. ${delivery.message}`,
        details: { targetId: t.id, notificationId: delivery.notificationId, outcome: delivery.outcome },
      });
      return delivery;
    },
  );
};

/** The webhook call as OpenAPI 3.1 `webhooks` (app.ts passes it to the document). */
export function notificationWebhooks(): Record<string, OpenAPIV3_1.PathItemObject> {
  // The NotificationPayload component (the contract's schema id); the document keeps it because this references it.
  const schema = { $ref: `#/components/schemas/${String(NotificationPayload.meta()?.id)}` };
  return {
    vm2ec2Notification: {
      post: {
        operationId: 'receiveNotification',
        summary: 'A notification the connector sends to a webhook target',
        description:
          `POST to the target's https URL, at least once: retried on 5xx, 408, 429, timeouts and connection errors with exponential backoff, never on other 4xx. ` +
          `Deduplicate on the idempotency id. Verify \`${WEBHOOK_HEADERS.signature}\`: \`sha256=\` and the hex HMAC-SHA256 of the raw body keyed by the target's secret.`,
        tags,
        security: [],
        parameters: <OpenAPIV3_1.ParameterObject[]>[
          { name: WEBHOOK_HEADERS.signature, in: 'header', required: true, schema: { type: 'string', pattern: '^sha256=[0-9a-f]{64}$' }, description: 'HMAC-SHA256 of the body' },
          { name: WEBHOOK_HEADERS.idempotency, in: 'header', required: true, schema: { type: 'string' }, description: 'The payload id, the same on every attempt' },
          { name: WEBHOOK_HEADERS.event, in: 'header', required: true, schema: { type: 'string' }, description: 'The payload kind' },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: schema as never } } },
        responses: { '200': { description: 'Any 2xx: delivered.' } },
      },
    },
  };
}
