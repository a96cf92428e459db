import { z } from 'zod';

/** A VM id as vim25 names it (`vm-57`), the moref value of a `urn:vmomi:VirtualMachine:vm-57:<vcGuid>` context object. */
export const VmId = z
  .string()
  .max(64)
  .regex(/^vm-\d+$/, 'A VM id looks like vm-123 (the managed object id of the virtual machine).');

export const VmParams = z.object({ vmId: VmId });

export const VmDisk = z.object({
  key: z.number().int(),
  label: z.string(),
  capacityBytes: z.number().int().nonnegative(),
  diskMode: z.string().optional(),
  backingType: z.string(),
});

export const VmNic = z.object({
  key: z.number().int(),
  label: z.string(),
  network: z.string().optional(),
  macAddress: z.string().optional(),
});

export const PowerState = z.enum(['poweredOn', 'poweredOff', 'suspended']);

export const VmDetail = z.object({
  id: VmId,
  name: z.string(),
  guestId: z.string(),
  guestFullName: z.string(),
  powerState: PowerState,
  numCpu: z.number().int(),
  memoryMB: z.number().int(),
  disks: z.array(VmDisk),
  nics: z.array(VmNic),
  snapshotCount: z.number().int().nonnegative(),
});
export type VmDetail = z.infer<typeof VmDetail>;

/** What keeps the user from migrating this VM, in the order the modal states it. */
export const MigrateAccessGap = z.object({
  code: z.enum(['NO_MIGRATE_PERMISSION', 'VM_EXPORT_DENIED']),
  message: z.string(),
  /** What to do, naming whom to ask. */
  fix: z.string(),
});

/** Whether the user may migrate this VM: environment roles from the portal, VApp.Export from vCenter for the user's own session. */
export const VmMigrateAccess = z.object({
  vmId: VmId,
  vmName: z.string(),
  /** vApp > Export (VApp.Export) on this VM, as vCenter answers for the user's own session. */
  exportPrivilege: z.boolean(),
  /** Environments the user may migrate VMs into (role General or Owner; administrators: every environment). */
  environments: z.array(z.object({ id: z.string(), name: z.string(), region: z.string(), role: z.enum(['General', 'Owner']) })),
  canMigrate: z.boolean(),
  missing: z.array(MigrateAccessGap),
}).meta({ id: 'VmMigrateAccess' });
export type VmMigrateAccess = z.infer<typeof VmMigrateAccess>;
