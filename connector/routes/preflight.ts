import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, PreflightQuery, PreflightResult, VmParams } from '../contract/index.ts';
import { canView } from '../auth/access.ts';
import { runPreflight } from '../preflight/run.ts';
import { denyEnvironment, loadEnvironment } from './access-helpers.ts';
import { AppError } from '../errors.ts';

export const preflightRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/vms/:vmId/preflight',
    {
      schema: {
        operationId: 'runPreflightChecks',
        tags: ['vms'],
        summary: 'Pre-flight checks for migrating the VM into an environment (both ends: vCenter and AWS)',
        params: VmParams,
        querystring: PreflightQuery,
        response: { 200: PreflightResult, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const { environmentId, licenseType, encrypted, kmsKeyId, ...choices } = request.query;
      // The Advanced choices as query parameters; left out, the environment's defaults apply.
      const encryption = encrypted === 'false' ? { encrypted: false } : encrypted === 'true' || kmsKeyId ? { encrypted: true, ...(kmsKeyId ? { kmsKeyId } : {}) } : undefined;
      if (encrypted === 'false' && kmsKeyId) {
        throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid: kmsKeyId applies only when the volumes are encrypted (encrypted=true).');
      }
      const importOptions = { ...(licenseType ? { licenseType } : {}), ...(encryption ? { encryption } : {}) };
      const environment = await loadEnvironment(app, environmentId);
      const role = await app.access.roleIn(caller.principal, environment.id);
      if (!canView(role)) throw await denyEnvironment(app, caller, environment, true, { vmId: request.params.vmId });
      const result = await runPreflight(app.aws, { caller, environment, role, vmId: request.params.vmId, ...choices, importOptions });
      if (!app.hasDecorator('engine')) return result;
      // Said before Begin, so nobody fills in the form only to be refused (POST /migrations answers 503 meanwhile).
      const updating = app.engine.updating && {
        code: 'CONNECTOR_UPDATING' as const,
        severity: 'blocker' as const,
        message: "The connector is updating. You can't create a migration task while the connector is updating.",
        fix: 'Try again when the update has finished. Migrations already running continue.',
      };
      // Also said before Begin: a second migration of the VM would be refused (409) after spending the authorization.
      const active = await app.engine.activeFor(request.params.vmId);
      const running = active && {
        code: 'MIGRATION_ALREADY_RUNNING' as const,
        severity: 'blocker' as const,
        message: `This VM is already being migrated: migration task ${active.id}, requested by ${active.requestedBy}, is ${active.state}. A VM can have one migration at a time.`,
        fix: 'Wait for that migration to end, or cancel it in VM-to-EC2 Migrations, then begin again.',
      };
      const blockers = [updating, running].filter((c) => c !== false && c !== undefined);
      if (blockers.length === 0) return result;
      return { ...result, ready: false, checks: [...blockers, ...result.checks] };
    },
  );
};
