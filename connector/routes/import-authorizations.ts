import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ImportAuthorization, ImportAuthorizationRequest } from '../contract/index.ts';
import { canMigrate } from '../auth/access.ts';
import { audit, loadEnvironment, noEnvironmentPermission } from './access-helpers.ts';

/**
 * Seed "VM Import Authorization", steps 1–2: the portal verifies that the user may migrate VMs into the
 * environment and returns a token for this user, environment and VM.
 */
export const importAuthorizationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/import-authorizations',
    {
      schema: {
        tags: ['migrations'],
        summary: 'Authorize importing a VM into an environment (needs the General or Owner role there)',
        body: ImportAuthorizationRequest,
        response: { 201: ImportAuthorization, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await request.caller();
      const { environmentId, vmId } = request.body;
      const env = await loadEnvironment(app, environmentId);
      const role = await app.access.roleIn(caller.principal, env.id);
      if (!canMigrate(role)) {
        const err = noEnvironmentPermission(env, true);
        await audit(app, caller, { action: 'import.authorize', outcome: 'denied', environmentId, vmId, code: err.code, message: err.message, details: { role } });
        throw err;
      }
      const { token, expiresAt, jti } = await app.importTokens.issue({ user: caller.principal, environmentId, vmId });
      await audit(app, caller, {
        action: 'import.authorize',
        outcome: 'granted',
        environmentId,
        vmId,
        message: `Authorized importing ${vmId} into the environment "${env.name}" (role ${role}).`,
        details: { role, jti, expiresAt: expiresAt.toISOString() },
      });
      return reply.status(201).send({ token, expiresAt: expiresAt.toISOString(), environmentId, vmId });
    },
  );
};
