import { z } from 'zod';
import { InstanceTypeName, PrivateIpv4, SecurityGroupId, SubnetId, uniqueList } from './aws-ids.ts';
import { EnvironmentId } from './environments.ts';
import { GuestPlatform } from './preflight.ts';
import { VmId } from './vms.ts';
import { ImportOptions } from './import-options.ts';
import { CutoverShutdown, MigrationMode, WarmImagePath } from './tasks.ts';

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
  /** "Migrate now" (cold, the default) or "Replicate, then cut over" (warm). */
  mode: MigrationMode.default('cold'),
  /** Warm only: minutes between replication cycles. */
  replicationIntervalMinutes: z.number().int('Use whole minutes.').min(5, 'Replicate at most every 5 minutes.').max(1440, 'Replicate at least once a day (1440 minutes).').optional(),
  /** Warm only: how the source is powered off at cutover. */
  cutoverShutdown: CutoverShutdown.optional(),
  /** Warm only: how the image is made (default import-image; register-image only for a Nitro-ready guest). */
  imagePath: WarmImagePath.optional(),
  /** The form's Advanced section (licence type, encryption, tags); left out = the environment's defaults. */
  importOptions: ImportOptions.optional(),
})
  .refine((r) => r.mode === 'warm' || (r.replicationIntervalMinutes === undefined && r.cutoverShutdown === undefined && r.imagePath === undefined), {
    message: 'The replication interval, the cutover shutdown and the image path apply only to "Replicate, then cut over" (mode warm).',
    path: ['mode'],
  })
  .meta({ id: 'MigrationRequest' });
export type MigrationRequest = z.infer<typeof MigrationRequest>;
