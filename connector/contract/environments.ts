import { z } from 'zod';
import { AwsRegionName, InstanceTypeName, SecurityGroupId, SubnetId, uniqueList, VpcId } from './aws-ids.ts';
import { multiLine } from './text.ts';
import { EnvironmentImportDefaults, EnvironmentImportDefaultsView } from './import-options.ts';

/** Seed "Managing Environments": per-environment roles of vCenter users. */
export const EnvironmentRole = z.enum(['NoAccess', 'ReadOnly', 'General', 'Owner']);
export type EnvironmentRole = z.infer<typeof EnvironmentRole>;

export const EnvironmentId = z
  .string()
  .max(64)
  .regex(/^env-[a-z0-9]{1,40}$/, 'An environment id looks like env-1a2b3c4d5e6f.');

export const EnvironmentParams = z.object({ id: EnvironmentId });

export const EnvironmentName = z
  .string()
  .trim()
  .min(1, 'An environment needs a name.')
  .max(64)
  .regex(/^[^\p{Cc}]+$/u, 'An environment name cannot contain control characters.');

/** What an administrator sets when creating or replacing an environment. */
export const EnvironmentInput = z.strictObject({
  name: EnvironmentName,
  description: multiLine(500).default(''),
  region: AwsRegionName,
  vpcId: VpcId,
  /** The subnets users may place instances in (all in the VPC). */
  subnetIds: uniqueList(SubnetId, 50).min(1, 'An environment offers at least one subnet.'),
  /** The security groups users may choose from (all in the VPC). */
  securityGroupIds: uniqueList(SecurityGroupId, 50).min(1, 'An environment offers at least one security group.'),
  /** Instance types users may choose; empty = every type the region offers. */
  instanceTypes: uniqueList(InstanceTypeName, 200).default([]),
  /** Defaults of the migration form's Advanced section (licence type, encryption, tags). */
  importDefaults: EnvironmentImportDefaults.default({ licenseType: 'AWS', encryption: { encrypted: false }, tags: [] }),
}).meta({ id: 'EnvironmentSettings' });
export type EnvironmentInput = z.infer<typeof EnvironmentInput>;

export const Environment = z.object({
  id: EnvironmentId,
  name: z.string(),
  description: z.string(),
  /** The environment every connector starts with. */
  isDefault: z.boolean(),
  region: AwsRegionName,
  /** null until an administrator chooses the default environment's VPC. */
  vpcId: VpcId.nullable(),
  subnetIds: z.array(SubnetId),
  securityGroupIds: z.array(SecurityGroupId),
  instanceTypes: z.array(InstanceTypeName),
  importDefaults: EnvironmentImportDefaultsView,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** The caller's role here (administrators manage every environment and hold Owner in each). */
  myRole: EnvironmentRole,
}).meta({ id: 'Environment' });
export type Environment = z.infer<typeof Environment>;

export const EnvironmentList = z.object({ environments: z.array(Environment) }).meta({ id: 'EnvironmentList' });
export type EnvironmentList = z.infer<typeof EnvironmentList>;

/** `user@domain` or `DOMAIN\user`, as vCenter spells its users. */
export const VcenterUserName = z
  .string()
  .trim()
  .min(3)
  .max(256)
  .regex(
    /^([^\s\p{Cc}@\\]+@[^\s\p{Cc}@\\]+|[^\s\p{Cc}@\\]+\\[^\s\p{Cc}@\\]+)$/u,
    'A vCenter user is written user@domain (e.g. operator@vsphere.local) or DOMAIN\\user.',
  );

export const EnvironmentPermission = z.strictObject({ userName: VcenterUserName, role: EnvironmentRole }).meta({ id: 'EnvironmentPermission' });
export type EnvironmentPermission = z.infer<typeof EnvironmentPermission>;

/** Replaces the whole permission list of an environment. */
export const EnvironmentPermissionsInput = z.strictObject({
  permissions: z
    .array(EnvironmentPermission)
    .max(500)
    .refine(
      (list) => new Set(list.map((p) => p.userName.toLowerCase())).size === list.length,
      'must list each user once',
    ),
}).meta({ id: 'EnvironmentPermissionsUpdate' });
export type EnvironmentPermissionsInput = z.infer<typeof EnvironmentPermissionsInput>;

export const EnvironmentPermissions = z.object({
  environmentId: EnvironmentId,
  permissions: z.array(EnvironmentPermission),
}).meta({ id: 'EnvironmentPermissions' });
export type EnvironmentPermissions = z.infer<typeof EnvironmentPermissions>;
