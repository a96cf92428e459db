import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, MigrationList, MigrationListQuery, MigrationTask, TaskIdParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { Caller } from '../auth/plugin.ts';
import { audit } from './access-helpers.ts';

/** Who may cancel a migration (also the UI's tooltip, ui/i18n `migrations.cancelRule`). */
const CANCEL_RULE = 'The user who requested it, an environment Owner or an administrator can cancel it.';

/**
 * The two routes every open portal tab polls serialise with plain JSON.stringify: the engine builds each task view
 * field by field from the contract type, and validating 50 views on every poll was the largest cost left in the
 * polling benchmark (docs/benchmarks.md). The schemas stay for the OpenAPI document; tests parse the responses.
 */
const plainJson = { serializerCompiler: () => (data: unknown) => JSON.stringify(data) };

/** GET /migrations (newest first, filtered, paged), GET /migrations/{id}, POST /migrations/{id}/cancel. */
export const migrationTaskRoutes: FastifyPluginAsyncZod = async (app) => {
  /** Environments the caller may see tasks of; undefined = all (administrators). */
  const visible = async (caller: Caller): Promise<Set<string> | undefined> => {
    if (caller.isAdministrator) return undefined;
    const roles = await app.store.permissions.forPrincipal(caller.principal);
    return new Set([...roles].filter(([, role]) => role !== 'NoAccess').map(([env]) => env));
  };
  const notFound = (id: string) => new AppError(404, 'NOT_FOUND', `There is no migration ${id}. Check the import task ID or queued task ID.`);

  app.get(
    '/migrations',
    { ...plainJson, schema: { operationId: 'listMigrations', tags: ['migrations'], summary: 'Migration tasks, newest first', querystring: MigrationListQuery, response: { 200: MigrationList, 401: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      const envs = await visible(caller);
      const q = request.query;
      if (envs && q.environmentId && !envs.has(q.environmentId)) return { items: [], total: 0 };
      if (envs && !q.environmentId) {
        // Non-administrators: only environments they hold a role in.
        const all = app.engine.list({ ...q, limit: 10_000, offset: 0 }).items.filter((t) => envs.has(t.environmentId));
        return { items: all.slice(q.offset, q.offset + q.limit), total: all.length };
      }
      return app.engine.list(q);
    },
  );

  app.get(
    '/migrations/:id',
    { ...plainJson, schema: { operationId: 'getMigration', tags: ['migrations'], summary: 'One migration task', params: TaskIdParams, response: { 200: MigrationTask, 401: ApiErrorBody, 404: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      const task = app.engine.get(request.params.id);
      const envs = await visible(caller);
      if (!task || (envs && !envs.has(task.environmentId))) throw notFound(request.params.id);
      return task;
    },
  );

  app.post(
    '/migrations/:id/cancel',
    {
      schema: {
        operationId: 'cancelMigration',
        tags: ['migrations'],
        summary: 'Cancel a migration in any non-terminal phase',
        description: `${CANCEL_RULE} Anyone else is refused with 403 CANCEL_NOT_ALLOWED. The task records who cancelled it (cancelledBy, cancelledAt); every cancel, granted or refused, is in the audit log (action migration.cancel). A migration that already ended is returned unchanged.`,
        params: TaskIdParams,
        response: { 200: MigrationTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const task = app.engine.get(request.params.id);
      const envs = await visible(caller);
      const own = task?.requestedBy === caller.principal;
      if (!task || (envs && !envs.has(task.environmentId) && !own)) {
        const err = notFound(request.params.id);
        await audit(app, caller, { action: 'migration.cancel', outcome: 'denied', ...(task ? { environmentId: task.environmentId } : {}), code: err.code, message: err.message, details: { migrationId: request.params.id } });
        throw err;
      }
      const base = { action: 'migration.cancel' as const, environmentId: task.environmentId, vmId: task.vmId, details: { migrationId: task.id } };
      const role = caller.isAdministrator ? 'Owner' : await app.access.roleIn(caller.principal, task.environmentId);
      if (!own && role !== 'Owner') {
        const err = new AppError(
          403,
          'CANCEL_NOT_ALLOWED',
          `You cannot cancel migration ${task.id}: it was requested by ${task.requestedBy}. ${CANCEL_RULE} Ask one of them to cancel it.`,
        );
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      const after = app.engine.cancel(task.id, caller.principal)!;
      const message =
        task.state === 'queued' || task.state === 'running'
          ? `Cancelled migration ${task.id} (requested by ${task.requestedBy}; it was ${task.state}).`
          : `Asked to cancel migration ${task.id}, which was already ${after.state}: nothing changed.`;
      await audit(app, caller, { ...base, outcome: 'granted', message });
      return after;
    },
  );
};
