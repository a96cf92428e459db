import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ImportAuthorization, ImportAuthorizationRequest } from '../contract/index.ts';
import { canMigrate } from '../auth/access.ts';
import { requireVmExport } from '../auth/vm-export.ts';
import { AppError } from '../errors.ts';
import { audit, loadEnvironment, noEnvironmentPermission } from './access-helpers.ts';

/**
 * Seed "VM Import Authorization", steps 1–2: the portal verifies that the user may migrate VMs into the
 * environment and may export the VM (vApp > Export, asked with the user's own vCenter session), and returns a
 * token for this user, environment and VM. Every grant and refusal is audited.
 */
export const importAuthorizationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/import-authorizations',
    {
      schema: {
        operationId: 'createImportAuthorization',
        tags: ['migrations'],
        summary: 'Authorize importing a VM into an environment (needs the General or Owner role there and vApp > Export on the VM)',
        body: ImportAuthorizationRequest,
        response: { 201: ImportAuthorization, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await request.caller();
      const { environmentId, vmId } = request.body;
      let details: Record<string, unknown> = {};
      let granted: { envName: string; role: string; vmName: string };
      try {
        const env = await loadEnvironment(app, environmentId);
        const role = await app.access.roleIn(caller.principal, env.id);
        details = { role };
        if (!canMigrate(role)) throw noEnvironmentPermission(env, true);
        const vm = await requireVmExport(caller, vmId);
        granted = { envName: env.name, role, vmName: vm.name };
      } catch (err) {
        if (err instanceof AppError && err.statusCode < 500) {
          await audit(app, caller, { action: 'import.authorize', outcome: 'denied', environmentId, vmId, code: err.code, message: err.message, details: { ...details, ...err.details } });
        }
        throw err;
      }
      const { token, expiresAt, jti } = await app.importTokens.issue({ user: caller.principal, environmentId, vmId });
      await audit(app, caller, {
        action: 'import.authorize',
        outcome: 'granted',
        environmentId,
        vmId,
        message: `Authorized importing "${granted.vmName}" (${vmId}) into the environment "${granted.envName}" (role ${granted.role}).`,
        details: { role: granted.role, jti, expiresAt: expiresAt.toISOString() },
      });
      return reply.status(201).send({ token, expiresAt: expiresAt.toISOString(), environmentId, vmId });
    },
  );
};
