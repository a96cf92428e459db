import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ACTION_IDS, ApiErrorBody, DynamicItemsRequest, DynamicItemsResponse } from '../contract/index.ts';
import { parseContextObjectId } from '../vsphere/ids.ts';

/** The privilege a user needs on a VM before the plugin offers to migrate it (NFC export of its disks). */
export const EXPORT_PRIVILEGE = 'VApp.Export';

/**
 * The manifest's `dynamicUri` for VM actions. vsphere-ui calls it with the user's plugin session token;
 * the action is enabled only where vCenter says the user holds VApp.Export on every target VM.
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
      const ids = request.body.objectIds.map((id) => parseContextObjectId(id));
      const { client, session } = await request.vcenter();
      const vms = ids.filter((id) => id.type === 'VirtualMachine');
      let allowed = vms.length === ids.length && vms.length > 0;
      if (allowed) {
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
