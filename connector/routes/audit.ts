import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, AuditPage, AuditQuery } from '../contract/index.ts';
import { normalizeUserName } from '../auth/users.ts';
import { requireAdministrator } from './access-helpers.ts';

export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/audit',
    {
      schema: {
        operationId: 'listAuditEntries',
        tags: ['audit'],
        summary: 'Every grant, denial and permission change, newest first (administrators)',
        querystring: AuditQuery,
        response: { 200: AuditPage, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody },
      },
    },
    async (request) => {
      await requireAdministrator(app, request);
      const q = request.query;
      // One row more than asked tells whether an older page exists.
      const rows = await app.store.audit.query({
        limit: q.limit + 1,
        ...(q.before !== undefined ? { before: q.before } : {}),
        ...(q.environmentId ? { environmentId: q.environmentId } : {}),
        ...(q.actor ? { actor: normalizeUserName(q.actor) } : {}),
        ...(q.action ? { action: q.action } : {}),
      });
      const entries = rows.slice(0, q.limit);
      const last = entries.at(-1);
      return { entries, ...(rows.length > q.limit && last ? { nextBefore: last.id } : {}) };
    },
  );
};
