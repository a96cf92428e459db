import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ImportedInstance, InstanceActionQuery, InstanceBackup, InstanceList, InstanceListQuery, InstanceParams } from '../contract/index.ts';
import { canMigrate, canView } from '../auth/access.ts';
import { loadEnvironment, noEnvironmentPermission } from './access-helpers.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The caller's environment, if their role allows `write` (General/Owner) or reading. */
async function environmentFor(app: FastifyInstance, request: FastifyRequest, environmentId: string, write: boolean) {
  const caller = await request.caller();
  const env = await loadEnvironment(app, environmentId);
  const role = caller.isAdministrator ? 'Owner' : await app.access.roleIn(caller.principal, env.id);
  if (!(write ? canMigrate(role) : canView(role))) throw noEnvironmentPermission(env, write);
  return { caller, env };
}

/** Imported instances of an environment: list, start, stop, backup (seed "Backing Up Your Instance"). */
export const instanceRoutes: FastifyPluginAsyncZod = async (app) => {
  const errors = { 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody };
  app.get(
    '/instances',
    { schema: { operationId: 'listInstances', tags: ['instances'], summary: "The environment's imported instances", querystring: InstanceListQuery, response: { 200: InstanceList, ...errors } } },
    async (request) => {
      const { env } = await environmentFor(app, request, request.query.environmentId, false);
      const items = await app.instancesService.list(env.id, env.region);
      // Instances launched before the name tag existed: the migration that made them knows the VM's name.
      return { items: await Promise.all(items.map(async (i) => (i.sourceVmName || !i.migrationId ? i : withTaskVmName(i, (await app.engine.get(i.migrationId))?.vmName)))) };
    },
  );
  for (const action of ['start', 'stop'] as const) {
    app.post(
      `/instances/:id/${action}`,
      { schema: { operationId: `${action}Instance`, tags: ['instances'], summary: `${action === 'start' ? 'Start' : 'Stop'} an imported instance`, params: InstanceParams, querystring: InstanceActionQuery, response: { 200: ImportedInstance, ...errors } } },
      async (request) => {
        const { env } = await environmentFor(app, request, request.query.environmentId, true);
        return app.instancesService[action](env.id, env.region, request.params.id);
      },
    );
  }
  app.post(
    '/instances/:id/backup',
    { schema: { operationId: 'backupInstance', tags: ['instances'], summary: 'Back up an imported instance (AMI and launch template)', params: InstanceParams, querystring: InstanceActionQuery, response: { 200: InstanceBackup, ...errors } } },
    async (request) => {
      const { env } = await environmentFor(app, request, request.query.environmentId, true);
      return app.instancesService.backup(env.id, env.region, request.params.id, new Date());
    },
  );
};

const withTaskVmName = (i: ImportedInstance, vmName: string | undefined): ImportedInstance => (vmName ? { ...i, sourceVmName: vmName } : i);
