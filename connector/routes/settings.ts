import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { infer as Infer } from 'zod';
import { ApiErrorBody, InstanceExportSettings, InstanceExportSettingsView } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { audit, requireAdministrator } from './access-helpers.ts';

type View = Infer<typeof InstanceExportSettingsView>;

/** The configured name, who set it when, and the bucket of every region an environment uses. */
async function exportSettingsView(app: FastifyInstance): Promise<View> {
  const setting = await app.exportsService.bucketSetting();
  const regions = [...new Set((await app.store.environments.list()).map((e) => e.region))].sort();
  if (!setting) return { bucketName: null, buckets: [] };
  return {
    ...setting,
    buckets: regions.map((region) => ({ region, bucket: `export-to-s3-${setting.bucketName}-${region}` })),
  };
}

/** Instance export configuration (administrators): the bucket name part of `export-to-s3-<name>-<region>`. */
export const settingsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/settings/instance-export',
    { schema: { operationId: 'getInstanceExportSettings', tags: ['settings'], summary: 'Instance export configuration', response: { 200: InstanceExportSettingsView, 401: ApiErrorBody, 403: ApiErrorBody } } },
    async (request) => {
      await requireAdministrator(app, request);
      return exportSettingsView(app);
    },
  );
  app.put(
    '/settings/instance-export',
    {
      schema: {
        operationId: 'setInstanceExportSettings',
        tags: ['settings'],
        summary: 'Set the instance export bucket name; replacing a configured name needs the name being replaced (expectedBucketName)',
        body: InstanceExportSettings,
        response: { 200: InstanceExportSettingsView, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 409: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await requireAdministrator(app, request);
      const { bucketName, expectedBucketName } = request.body;
      if ((await app.exportsService.bucketName()) === bucketName) return exportSettingsView(app);
      // Omitted is "I saw none": it can create the first name, never replace one.
      const expected = expectedBucketName ?? undefined;
      const result = await app.exportsService.replaceBucketName(expected, bucketName, caller.principal);
      if (!result.ok) {
        const message =
          result.current === undefined
            ? `Instance export is no longer configured (you expected the bucket name "${expected}"). Reload Configure Instance Export and try again.`
            : expected === undefined
              ? `Instance export is already configured with the bucket name "${result.current}". To replace it, send it as expectedBucketName (in the portal: Change, then confirm).`
              : `Another administrator changed the bucket name to "${result.current}" (you expected "${expected}"). Reload Configure Instance Export, check the new name, and change it again if needed.`;
        await audit(app, caller, {
          action: 'settings.instance-export',
          outcome: 'denied',
          code: 'SETTINGS_CHANGED',
          message: `Refused to set the instance export bucket name to "${bucketName}": ${message}`,
          details: { requested: bucketName, expected: expected ?? null, current: result.current ?? null },
        });
        throw new AppError(409, 'SETTINGS_CHANGED', message, { currentBucketName: result.current ?? null });
      }
      await audit(app, caller, {
        action: 'settings.instance-export',
        outcome: 'changed',
        message:
          expected === undefined
            ? `Set the instance export bucket name to "${bucketName}".`
            : `Changed the instance export bucket name from "${expected}" to "${bucketName}"; running exports keep their bucket.`,
        details: { from: expected ?? null, to: bucketName },
      });
      return exportSettingsView(app);
    },
  );
};
