import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, VmDetail, VmParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { VimFault } from '../vsphere/vim25.ts';

export const vmRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/vms/:vmId',
    {
      schema: {
        tags: ['vms'],
        summary: 'A VM as the migration form needs it: name, guest OS, power state, disks, NICs',
        params: VmParams,
        response: { 200: VmDetail, 401: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const { client } = await request.vcenter();
      try {
        const vm = await client.getVirtualMachine(request.params.vmId);
        return {
          id: vm.id,
          name: vm.name,
          guestId: vm.guestId,
          guestFullName: vm.guestFullName,
          powerState: vm.powerState,
          numCpu: vm.numCpu,
          memoryMB: vm.memoryMB,
          disks: vm.disks.map(({ key, label, capacityBytes, diskMode, backingType }) => ({ key, label, capacityBytes, diskMode, backingType })),
          nics: vm.nics,
          snapshotCount: vm.snapshotCount,
        };
      } catch (err) {
        if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') {
          throw new AppError(404, 'VM_NOT_FOUND', `vCenter has no virtual machine ${request.params.vmId}. It may have been deleted; refresh the inventory.`);
        }
        throw err;
      }
    },
  );
};
