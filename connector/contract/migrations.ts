import { z } from 'zod';
import { InstanceTypeName, PrivateIpv4, SecurityGroupId, SubnetId, uniqueList } from './aws-ids.ts';
import { EnvironmentId } from './environments.ts';
import { GuestPlatform } from './preflight.ts';
import { VmId } from './vms.ts';

/** Seed "VM Import Authorization", step 3: the import request with the portal's token, and the form's choices. */
export const MigrationRequest = z.strictObject({
  /** The compact JWS from POST /import-authorizations. */
  token: z
    .string()
    .min(1)
    .max(4096)
    .regex(/^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/, 'An import authorization token has three base64url parts separated by dots.'),
  environmentId: EnvironmentId,
  vmId: VmId,
  /** "Select the operating system running on the VM." */
  platform: GuestPlatform,
  subnetId: SubnetId,
  instanceType: InstanceTypeName,
  securityGroupIds: uniqueList(SecurityGroupId, 5).min(1, 'Choose a security group.'),
  /** Optional: "If you don't specify a private IP address, we'll select one for you." */
  privateIpAddress: PrivateIpv4.optional(),
}).meta({ id: 'MigrationRequest' });
export type MigrationRequest = z.infer<typeof MigrationRequest>;
