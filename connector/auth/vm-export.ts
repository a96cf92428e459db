import type { Caller } from './plugin.ts';
import { AppError } from '../errors.ts';
import { getVm, vmPrivileges } from '../preflight/run.ts';
import type { VmInfo } from '../vsphere/vim25.ts';

/**
 * Seed "VM Import Authorization": the user may export this VM. Asked with the user's own cloned vCenter session,
 * so vCenter itself answers: 404 VM_NOT_FOUND when the VM does not exist (for this user), 403 VM_EXPORT_DENIED
 * without the vApp > Export privilege on it. Used when the portal issues the token and again when it is redeemed
 * (the privilege may have been withdrawn in between).
 */
export async function requireVmExport(caller: Caller, vmId: string): Promise<VmInfo> {
  const [vm, privileges] = await Promise.allSettled([getVm(caller.vcenter.client, vmId), vmPrivileges(caller, vmId)]);
  // Existence first: vCenter may answer "not granted" for an object it does not have.
  if (vm.status === 'rejected') throw vm.reason;
  if (privileges.status === 'rejected') throw privileges.reason;
  if (!privileges.value.export) {
    throw new AppError(
      403,
      'VM_EXPORT_DENIED',
      `Your vCenter role does not allow exporting the virtual machine "${vm.value.name}" (${vmId}): it needs the privilege vApp > Export. Ask your vCenter administrator to grant it on this VM or its folder.`,
      { vmName: vm.value.name, privilege: 'VApp.Export' },
    );
  }
  return vm.value;
}
