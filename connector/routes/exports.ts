import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ExportList, ExportListQuery, ExportRequest, ExportTask, TaskIdParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { audit, loadEnvironment, requireAdministrator } from './access-helpers.ts';

/** Who may cancel an export (also the UI's tooltip, ui/i18n `exports.cancelRule`). */
const CANCEL_RULE = 'The user who requested it or an administrator can cancel it.';

/** Instance exports to S3 as OVA (administrators; seed "Exporting a Migrated EC2 Instance"). */
export const exportRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/exports',
    {
      schema: {
        operationId: 'exportInstance',
        tags: ['exports'],
        summary: 'Export an imported instance to S3 as OVA',
        description:
          'An instance has at most one active export: a second request while one is in progress or being cancelled is refused with 409 EXPORT_ALREADY_RUNNING, naming that export (details: exportId, exportTaskId, requestedBy, state). At most the configured number of exports run per region (429 EXPORT_LIMIT_REACHED). An instance VM Export cannot export (encrypted or several EBS volumes, a volume over 1 TiB, AWS-provided software) is refused with 422 INSTANCE_NOT_EXPORTABLE, saying why. Every request, started or refused, is in the audit log (action export.request).',
        body: ExportRequest,
        response: { 202: ExportTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody, 422: ApiErrorBody, 429: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await requireAdministrator(app, request);
      const { environmentId, instanceId, s3Prefix } = request.body;
      const base = { action: 'export.request' as const, environmentId };
      let rec;
      try {
        const env = await loadEnvironment(app, environmentId);
        await app.instancesService.find(env.id, env.region, instanceId);
        rec = await app.exportsService.start({ environmentId: env.id, region: env.region, instanceId, s3Prefix, requestedBy: caller.principal });
      } catch (err) {
        // Refusals (one export per instance, region limit, no bucket, EC2's own refusals) are audited like grants.
        if (err instanceof AppError && err.statusCode < 500) {
          await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message, details: { instanceId, ...(err.details ?? {}) } });
        }
        throw err;
      }
      await audit(app, caller, { ...base, outcome: 'granted', message: `Export ${rec.exportTaskId} of ${instanceId} started (${rec.id}).`, details: { instanceId, exportId: rec.id, exportTaskId: rec.exportTaskId } });
      return reply.status(202).send(rec);
    },
  );
  app.get(
    '/exports',
    { schema: { operationId: 'listExports', tags: ['exports'], summary: 'Exports of the last days (default 7), newest first', querystring: ExportListQuery, response: { 200: ExportList, 401: ApiErrorBody, 403: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      return { items: await app.exportsService.list(request.query.days) };
    },
  );
  app.post(
    '/exports/:id/cancel',
    {
      schema: {
        operationId: 'cancelExport',
        tags: ['exports'],
        summary: 'Cancel an export',
        description: `${CANCEL_RULE} Anyone else is refused with 403 CANCEL_NOT_ALLOWED. The export records who cancelled it (cancelledBy, cancelledAt); every cancel, granted or refused, is in the audit log (action export.cancel).`,
        params: TaskIdParams,
        response: { 200: ExportTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const id = request.params.id;
      const rec = await app.exportsService.get(id);
      const base = { action: 'export.cancel' as const, ...(rec ? { environmentId: rec.environmentId } : {}), details: { exportId: id, ...(rec ? { instanceId: rec.instanceId } : {}) } };
      // Non-administrators learn nothing about exports they did not request, not even whether they exist.
      if (!caller.isAdministrator && rec?.requestedBy !== caller.principal) {
        const err = new AppError(403, 'CANCEL_NOT_ALLOWED', `You cannot cancel export ${id}. ${CANCEL_RULE}`);
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      if (!rec) {
        const err = new AppError(404, 'NOT_FOUND', `There is no export ${id}.`);
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      let after;
      try {
        after = (await app.exportsService.cancel(id, caller.principal))!;
      } catch (err) {
        if (err instanceof AppError) await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      const message =
        rec.state === 'active'
          ? `Cancelled export ${rec.exportTaskId || id} of ${rec.instanceId} (requested by ${rec.requestedBy}).`
          : `Asked to cancel export ${rec.exportTaskId || id} of ${rec.instanceId}, which was already ${rec.state}: nothing changed.`;
      await audit(app, caller, { ...base, outcome: 'granted', message });
      return after;
    },
  );
};
