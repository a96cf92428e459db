// What the engine makes in EC2 from an AMI: the instance (RunInstances, found again by its task tag after a crash) with
// the tags every launched instance carries, and, for a warm migration, the AMI registered from EBS snapshots.
import { RegisterImageCommand, RunInstancesCommand, StopInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import type { AwsSteps } from './aws-steps.ts';
import { errorName, MigrationError } from './failures.ts';
import { readAppliedAfterLaunch, resourceTags } from './import-options.ts';
import { checkAbort, jittered, sleep } from './runtime.ts';
import type { MigrationRecord } from './types.ts';

/** The environment tag the seed's portal puts on migrated instances. */
export const ENVIRONMENT_TAG = 'aws-management-portal/environment-id';
export const TASK_TAG = 'vm2ec2:task-id';
export const SOURCE_VM_TAG = 'vm2ec2:source-vm';
/** The source VM's name at launch (the Name tag is the user's to change). */
export const SOURCE_VM_NAME_TAG = 'vm2ec2:source-vm-name';
/** On a warm migration's test instance (besides the task's tags): never taken for the migrated instance. */
export const TEST_INSTANCE_TAG = 'vm2ec2:test-instance';

/** The tags of every instance the engine launches (a test instance adds its own). */
export function instanceTags(t: MigrationRecord): { Key: string; Value: string }[] {
  return [
    { Key: 'Name', Value: t.vmName ?? t.vmId },
    { Key: TASK_TAG, Value: t.id },
    { Key: ENVIRONMENT_TAG, Value: t.environmentId },
    { Key: SOURCE_VM_TAG, Value: t.vmId },
    ...(t.vmName ? [{ Key: SOURCE_VM_NAME_TAG, Value: t.vmName }] : []),
  ];
}

/** RunInstances once (found by its task tag after a crash), then waits for it to be running, or stopped per the form. */
export async function launchInstance(aws: AwsSteps, t: MigrationRecord, signal: AbortSignal): Promise<void> {
  const { opts } = aws.ctx;
  const ec2 = opts.ec2(t.region);
  if (!t.instanceId) {
    // After a crash the instance may exist already: find it by its task tag before launching.
    const existing = await aws.findInstance(t, signal);
    if (existing?.InstanceId) {
      t.instanceId = existing.InstanceId;
    } else {
      const out = await aws.call(t, 'EC2', 'RunInstances', signal, () =>
        ec2.send(
          new RunInstancesCommand({
            ImageId: t.imageId,
            InstanceType: t.instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            SubnetId: t.subnetId,
            SecurityGroupIds: t.securityGroupIds,
            ...(t.privateIpAddress ? { PrivateIpAddress: t.privateIpAddress } : {}),
            // Same token on every retry: EC2 returns the instance it already launched.
            ClientToken: t.id,
            TagSpecifications: t.importOptions
              ? [
                  { ResourceType: 'instance', Tags: resourceTags(instanceTags(t), t) },
                  { ResourceType: 'volume', Tags: resourceTags(instanceTags(t), t) },
                ]
              : [{ ResourceType: 'instance', Tags: instanceTags(t) }],
          }),
        ),
      );
      const id = out.Instances?.[0]?.InstanceId;
      if (!id) throw new MigrationError('EC2 accepted RunInstances but returned no instance. Check the EC2 console for the instance and retry.');
      t.instanceId = id;
    }
    aws.ctx.save(t);
  }
  const instanceId = t.instanceId;
  const wanted = t.leaveRunning ? 'running' : 'stopped';
  let delay = opts.pollMs;
  for (;;) {
    checkAbort(signal);
    const inst = await aws.describeInstance(t, instanceId, signal);
    const state = inst?.State?.Name;
    if (state === wanted) {
      if (inst && t.importOptions) await recordApplied(aws, t, inst, signal);
      break;
    }
    if (state === 'terminated' || state === 'shutting-down') {
      throw new MigrationError(`The new instance ${instanceId} was terminated before it was ready. Check the EC2 console (state reason: ${inst?.StateReason?.Message ?? 'unknown'}).`);
    }
    if (state === 'running' && wanted === 'stopped') {
      await aws.call(t, 'EC2', 'StopInstances', signal, () => ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })));
      t.instanceStopped = true;
      aws.ctx.save(t);
    }
    await sleep(jittered(delay), signal);
    delay = Math.min(opts.pollMaxMs, Math.ceil(delay * 1.5));
  }
  t.phase = 'cleaning-up';
  aws.ctx.save(t);
}

/** What AWS applied, read back; a failed read leaves the migration as it is (the instance is ready) and is logged. */
async function recordApplied(aws: AwsSteps, t: MigrationRecord, inst: Instance, signal: AbortSignal): Promise<void> {
  try {
    t.applied = await readAppliedAfterLaunch(aws, t, inst, signal);
    aws.ctx.save(t);
  } catch (err) {
    checkAbort(signal);
    aws.ctx.opts.log(`migration ${t.id}: reading back the applied import options failed: ${String(err)}`);
  }
}

export interface RegisterSpec {
  /** Unique per task and step: the idempotency key (see registerImage). */
  name: string;
  description: string;
  /** One per disk, in the VM's disk order; the first is the boot disk. */
  snapshotIds: string[];
  /** The VM's config.firmware: 'efi' → BootMode uefi, otherwise legacy-bios. */
  firmware?: string | undefined;
  tags: { Key: string; Value: string }[];
}

const REGISTER_ROOT_DEVICE = '/dev/sda1';

/** /dev/sda1 for the boot disk, then /dev/sdb, /dev/sdc… */
function registerDeviceName(i: number): string {
  return i === 0 ? REGISTER_ROOT_DEVICE : `/dev/sd${String.fromCharCode(98 + i - 1)}`;
}

/**
 * RegisterImage from EBS snapshots (a Nitro-ready guest: no VM Import, no import slot). RegisterImage has no client
 * token, so the unique `name` is the idempotency key: an AMI already registered under it (an answer lost to a crash)
 * is taken instead of registering a second. The first snapshot is the root device.
 */
export async function registerImage(aws: AwsSteps, t: MigrationRecord, signal: AbortSignal, spec: RegisterSpec): Promise<string> {
  const ec2 = aws.ctx.opts.ec2(t.region);
  const existing = await aws.findRegisteredImage(t, spec.name, signal);
  if (existing) return existing;
  try {
    const out = await aws.call(t, 'EC2', 'RegisterImage', signal, () =>
      ec2.send(
        new RegisterImageCommand({
          Name: spec.name,
          Description: spec.description,
          Architecture: 'x86_64',
          VirtualizationType: 'hvm',
          EnaSupport: true,
          BootMode: spec.firmware === 'efi' ? 'uefi' : 'legacy-bios',
          RootDeviceName: REGISTER_ROOT_DEVICE,
          BlockDeviceMappings: spec.snapshotIds.map((id, i) => ({ DeviceName: registerDeviceName(i), Ebs: { SnapshotId: id, DeleteOnTermination: true } })),
          TagSpecifications: [{ ResourceType: 'image', Tags: spec.tags }],
        }),
      ),
    );
    if (!out.ImageId) throw new MigrationError('EC2 accepted RegisterImage but returned no AMI. Retry the migration.');
    return out.ImageId;
  } catch (err) {
    // Registered by an earlier attempt whose answer was lost (e.g. a retried call): the name finds it.
    if (errorName(err) !== 'InvalidAMIName.Duplicate') throw err;
    const again = await aws.findRegisteredImage(t, spec.name, signal);
    if (!again) throw err;
    return again;
  }
}
