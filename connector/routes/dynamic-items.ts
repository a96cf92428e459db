import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ACTION_IDS, ApiErrorBody, DynamicItemsRequest, DynamicItemsResponse } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { EXPORT_PRIVILEGE } from '../preflight/run.ts';
import { parseContextObjectId } from '../vsphere/ids.ts';

export { EXPORT_PRIVILEGE };

/**
 * The manifest's `dynamicUri` for VM actions. vsphere-ui calls it with the user's plugin session token; the
 * action is enabled only for users who hold a role in at least one environment and VApp.Export (vCenter's
 * answer for the user's own session) on every target VM.
 */
export const dynamicItemRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/dynamic-items/vm/actions',
    {
      schema: {
        tags: ['plugin'],
        summary: 'Which VM actions the vSphere Client shows enabled for these VMs',
        body: DynamicItemsRequest,
        response: { 200: DynamicItemsResponse, 400: ApiErrorBody, 401: ApiErrorBody },
      },
    },
    async (request) => {
      const ids = request.body.objectIds.map((id) => {
        try {
          return parseContextObjectId(id);
        } catch (err) {
          throw new AppError(400, 'VALIDATION_FAILED', `The request is not valid: ${(err as Error).message}`);
        }
      });
      const caller = await request.caller();
      const vms = ids.filter((id) => id.type === 'VirtualMachine');
      let allowed = vms.length === ids.length && vms.length > 0 && (await app.access.hasAnyRole(caller.principal));
      if (allowed) {
        const { client, session } = caller.vcenter;
        const granted = await client.hasPrivilegeOnEntities(
          vms.map((v) => ({ type: 'VirtualMachine', value: v.value })),
          session.key,
          [EXPORT_PRIVILEGE],
        );
        allowed = vms.every((v) => granted.get(v.value)?.[EXPORT_PRIVILEGE] === true);
      }
      return { apiVersion: '1.0.0', dynamicItems: [{ id: ACTION_IDS.migrateVm, visible: allowed, relevant: true }] };
    },
  );
};
