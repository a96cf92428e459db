import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ACTION_IDS, ApiErrorBody, DynamicItemsRequest, DynamicItemsResponse } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { parseContextObjectId } from '../vsphere/ids.ts';

/**
 * The manifest's `dynamicUri` for VM actions. vsphere-ui calls it with the user's plugin session token. The
 * action is enabled on any VM the user sees: a disabled menu item cannot say why, so the modal asks
 * GET /vms/{vmId}/migrate-access and names what is missing (environment role, VApp.Export) and whom to ask.
 */
export const dynamicItemRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/dynamic-items/vm/actions',
    {
      schema: {
        operationId: 'getVmDynamicItems',
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
      // Authenticates the token (401 otherwise); rights are not judged here any more.
      await request.caller();
      const allowed = ids.length > 0 && ids.every((id) => id.type === 'VirtualMachine');
      // The single-VM form takes one VM; several selected VMs go to the wave form (acceptsMultipleTargets).
      return {
        apiVersion: '1.0.0',
        dynamicItems: [
          { id: ACTION_IDS.migrateVm, visible: allowed && ids.length === 1, relevant: true },
          { id: ACTION_IDS.migrateWave, visible: allowed, relevant: true },
        ],
      };
    },
  );
};
