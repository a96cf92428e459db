import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ExportList, ExportListQuery, ExportRequest, ExportTask, TaskIdParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { loadEnvironment, requireAdministrator } from './access-helpers.ts';

/** Instance exports to S3 as OVA (administrators; seed "Exporting a Migrated EC2 Instance"). */
export const exportRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/exports',
    {
      schema: {
        operationId: 'exportInstance',
        tags: ['exports'],
        summary: 'Export an imported instance to S3 as OVA',
        body: ExportRequest,
        response: { 202: ExportTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody, 429: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await requireAdministrator(app, request);
      const env = await loadEnvironment(app, request.body.environmentId);
      await app.instancesService.find(env.id, env.region, request.body.instanceId);
      const rec = await app.exportsService.start({ environmentId: env.id, region: env.region, instanceId: request.body.instanceId, s3Prefix: request.body.s3Prefix, requestedBy: caller.principal });
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
    { schema: { operationId: 'cancelExport', tags: ['exports'], summary: 'Cancel an export', params: TaskIdParams, response: { 200: ExportTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      const rec = await app.exportsService.cancel(request.params.id);
      if (!rec) throw new AppError(404, 'NOT_FOUND', `There is no export ${request.params.id}.`);
      return rec;
    },
  );
};
