import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, MigrationRequest } from '../contract/index.ts';
import type { Caller } from '../auth/plugin.ts';
import { canMigrate } from '../auth/access.ts';
import { AppError } from '../errors.ts';
import { runPreflight, vmPrivileges } from '../preflight/run.ts';
import { audit, loadEnvironment, noEnvironmentPermission } from './access-helpers.ts';

/**
 * Seed "VM Import Authorization", steps 3–6: the connector verifies the token, then that the user may export the
 * VM, then the pre-flight blockers. The migration engine is not part of this connector yet, so even a request that
 * passes every check starts nothing: it is answered 501 and leaves only an audit record.
 */
export const migrationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/migrations',
    {
      schema: {
        tags: ['migrations'],
        summary: 'Start migrating a VM to EC2 with an import authorization token',
        body: MigrationRequest,
        response: {
          400: ApiErrorBody,
          401: ApiErrorBody,
          403: ApiErrorBody,
          404: ApiErrorBody,
          409: ApiErrorBody,
          422: ApiErrorBody,
          501: ApiErrorBody,
        },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const body = request.body;
      const base = { action: 'migration.request' as const, environmentId: body.environmentId, vmId: body.vmId };
      const refuse = async (err: AppError): Promise<never> => {
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
        throw err;
      };
      try {
        await app.importTokens.redeem(body.token, { user: caller.principal, environmentId: body.environmentId, vmId: body.vmId });
        const environment = await loadEnvironment(app, body.environmentId);
        // Permissions may have changed since the token was issued.
        const role = await app.access.roleIn(caller.principal, environment.id);
        if (!canMigrate(role)) throw noEnvironmentPermission(environment, true);
        await requireExport(caller, body.vmId);
        const result = await runPreflight(app.aws, {
          caller,
          environment,
          role,
          vmId: body.vmId,
          subnetId: body.subnetId,
          privateIpAddress: body.privateIpAddress,
          instanceType: body.instanceType,
          platform: body.platform,
          securityGroupIds: body.securityGroupIds,
        });
        const blockers = result.checks.filter((c) => c.severity === 'blocker');
        if (blockers.length > 0) {
          const [first] = blockers;
          throw new AppError(
            422,
            'PREFLIGHT_BLOCKED',
            `The migration cannot start: ${first?.message ?? ''}${blockers.length > 1 ? ` (and ${blockers.length - 1} more problem${blockers.length > 2 ? 's' : ''})` : ''}`,
            { checks: blockers },
          );
        }
      } catch (err) {
        if (err instanceof AppError && err.statusCode < 500) return refuse(err);
        throw err;
      }
      const notInstalled = new AppError(
        501,
        'MIGRATION_ENGINE_NOT_INSTALLED',
        'Every check passed, but this connector version does not include the migration engine, so nothing was started. Update the connector to a version that migrates VMs.',
      );
      await audit(app, caller, { ...base, outcome: 'granted', code: notInstalled.code, message: 'Import authorized and every check passed; nothing was started (no migration engine).' });
      throw notInstalled;
    },
  );
};

/** Step 5: "The connector verifies that the user has permission to export the VM" (VApp.Export, the user's own session). */
async function requireExport(caller: Caller, vmId: string): Promise<void> {
  const privileges = await vmPrivileges(caller, vmId);
  if (!privileges.export) {
    throw new AppError(
      403,
      'VM_EXPORT_DENIED',
      `Your vCenter role does not allow exporting the virtual machine ${vmId} (privilege vApp > Export). Ask your vCenter administrator for it on this VM or its folder.`,
    );
  }
}
