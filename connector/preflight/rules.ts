// Pre-flight rules as pure functions of facts gathered elsewhere (run.ts), so each rule is testable alone.
import type { EnvironmentRole, GuestPlatform, MigrationMode, PreflightCheck } from '../contract/index.ts';
import type { VmInfo } from '../vsphere/types.ts';
import { canMigrate } from '../auth/access.ts';
import type { ImportRoleFacts } from '../aws/gateway.ts';
import { IMPORT_ROLE_POLICY_NAME, missingImportActions, trustsVmie } from '../aws/vmimport-role.ts';
import { classifyGuest } from './guest-os.ts';
import { placeInSubnet, usableRange } from './ipv4.ts';

/** Seed prerequisite: no disk whose compressed size is greater than 215 GB (GB as vSphere shows sizes: GiB). */
export const MAX_DISK_BYTES = 215 * 1024 ** 3;
/** VM Import fails for VMs with more than 21 volumes. */
export const MAX_DISKS = 21;
/** The seed's troubleshooting error for multi-disk VMs, verbatim. */
export const MULTI_DISK_MESSAGE =
  'To migrate a virtual machine with more than one disk, log into the management portal setup page and grant the additional permissions required by the VM Import/Export service.';

export interface VmPrivileges {
  export: boolean;
  createSnapshot: boolean;
  removeSnapshot: boolean;
}

const gb = (bytes: number) => `${Math.round((bytes / 1024 ** 3) * 10) / 10} GB`;
const quote = (s: string) => `"${s}"`;

export function permissionChecks(role: EnvironmentRole, environmentName: string): PreflightCheck[] {
  if (canMigrate(role)) return [];
  return [
    {
      code: 'NO_MIGRATE_PERMISSION',
      severity: 'blocker',
      message: `You do not have permission to migrate VMs into the environment ${quote(environmentName)}.`,
      fix: 'Ask your administrator to grant you permission (the General or Owner role) in this environment.',
      details: { role },
    },
  ];
}

export function privilegeChecks(vm: VmInfo, privileges: VmPrivileges, mode: MigrationMode = 'cold'): PreflightCheck[] {
  const out: PreflightCheck[] = [];
  if (!privileges.export) {
    out.push({
      code: 'VM_EXPORT_DENIED',
      severity: 'blocker',
      message: `Your vCenter role does not allow exporting ${quote(vm.name)} (privilege vApp > Export, VApp.Export), which the connector needs to copy its disks.`,
      fix: 'Ask your vCenter administrator for a role with vApp > Export on this VM or its folder.',
    });
  }
  // Warm: snapshot privileges are among those WARM_PRIVILEGE_MISSING lists (warm-rules.ts).
  if (mode === 'cold' && vm.powerState !== 'poweredOff' && !(privileges.createSnapshot && privileges.removeSnapshot)) {
    out.push({
      code: 'SNAPSHOT_PRIVILEGE_MISSING',
      severity: 'blocker',
      message: `${quote(vm.name)} is ${vm.powerState === 'poweredOn' ? 'powered on' : 'suspended'}, so the connector exports it from a snapshot, and your vCenter role does not allow creating and removing snapshots of it.`,
      fix: 'Shut down the VM before migrating it, or ask your vCenter administrator for the privileges Virtual machine > Snapshot management > Create snapshot and Remove snapshot.',
    });
  }
  return out;
}

export function guestChecks(vm: VmInfo, platform?: GuestPlatform): { checks: PreflightCheck[]; suggestedPlatform?: GuestPlatform } {
  const verdict = classifyGuest(vm.guestId);
  const checks: PreflightCheck[] = [];
  const os = vm.guestFullName || vm.guestId;
  if (verdict.support === 'unsupported') {
    checks.push({
      code: 'GUEST_OS_UNSUPPORTED',
      severity: 'blocker',
      message: `The guest operating system of ${quote(vm.name)} is ${os}: ${verdict.reason ?? 'VM Import/Export does not support it'}.`,
      fix: 'Only VMs running an operating system listed in "VM Import/Export Prerequisites" (Amazon EC2 User Guide) can be migrated. If vCenter has the wrong guest OS, correct it in the VM settings.',
      details: { guestId: vm.guestId },
    });
  } else if (verdict.support === 'unknown') {
    checks.push({
      code: 'GUEST_OS_UNVERIFIED',
      severity: 'warning',
      message: `vCenter reports the guest operating system of ${quote(vm.name)} as ${os}; the connector cannot tell whether VM Import/Export supports it.`,
      fix: 'Check the guest against "VM Import/Export Prerequisites" (Amazon EC2 User Guide), and set the exact guest OS in the VM settings.',
      details: { guestId: vm.guestId },
    });
  }
  if (platform && verdict.platform && platform !== verdict.platform) {
    checks.push({
      code: 'PLATFORM_MISMATCH',
      severity: 'warning',
      message: `You selected ${platform}, but vCenter reports the guest operating system as ${os}.`,
      fix: 'Select the operating system running on the VM.',
    });
  }
  return { checks, ...(verdict.platform ? { suggestedPlatform: verdict.platform } : {}) };
}

/** The disk's encryption flag, when the vCenter client reports one (a disk backing with a key id). */
const isEncrypted = (disk: VmInfo['disks'][number]) => disk.encrypted === true;

export function diskChecks(vm: VmInfo, mode: MigrationMode = 'cold'): PreflightCheck[] {
  const out: PreflightCheck[] = [];
  for (const disk of vm.disks) {
    if (disk.capacityBytes > MAX_DISK_BYTES) {
      out.push({
        code: 'DISK_TOO_LARGE',
        severity: 'blocker',
        message: `${disk.label} of ${quote(vm.name)} is ${gb(disk.capacityBytes)}; its compressed size may be greater than 215 GB, the largest disk a migration supports.`,
        fix: 'Make the disk smaller than 215 GB (move data to another disk or shrink the file system and the disk), then try again.',
        details: { disk: disk.label, capacityBytes: disk.capacityBytes },
      });
    }
    if (/RawDiskMapping|RawDisk|PartitionedRawDisk/i.test(disk.backingType)) {
      out.push({
        code: 'DISK_RDM',
        severity: 'blocker',
        message: `${disk.label} of ${quote(vm.name)} is a raw device mapping (RDM); VM Import/Export cannot import RDM disks.`,
        fix: 'Convert the RDM to a virtual disk (migrate it with a virtual disk format), or remove it from the VM before migrating.',
        details: { disk: disk.label },
      });
    }
    if (disk.diskMode?.startsWith('independent') && mode === 'warm') {
      // Every replication cycle reads a snapshot, and Changed Block Tracking does not follow independent disks.
      out.push({
        code: 'DISK_INDEPENDENT',
        severity: 'blocker',
        message: `${disk.label} of ${quote(vm.name)} is independent: snapshots and Changed Block Tracking do not cover it, so it cannot be replicated.`,
        fix: 'Change the disk mode to Dependent (Edit Settings > the hard disk > Disk Mode), or choose Migrate now with the VM powered off.',
        details: { disk: disk.label, diskMode: disk.diskMode },
      });
    } else if (disk.diskMode?.startsWith('independent') && vm.powerState !== 'poweredOff') {
      out.push({
        code: 'DISK_INDEPENDENT',
        severity: 'blocker',
        message: `${disk.label} of ${quote(vm.name)} is independent, so a snapshot cannot capture it, and the VM is not powered off.`,
        fix: 'Shut down the VM before migrating it, or change the disk mode to Dependent.',
        details: { disk: disk.label, diskMode: disk.diskMode },
      });
    }
    if (isEncrypted(disk)) {
      out.push({
        code: 'DISK_ENCRYPTED',
        severity: 'blocker',
        message: `${disk.label} of ${quote(vm.name)} is encrypted; VM Import/Export cannot import encrypted disks.`,
        fix: 'Decrypt the VM (VM Policies > Edit VM Storage Policies, a policy without encryption) before migrating.',
        details: { disk: disk.label },
      });
    }
  }
  if (vm.disks.length > MAX_DISKS) {
    out.push({
      code: 'TOO_MANY_DISKS',
      severity: 'blocker',
      message: `${quote(vm.name)} has ${vm.disks.length} disks; VM Import/Export imports at most ${MAX_DISKS}.`,
      fix: 'Remove or consolidate disks so that the VM has 21 or fewer.',
    });
  }
  return out;
}

export function stateChecks(vm: VmInfo, mode: MigrationMode = 'cold'): PreflightCheck[] {
  const out: PreflightCheck[] = [];
  if (vm.snapshotCount > 0 && mode === 'warm') {
    // Each cycle reads the base disk its own snapshot froze; with older snapshots below, the base disk is stale.
    out.push({
      code: 'SNAPSHOTS_PRESENT',
      severity: 'blocker',
      message: `${quote(vm.name)} has ${vm.snapshotCount} snapshot${vm.snapshotCount === 1 ? '' : 's'}. Replication reads the disk the connector's own snapshot freezes, which is the current state only when the VM has no other snapshots, so a VM with snapshots cannot be replicated.`,
      fix: 'Delete the snapshots (Snapshots > Manage Snapshots > Delete All, which consolidates the disks) and take none while the VM replicates, or choose Migrate now.',
      details: { snapshotCount: vm.snapshotCount },
    });
  } else if (vm.snapshotCount > 0) {
    out.push({
      code: 'SNAPSHOTS_PRESENT',
      severity: 'warning',
      message: `${quote(vm.name)} has ${vm.snapshotCount} snapshot${vm.snapshotCount === 1 ? '' : 's'}. The migration copies the VM's current state; its snapshots are not migrated.`,
      fix: 'Delete the snapshots you no longer need before migrating: long snapshot chains slow the export.',
      details: { snapshotCount: vm.snapshotCount },
    });
  }
  // Warm replicates a running VM by design; its power-state advice is WARM_POWERED_OFF (warm-rules.ts).
  if (mode === 'cold' && vm.powerState !== 'poweredOff') {
    out.push({
      code: 'POWERED_ON',
      severity: 'warning',
      message: `${quote(vm.name)} is ${vm.powerState === 'poweredOn' ? 'powered on' : 'suspended'}: the connector will export it from a temporary snapshot, and changes made in the guest after that snapshot are not migrated.`,
      fix: 'For a consistent copy, shut down the guest operating system before you click Begin migration to Amazon EC2.',
    });
  }
  if (vm.nics.length > 1) {
    out.push({
      code: 'MULTIPLE_NICS',
      severity: 'info',
      message: `${quote(vm.name)} has ${vm.nics.length} network adapters; the EC2 instance gets one network interface, in the subnet you choose.`,
    });
  }
  return out;
}

/**
 * The `vmimport` role: exists, trusted by VM Import/Export, allowed what imports need. For a VM with more than one
 * disk a broken role is reported with the seed's multi-disk error, which is how the seed's users met this problem.
 */
export function importRoleChecks(role: ImportRoleFacts, diskCount: number): PreflightCheck[] {
  let problem: { code: 'VMIMPORT_ROLE_MISSING' | 'VMIMPORT_ROLE_UNTRUSTED' | 'VMIMPORT_POLICY_MISSING'; message: string; fix: string; details?: Record<string, unknown> } | undefined;
  const name = quote(role.roleName);
  const attachTo = (target: string) =>
    `attach the ${IMPORT_ROLE_POLICY_NAME} policy to ${target} (see "VM Import Service Role" in the Amazon EC2 User Guide)`;
  if (!role.exists) {
    problem = {
      code: 'VMIMPORT_ROLE_MISSING',
      message: `The VM Import service role ${name} does not exist in the AWS account.`,
      fix: `An AWS administrator must create the IAM role ${name}, trusted by vmie.amazonaws.com, and ${attachTo('it')}.`,
    };
  } else if (!trustsVmie(role.trustPolicy)) {
    problem = {
      code: 'VMIMPORT_ROLE_UNTRUSTED',
      message: `The VM Import service role ${name} does not let VM Import/Export (vmie.amazonaws.com) use it.`,
      fix: `An AWS administrator must set the trust policy of ${name} to allow sts:AssumeRole for the service vmie.amazonaws.com (external id "vmimport").`,
    };
  } else {
    const missing = missingImportActions(role.policies);
    if (missing.length > 0) {
      problem = {
        code: 'VMIMPORT_POLICY_MISSING',
        message: `The VM Import service role ${name} lacks permissions that VM Import/Export needs: ${missing.join(', ')}.`,
        fix: `An AWS administrator must ${attachTo(`the role ${name}`)}.`,
        details: { missingActions: missing },
      };
    }
  }
  if (!problem) return [];
  if (diskCount > 1) {
    return [
      {
        code: 'MULTI_DISK_PERMISSION_MISSING',
        severity: 'blocker',
        message: MULTI_DISK_MESSAGE,
        fix: `${problem.message} ${problem.fix}`,
        details: { cause: problem.code, ...problem.details },
      },
    ];
  }
  return [{ code: problem.code, severity: 'blocker', message: problem.message, fix: problem.fix, ...(problem.details ? { details: problem.details } : {}) }];
}

export function privateIpChecks(ip: string, subnet: { id: string; cidrBlock: string }, inUse: boolean): PreflightCheck[] {
  const place = placeInSubnet(ip, subnet.cidrBlock);
  const range = usableRange(subnet.cidrBlock);
  const pick = range ? `Enter an address from ${range}` : 'Enter another address';
  if (place === 'outside') {
    return [
      {
        code: 'PRIVATE_IP_OUTSIDE_SUBNET',
        severity: 'blocker',
        message: `The private IP address ${ip} is not in the subnet ${subnet.id} (${subnet.cidrBlock}).`,
        fix: `${pick}, or leave the field empty and we'll select one for you.`,
      },
    ];
  }
  if (place === 'reserved') {
    return [
      {
        code: 'PRIVATE_IP_RESERVED',
        severity: 'blocker',
        message: `The private IP address ${ip} is reserved by AWS: the first four and the last address of every subnet cannot be used.`,
        fix: `${pick}, or leave the field empty and we'll select one for you.`,
      },
    ];
  }
  if (inUse) {
    return [
      {
        code: 'PRIVATE_IP_IN_USE',
        severity: 'blocker',
        message: `The private IP address ${ip} is already in use in the subnet ${subnet.id}.`,
        fix: "Enter a free address, or leave the field empty and we'll select one for you.",
      },
    ];
  }
  return [];
}
