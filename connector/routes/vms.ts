import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, VmDetail, VmMigrateAccess, VmParams } from '../contract/index.ts';
import { canMigrate } from '../auth/access.ts';
import { AppError } from '../errors.ts';
import { getVm, vmPrivileges } from '../preflight/run.ts';
import { VimFault } from '../vsphere/vim25.ts';

type Gap = VmMigrateAccess['missing'][number];

export const vmRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/vms/:vmId',
    {
      schema: {
        operationId: 'getVm',
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

  // The "Migrate VM to EC2" action stays enabled for everyone who sees the VM; the modal asks this first and
  // says what is missing and whom to ask (seed: "you'll see a message to ask your administrator").
  app.get(
    '/vms/:vmId/migrate-access',
    {
      schema: {
        operationId: 'getVmMigrateAccess',
        tags: ['vms'],
        summary: 'Whether the calling user may migrate this VM, and if not what is missing and whom to ask',
        params: VmParams,
        response: { 200: VmMigrateAccess, 401: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const { vmId } = request.params;
      const [vm, privileges, envs, roles] = await Promise.all([
        getVm(caller.vcenter.client, vmId),
        vmPrivileges(caller, vmId),
        app.store.environments.list(),
        app.access.rolesOf(caller.principal),
      ]);
      const environments = envs.flatMap((e) => {
        const role = caller.isAdministrator ? 'Owner' : (roles.get(e.id) ?? 'NoAccess');
        return role === 'General' || role === 'Owner' ? [{ id: e.id, name: e.name, region: e.region, role }] : [];
      });
      const missing: Gap[] = [];
      if (!environments.some((e) => canMigrate(e.role))) {
        missing.push({
          code: 'NO_MIGRATE_PERMISSION',
          message: 'You do not have permission to migrate VMs: no environment grants you the General or Owner role.',
          fix: 'Ask your AWS Management Portal administrator to grant you permission to migrate VMs into an environment (Administration > Permissions).',
        });
      }
      if (!privileges.export) {
        missing.push({
          code: 'VM_EXPORT_DENIED',
          message: `Your vCenter role does not allow exporting "${vm.name}" (privilege vApp > Export, VApp.Export), which the connector needs to copy its disks.`,
          fix: 'Ask your vCenter administrator for a role with vApp > Export on this VM or its folder.',
        });
      }
      return { vmId, vmName: vm.name, exportPrivilege: privileges.export, environments, canMigrate: missing.length === 0, missing };
    },
  );
};
