import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, InstanceExportSettings, InstanceExportSettingsView } from '../contract/index.ts';
import { requireAdministrator } from './access-helpers.ts';

/** Instance export configuration (administrators): the bucket name part of `export-to-s3-<name>-<region>`. */
export const settingsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/settings/instance-export',
    { schema: { tags: ['settings'], summary: 'Instance export configuration', response: { 200: InstanceExportSettingsView, 401: ApiErrorBody, 403: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      return { bucketName: app.exportsService.bucketName() ?? null };
    },
  );
  app.put(
    '/settings/instance-export',
    { schema: { tags: ['settings'], summary: 'Set the instance export bucket name', body: InstanceExportSettings, response: { 200: InstanceExportSettingsView, 401: ApiErrorBody, 403: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      app.exportsService.setBucketName(request.body.bucketName);
      return { bucketName: request.body.bucketName };
    },
  );
};
