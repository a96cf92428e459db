// A warm migration's test instance: ImportImage (or, for a Nitro-ready guest, RegisterImage) from the latest replicated
// EBS snapshots (pinned so later cycles do not delete them), RunInstances in the chosen subnet tagged as a test; Finish test terminates it, deregisters its AMI
// and deletes the AMI's snapshots. Client tokens are derived from the task and the test, so a resume never doubles.
import {
  CancelImportTaskCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { instanceTags, registerImage, TEST_INSTANCE_TAG } from '../aws-launch.ts';
import type { AwsSteps } from '../aws-steps.ts';
import { errorName, errorText, MigrationError } from '../failures.ts';
import { checkAbort, jittered, sleep, type EngineContext } from '../runtime.ts';
import type { MigrationRecord } from '../types.ts';
import { registeredName, registerSpec } from './register.ts';
import { resourceTags } from '../import-options.ts';

export class TestInstances {
  constructor(
    private readonly ctx: EngineContext,
    private readonly aws: AwsSteps,
    private readonly deleteSnapshots: (t: MigrationRecord, ids: string[]) => Promise<void>,
  ) {}

  /** Import → instance; a failure marks the test failed (replication goes on). */
  async launch(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const w = t.warm!;
    const test = w.test!;
    try {
      if (!test.snapshotIds) {
        test.snapshotIds = w.disks.map((d) => d.ebsSnapshotId!);
        if (w.lastSyncAt) test.fromSyncAt = w.lastSyncAt;
        this.ctx.save(t);
      }
      const ids = test.snapshotIds;
      if (!test.imageId && w.requestedImagePath === 'register-image') {
        // Registered from the pinned snapshots themselves: no import, no slot.
        test.imageId = await registerImage(this.aws, t, signal, registerSpec(t, testStep(t), ids));
        this.ctx.save(t);
      }
      if (!test.imageId) {
        await this.aws.importImage(t, test, signal, {
          slotKey: `${t.id}:test`,
          clientToken: testToken(t, 'import'),
          description: `vm2ec2 ${t.id} test (${t.vmName ?? t.vmId})`,
          containers: ids.map((id, i) => ({ Description: `disk ${i + 1}`, SnapshotId: id })),
        });
      }
      const ec2 = this.ctx.opts.ec2(t.region);
      if (!test.instanceId) {
        const existing = await this.aws.findInstance(t, signal, true);
        const id =
          existing?.InstanceId ??
          (
            await this.aws.call(t, 'EC2', 'RunInstances', signal, () =>
              ec2.send(
                new RunInstancesCommand({
                  ImageId: test.imageId,
                  InstanceType: t.instanceType as never,
                  MinCount: 1,
                  MaxCount: 1,
                  SubnetId: test.subnetId,
                  SecurityGroupIds: t.securityGroupIds,
                  ClientToken: testToken(t, 'run'),
                  TagSpecifications: (['instance', 'volume'] as const).map((ResourceType) => ({ ResourceType, Tags: testInstanceTags(t) })),
                }),
              ),
            )
          ).Instances?.[0]?.InstanceId;
        if (!id) throw new MigrationError('EC2 accepted RunInstances but returned no instance. Launch the test instance again.');
        test.instanceId = id;
        this.ctx.save(t);
      }
      const instanceId = test.instanceId;
      let delay = this.ctx.opts.pollMs;
      for (;;) {
        checkAbort(signal);
        const state = (await this.aws.describeInstance(t, instanceId, signal))?.State?.Name;
        if (state === 'running') break;
        if (state === 'terminated' || state === 'shutting-down' || state === undefined) throw new MigrationError(`The test instance ${instanceId} was terminated before it was running. Check the EC2 console, finish the test and launch it again.`);
        await sleep(jittered(delay), signal);
        delay = Math.min(this.ctx.opts.pollMaxMs, Math.ceil(delay * 1.5));
      }
      test.state = 'running';
      test.launchedAt = this.ctx.iso();
      this.ctx.save(t);
    } catch (err) {
      if (signal.aborted) throw err;
      test.state = 'failed';
      test.error = errorText(err);
      this.ctx.opts.log(`migration ${t.id}: the test instance failed: ${test.error}`);
      this.ctx.save(t);
    }
  }

  /** Finish test: the test's instance, AMI, the AMI's snapshots and the pins go; then the test record. */
  async finish(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    checkAbort(signal);
    await this.remove(t);
  }

  /** Removes the test's resources (each step idempotent, so a resumed or repeated removal is fine). */
  async remove(t: MigrationRecord): Promise<void> {
    const w = t.warm!;
    const test = w.test;
    if (!test) return;
    const ec2 = this.ctx.opts.ec2(t.region);
    const gone = (err: unknown, ...names: string[]) => {
      if (!names.includes(errorName(err) ?? '')) throw err;
    };
    if (!test.imageId && w.requestedImagePath === 'register-image') {
      // Registered before a crash lost the answer: found by its name.
      const found = await this.aws.findRegisteredImage(t, registeredName(t, testStep(t)));
      if (found) test.imageId = found;
    }
    const instanceId = test.instanceId ?? (test.imageId ? (await this.aws.findInstance(t, undefined, true))?.InstanceId : undefined);
    if (instanceId) {
      await this.aws.call(t, 'EC2', 'TerminateInstances', undefined, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))).catch((e: unknown) => gone(e, 'InvalidInstanceID.NotFound'));
    }
    const importTaskId = test.importTaskId;
    if (importTaskId && !test.imageId) {
      await this.aws.call(t, 'EC2', 'CancelImportTask', undefined, () => ec2.send(new CancelImportTaskCommand({ ImportTaskId: importTaskId, CancelReason: 'Test finished' }))).catch(async (e: unknown) => {
        if (errorName(e) !== 'IncorrectState') throw e;
        await this.aws.removeImportedImage(t, importTaskId);
      });
    }
    const imageId = test.imageId;
    if (imageId) {
      const images = await this.aws.call(t, 'EC2', 'DescribeImages', undefined, () => ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).catch((e: unknown) => {
        gone(e, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable');
        return undefined;
      });
      const amiSnapshots = (images?.Images?.[0]?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter((id): id is string => !!id);
      await this.aws.call(t, 'EC2', 'DeregisterImage', undefined, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId }))).catch((e: unknown) => gone(e, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'));
      // The AMI's own snapshots, never the replication chain's (an AMI may point at those directly).
      const chain = new Set([...w.disks.map((d) => d.ebsSnapshotId), ...(test.snapshotIds ?? [])]);
      await this.deleteSnapshots(t, amiSnapshots.filter((id) => !chain.has(id)));
    }
    // Unpinned: replaced chain snapshots the test held are deleted after the next cycle (or now, below).
    delete w.test;
    this.ctx.save(t);
    const heads = new Set(w.disks.map((d) => d.ebsSnapshotId));
    const unpinned = w.supersededSnapshots.filter((id) => !heads.has(id));
    if (unpinned.length) await this.deleteSnapshots(t, unpinned);
  }
}

/** The registered test image's step name: one per test request. */
function testStep(t: MigrationRecord): string {
  return `test-${Date.parse(t.warm!.test!.requestedAt).toString(36)}`;
}

/** Idempotency tokens of one test: the task, the test's request time and the step. */
function testToken(t: MigrationRecord, step: 'import' | 'run'): string {
  return `${t.id}-t${Date.parse(t.warm!.test!.requestedAt).toString(36)}-${step}`;
}

/** The migration's tags with "(test)" in the Name (the user's tags too, but never their Name: it stays a test), and the test marker. */
function testInstanceTags(t: MigrationRecord): { Key: string; Value: string }[] {
  const own = [...instanceTags(t).map((tag) => (tag.Key === 'Name' ? { Key: 'Name', Value: `${tag.Value} (test)` } : tag)), { Key: TEST_INSTANCE_TAG, Value: 'true' }];
  const o = t.importOptions;
  return resourceTags(own, o ? { importOptions: { ...o, tags: o.tags.filter((x) => x.key !== 'Name') } } : {});
}
