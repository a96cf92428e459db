import { z } from 'zod';
import { InstanceTypeName, PrivateIpv4, SubnetId } from './aws-ids.ts';
import { EnvironmentId } from './environments.ts';
import { VmId } from './vms.ts';
import { CutoverShutdown, MigrationMode, WarmImagePath } from './tasks.ts';
import { BootMode, KmsKeyRef, LicenseType } from './import-options.ts';

/** blocker: the migration cannot start; warning: it can, but read this first; info: good to know. */
export const PreflightSeverity = z.enum(['blocker', 'warning', 'info']);
export type PreflightSeverity = z.infer<typeof PreflightSeverity>;

export const PreflightCode = z.enum([
  'NO_MIGRATE_PERMISSION',
  'VM_EXPORT_DENIED',
  'SNAPSHOT_PRIVILEGE_MISSING',
  'ENVIRONMENT_INCOMPLETE',
  'GUEST_OS_UNSUPPORTED',
  'GUEST_OS_UNVERIFIED',
  'PLATFORM_MISMATCH',
  'DISK_TOO_LARGE',
  'TOO_MANY_DISKS',
  'MULTI_DISK_PERMISSION_MISSING',
  'VMIMPORT_ROLE_MISSING',
  'VMIMPORT_ROLE_UNTRUSTED',
  'VMIMPORT_POLICY_MISSING',
  'VMIMPORT_ROLE_UNREADABLE',
  'DISK_RDM',
  'DISK_INDEPENDENT',
  'DISK_ENCRYPTED',
  'SNAPSHOTS_PRESENT',
  'POWERED_ON',
  'MULTIPLE_NICS',
  'SUBNET_NOT_IN_ENVIRONMENT',
  'SUBNET_FULL',
  'SECURITY_GROUP_NOT_IN_ENVIRONMENT',
  'INSTANCE_TYPE_NOT_ALLOWED',
  'INSTANCE_TYPE_NOT_OFFERED',
  'PRIVATE_IP_OUTSIDE_SUBNET',
  'PRIVATE_IP_RESERVED',
  'PRIVATE_IP_IN_USE',
  'AWS_CHECK_FAILED',
  'CONNECTOR_UPDATING',
  /** The VM already has an active migration (Begin would be refused with 409 and spend the authorization). */
  'MIGRATION_ALREADY_RUNNING',
  // "Replicate, then cut over" (mode warm) only:
  /** Virtual hardware older than version 7: no Changed Block Tracking. */
  'WARM_HARDWARE_TOO_OLD',
  /** The user lacks a vCenter privilege replication needs (snapshots, change tracking, datastore file access). */
  'WARM_PRIVILEGE_MISSING',
  /** Guest shutdown at cutover chosen, but VMware Tools is not running. */
  'WARM_TOOLS_NOT_RUNNING',
  /** The VM is powered off: nothing changes between cycles, so Migrate now is as fast. */
  'WARM_POWERED_OFF',
  /** Fact: whether the guest already has the drivers EC2 Nitro instances need (decides RegisterImage or VM Import), and its source. */
  'NITRO_READINESS',
  /** Register the replicated disks directly (imagePath register-image) chosen for a guest that is not Nitro-ready. */
  'WARM_REGISTER_IMAGE_NOT_READY',
  // Import options (issue 18):
  /** The licence type is one AWS refuses for this guest (Linux and Windows client: BYOL only). */
  'LICENSE_TYPE_NOT_ALLOWED',
  /** Bring your own licence for Windows Server: Microsoft's terms need Dedicated Hosts, the connector launches on shared tenancy. */
  'BYOL_NEEDS_DEDICATED_HOST',
  /** The environment's default licence type does not apply to this guest; the import uses the one AWS allows. */
  'LICENSE_TYPE_ADJUSTED',
  'KMS_KEY_NOT_FOUND',
  /** Disabled, pending deletion, asymmetric or not for encryption. */
  'KMS_KEY_NOT_USABLE',
  /** The key policy does not let the VM Import service role use the key. */
  'KMS_KEY_NOT_ALLOWED_FOR_IMPORT_ROLE',
  /** The connector may not read the key or its policy (a warning: AWS has the last word). */
  'KMS_KEY_UNREADABLE',
  /** The VM boots with UEFI and the chosen instance type does not support UEFI. */
  'INSTANCE_TYPE_NO_UEFI',
  /** The environment's tags and the migration's exceed what EC2 allows on a resource. */
  'TOO_MANY_TAGS',
  /** A tag key vm2ec2 itself sets (vm2ec2:…, aws-management-portal/…). */
  'TAG_KEY_RESERVED',
]);
export type PreflightCode = z.infer<typeof PreflightCode>;

export const PreflightCheck = z.object({
  code: PreflightCode,
  severity: PreflightSeverity,
  /** What was found, for a vSphere administrator. */
  message: z.string(),
  /** What to do about it. */
  fix: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'PreflightCheck' });
export type PreflightCheck = z.infer<typeof PreflightCheck>;

/** The VM's firmware in vCenter (config.firmware, config.bootOptions.efiSecureBootEnabled) and the EC2 boot mode it means. */
export const VmFirmware = z.object({
  firmware: z.enum(['bios', 'efi']),
  secureBoot: z.boolean(),
  bootMode: BootMode,
}).meta({ id: 'VmFirmware' });
export type VmFirmware = z.infer<typeof VmFirmware>;

export const GuestPlatform = z.enum(['Linux', 'Windows']);
export type GuestPlatform = z.infer<typeof GuestPlatform>;

export const PreflightQuery = z.strictObject({
  environmentId: EnvironmentId,
  /** The form's current choices, checked when given. */
  subnetId: SubnetId.optional(),
  privateIpAddress: PrivateIpv4.optional(),
  instanceType: InstanceTypeName.optional(),
  platform: GuestPlatform.optional(),
  /** "Replicate, then cut over" adds the replication checks (default cold). */
  mode: MigrationMode.optional(),
  /** Warm only: the cutover's shutdown choice (default guest), checked against VMware Tools. */
  cutoverShutdown: CutoverShutdown.optional(),
  /** Warm only: register-image is checked against the guest's Nitro readiness. */
  imagePath: WarmImagePath.optional(),
  /** Advanced: the licence type, when it differs from the environment's default. */
  licenseType: LicenseType.optional(),
  /** Advanced: encrypt the volumes ("true"/"false"; absent = the environment's default). */
  encrypted: z.enum(['true', 'false']).optional(),
  /** Advanced: the KMS key (absent = the environment's default key). */
  kmsKeyId: KmsKeyRef.optional(),
}).refine((q) => q.mode === 'warm' || (q.cutoverShutdown === undefined && q.imagePath === undefined), {
  message: 'The cutover shutdown and the image path apply only to "Replicate, then cut over" (mode warm).',
  path: ['cutoverShutdown'],
});
export type PreflightQuery = z.infer<typeof PreflightQuery>;

export const PreflightResult = z.object({
  vmId: VmId,
  /** The VM's name in vCenter (always sent by this connector). */
  vmName: z.string().optional(),
  environmentId: EnvironmentId,
  /** false when any check is a blocker. */
  ready: z.boolean(),
  /** The platform the guest OS suggests, to preselect in the form. */
  suggestedPlatform: GuestPlatform.optional(),
  /** Boot mode, a fact read from vCenter (not a choice): UEFI guests are imported and launched as UEFI. */
  firmware: VmFirmware.optional(),
  checks: z.array(PreflightCheck),
}).meta({ id: 'PreflightResult' });
export type PreflightResult = z.infer<typeof PreflightResult>;
