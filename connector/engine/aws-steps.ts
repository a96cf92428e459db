// The EC2 steps every pipeline ends with: AWS calls with bounded retries, ImportImage within the region's import
// limit (import-slots.ts) and its polling, the lookups that find what a crash left, and the undo of import and launch.
// The launch and RegisterImage are in aws-launch.ts.
import {
  CancelImportTaskCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  ImportImageCommand,
  TerminateInstancesCommand,
  type ImageDiskContainer,
  type Instance,
} from '@aws-sdk/client-ec2';
import { instanceTags, TASK_TAG, TEST_INSTANCE_TAG } from './aws-launch.ts';
import { AWS_CALL_ROUNDS, AwsRetryError, awsRetryText, errorName, importFailureText, isRetryableAwsError, MigrationError, sdkAttempts } from './failures.ts';
import { ImportSlotGate, WAITING_FOR_CAPACITY } from './import-slots.ts';
import { afterImport, importImageOptions, resourceTags } from './import-options.ts';
import { checkAbort, jittered, sleep, type EngineContext } from './runtime.ts';
import type { MigrationRecord } from './types.ts';

/** Where an import's progress is recorded: the task itself, or a warm task's test instance. */
export type ImportHolder = Pick<MigrationRecord, 'importTaskId' | 'importStatus' | 'importProgress' | 'importFirstSeen' | 'importProgressAt' | 'importEtaSeconds' | 'imageId'>;

export interface ImportSpec {
  /** Holder of the region's import slot (the task id, or a derived id for a test import). */
  slotKey: string;
  /** Derived from the task and step: a retried or resumed call returns the same import task. */
  clientToken: string;
  description: string;
  containers: ImageDiskContainer[];
  /** Called with the AMI, before the completion is saved. */
  onCompleted?: () => void;
}

export class AwsSteps {
  private readonly importSlots: ImportSlotGate;

  /** The context is read by the launch steps (aws-launch.ts) too. */
  constructor(readonly ctx: EngineContext) {
    this.importSlots = new ImportSlotGate(ctx);
  }

  /** True while the task's own import waits for a slot in its region (it holds none). */
  waitingForImportSlot(taskId: string): boolean {
    return this.importSlots.isWaiting(taskId);
  }

  ec2(t: Pick<MigrationRecord, 'region'>) {
    return this.ctx.opts.ec2(t.region);
  }

  /**
   * One AWS call with engine-level retries on top of the SDK's own (which already back off with jitter):
   * at most AWS_CALL_ROUNDS rounds, full-jitter exponential waits from pollMs up to pollMaxMs, then a
   * MigrationError that names the AWS error and what to do. Non-retryable errors are thrown unchanged.
   */
  async call<T>(t: MigrationRecord, service: 'EC2' | 'S3' | 'EBS', action: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const { opts } = this.ctx;
    let attempts = 0;
    for (let round = 1; ; round++) {
      try {
        return await call();
      } catch (err) {
        attempts += sdkAttempts(err);
        if (!isRetryableAwsError(err)) throw err;
        const cause = err instanceof AwsRetryError && err.cause !== undefined ? err.cause : err;
        if (round >= AWS_CALL_ROUNDS) throw new AwsRetryError(awsRetryText(service, action, t.region, cause, attempts), cause);
        opts.log(`migration ${t.id}: ${service} ${action} failed (${errorName(cause) ?? 'error'}, ${attempts} attempts so far); retrying`);
        const cap = Math.min(opts.pollMaxMs, opts.pollMs * 2 ** round);
        await sleep(Math.round(Math.random() * cap), signal);
      }
    }
  }

  /** The cold path's import: the staged disks in S3, the task id as the client token. */
  importStaged(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    return this.importImage(t, t, signal, {
      slotKey: t.id,
      clientToken: t.id,
      description: `vm2ec2 ${t.id} (${t.vmName ?? t.vmId})`,
      containers: t.disks.map((d, i) => ({ Format: 'VMDK', Description: `disk ${i + 1}`, UserBucket: { S3Bucket: t.bucket, S3Key: d.s3Key } })),
      onCompleted: () => (t.phase = 'launching'),
    });
  }

  /** ImportImage (once: the client token) within the region's import limit, then polls it until it has an AMI. */
  async importImage(t: MigrationRecord, into: ImportHolder, signal: AbortSignal, spec: ImportSpec): Promise<void> {
    const { opts } = this.ctx;
    const ec2 = opts.ec2(t.region);
    await this.importSlots.acquire(t, into, spec.slotKey, signal);
    try {
      let capacityWait = opts.pollMs;
      while (!into.importTaskId) {
        try {
          const out = await this.call(t, 'EC2', 'ImportImage', signal, () =>
            ec2.send(
              new ImportImageCommand({
                ClientToken: spec.clientToken,
                Description: spec.description,
                Platform: t.platform,
                RoleName: opts.importRoleName,
                DiskContainers: spec.containers,
                // Licence type, encryption and boot mode (issue 18); the tags go on the import task here, on the AMI and snapshots after it.
                ...importImageOptions(t),
                ...(t.importOptions ? { TagSpecifications: [{ ResourceType: 'import-image-task', Tags: resourceTags(instanceTags(t), t) }] } : {}),
              }),
            ),
          );
          if (!out.ImportTaskId) throw new MigrationError('EC2 accepted the import but returned no import task id. Retry the migration.');
          into.importTaskId = out.ImportTaskId;
          into.importStatus = out.StatusMessage ?? out.Status;
          this.observeImportProgress(into, out.Progress);
          this.ctx.save(t);
        } catch (err) {
          if (errorName(err) !== 'ResourceLimitExceeded') throw err;
          // EC2's own count says the region is full: wait for capacity.
          into.importStatus = WAITING_FOR_CAPACITY;
          this.ctx.save(t);
          await sleep(jittered(capacityWait), signal);
          capacityWait = Math.min(opts.pollMaxMs, capacityWait * 2);
        }
      }
      const importTaskId = into.importTaskId;
      let delay = opts.pollMs;
      for (;;) {
        checkAbort(signal);
        const out = await this.call(t, 'EC2', 'DescribeImportImageTasks', signal, () => ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [importTaskId] })));
        const task = out.ImportImageTasks?.[0];
        if (!task) throw new MigrationError(`EC2 no longer knows the import task ${importTaskId}. Start the migration again.`);
        if (task.Status === 'completed') {
          if (!task.ImageId) throw new MigrationError(`EC2 import ${importTaskId} completed without an AMI. Start the migration again.`);
          if (t.importOptions) await afterImport(this, t, task, instanceTags(t), { record: into === t, signal });
          into.imageId = task.ImageId;
          into.importStatus = 'completed';
          into.importProgress = 100;
          spec.onCompleted?.();
          this.ctx.save(t);
          return;
        }
        if (task.Status === 'deleted' || task.Status === 'deleting') {
          const lastStage = into.importStatus;
          into.importStatus = task.Status;
          throw new MigrationError(importFailureText(task.StatusMessage, t, lastStage));
        }
        const status = task.StatusMessage ?? task.Status;
        const progressed = this.observeImportProgress(into, task.Progress);
        if (status !== into.importStatus || progressed) {
          into.importStatus = status;
          this.ctx.save(t);
          delay = opts.pollMs;
        } else {
          delay = Math.min(opts.pollMaxMs, Math.ceil(delay * 1.5));
        }
        await sleep(jittered(delay), signal);
      }
    } finally {
      await this.importSlots.release(t, spec.slotKey, signal);
    }
  }

  /**
   * Records EC2's Progress (a percentage string) and, from the second distinct value on, the time EC2 still needs at
   * the rate observed since the first one. True when the progress changed.
   */
  private observeImportProgress(t: ImportHolder, reported: string | undefined): boolean {
    const progress = reported === undefined || reported.trim() === '' ? NaN : Number(reported);
    if (!Number.isFinite(progress) || progress < 0 || progress > 100 || progress === t.importProgress) return false;
    const now = this.ctx.opts.now();
    const first = t.importFirstSeen;
    t.importProgress = progress;
    t.importProgressAt = now.toISOString();
    if (!first || progress < first.progress) {
      // A first value, or EC2 started counting again: no rate to estimate from yet.
      t.importFirstSeen = { at: t.importProgressAt, progress };
      delete t.importEtaSeconds;
      return true;
    }
    const seconds = (now.getTime() - Date.parse(first.at)) / 1000;
    const rate = seconds > 0 ? (progress - first.progress) / seconds : 0;
    if (rate > 0) t.importEtaSeconds = (100 - progress) / rate;
    else delete t.importEtaSeconds;
    return true;
  }

  /** The account's AMI with this exact name, if any. */
  async findRegisteredImage(t: MigrationRecord, name: string, signal?: AbortSignal): Promise<string | undefined> {
    const out = await this.call(t, 'EC2', 'DescribeImages', signal, () =>
      this.ctx.opts.ec2(t.region).send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [name] }] })),
    );
    return out.Images?.find((i) => i.Name === name && i.State !== 'deregistered')?.ImageId;
  }

  /** The task's instance (not terminated), found by its task tag: the migrated one, or with `test` its test instance. */
  async findInstance(t: MigrationRecord, signal?: AbortSignal, test = false): Promise<Instance | undefined> {
    const out = await this.call(t, 'EC2', 'DescribeInstances', signal, () =>
      this.ctx.opts.ec2(t.region).send(
        new DescribeInstancesCommand({
          Filters: [{ Name: `tag:${TASK_TAG}`, Values: [t.id] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
        }),
      ),
    );
    return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => (i.Tags ?? []).some((tag) => tag.Key === TEST_INSTANCE_TAG) === test);
  }

  async describeInstance(t: MigrationRecord, id: string, signal?: AbortSignal): Promise<Instance | undefined> {
    const out = await this.call(t, 'EC2', 'DescribeInstances', signal, () => this.ctx.opts.ec2(t.region).send(new DescribeInstancesCommand({ InstanceIds: [id] })));
    return out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  }

  /** An active import task whose description starts with `prefix` but whose id was never recorded (its ImportImage answer was lost). */
  async findImportTask(t: MigrationRecord, prefix = `vm2ec2 ${t.id} (`): Promise<string | undefined> {
    const ec2 = this.ctx.opts.ec2(t.region);
    let token: string | undefined;
    do {
      const page = await this.call(t, 'EC2', 'DescribeImportImageTasks', undefined, () =>
        ec2.send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['active'] }], NextToken: token })),
      );
      const mine = page.ImportImageTasks?.find((i) => i.Description?.startsWith(prefix));
      if (mine?.ImportTaskId) return mine.ImportTaskId;
      token = page.NextToken;
    } while (token);
    return undefined;
  }

  /** Deregisters the AMI of an import that completed after the migration had already failed. */
  async removeImportedImage(t: MigrationRecord, importTaskId: string): Promise<void> {
    const ec2 = this.ctx.opts.ec2(t.region);
    const out = await this.call(t, 'EC2', 'DescribeImportImageTasks', undefined, () => ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [importTaskId] })));
    const imageId = out.ImportImageTasks?.[0]?.ImageId;
    if (imageId) await this.call(t, 'EC2', 'DeregisterImage', undefined, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId })));
  }

  /**
   * Undoes the task's import and launch (best effort, each step on its own): an unfinished import is cancelled; on a
   * cancel or a failed launch the instance is terminated and the AMI deregistered.
   */
  async undoImportAndLaunch(t: MigrationRecord, cancelled: boolean): Promise<void> {
    const warn = (what: string) => (err: unknown) => this.ctx.opts.log(`migration ${t.id}: ${what} failed: ${String(err)}`);
    const ec2 = this.ctx.opts.ec2(t.region);
    if (!t.imageId && !t.importTaskId && t.phase === 'importing') {
      t.importTaskId = await this.findImportTask(t).catch((err: unknown) => void warn('looking up the import task')(err));
    }
    if (t.importTaskId && !t.imageId && !['deleted', 'deleting'].includes(t.importStatus ?? '')) {
      const importTaskId = t.importTaskId;
      await this.call(t, 'EC2', 'CancelImportTask', undefined, () =>
        ec2.send(new CancelImportTaskCommand({ ImportTaskId: importTaskId, CancelReason: cancelled ? 'Cancelled by the user' : 'Migration failed' })),
      ).then(
        () => (t.importStatus = 'deleting'),
        async (err: unknown) => {
          if (errorName(err) !== 'IncorrectState') return warn('CancelImportTask')(err);
          // Finished on EC2's side meanwhile: a failed import left nothing, a completed one left an AMI to remove.
          await this.removeImportedImage(t, importTaskId).catch(warn('removing the imported AMI'));
        },
      );
    }
    if (cancelled || t.phase === 'launching') {
      const inst = t.instanceId ? { InstanceId: t.instanceId } : t.imageId ? await this.findInstance(t).catch(() => undefined) : undefined;
      if (inst?.InstanceId) {
        const instanceId = inst.InstanceId;
        await this.call(t, 'EC2', 'TerminateInstances', undefined, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))).catch(warn('TerminateInstances'));
      }
      // The imported AMI is ours too once the import completed.
      const imageId = t.imageId;
      if (imageId) await this.call(t, 'EC2', 'DeregisterImage', undefined, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId }))).catch(warn('DeregisterImage'));
    }
  }
}

