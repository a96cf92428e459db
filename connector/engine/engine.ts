// The migration engine: a durable FIFO of migrations, each a resumable step machine
// (export from vCenter → stream to S3 → ImportImage → RunInstances → clean up).
import { randomUUID } from 'node:crypto';
import {
  CancelImportTaskCommand,
  DeregisterImageCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  ImportImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { MigrationTask, MigrationState } from '../contract/index.ts';
import { openNfcDownload } from '../vsphere/nfc.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';
import type { MigrationTaskRepository, TaskFilter } from './task-store.ts';
import type { MigrationRecord, MigrationSubmission, StagedDisk } from './types.ts';

const MiB = 1024 * 1024;
const SHUTDOWN = 'connector-shutdown';
const CANCEL = 'migration-cancelled';
const TERMINAL: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];

/** The environment tag the seed's portal puts on migrated instances. */
export const ENVIRONMENT_TAG = 'aws-management-portal/environment-id';
export const TASK_TAG = 'vm2ec2:task-id';
export const SOURCE_VM_TAG = 'vm2ec2:source-vm';

/** A vCenter session the engine may use for one task; `release` ends it. */
export interface EngineVcenterSession {
  client: Vim25Client;
  release(): Promise<void>;
}

export interface MigrationEngineOptions {
  tasks: MigrationTaskRepository;
  /** A logged-in vim25 client for the task (the task's own user session, or a service account). */
  openVcenter(task: MigrationRecord): Promise<EngineVcenterSession>;
  ec2(region: string): EC2Client;
  /** S3 client for the region (non-AWS endpoints: forcePathStyle and WHEN_REQUIRED checksums). */
  s3(region: string): S3Client;
  stagingBucket(region: string): string;
  importRoleName?: string;
  /** Migrations running at once on this connector (seed: 4). */
  maxRunning?: number;
  /** Active EC2 import tasks per region (EC2 default quota: 5). */
  maxImportsPerRegion?: number;
  /** Wall time between HttpNfcLeaseProgress calls while a lease is held. */
  keepAliveMs?: number;
  /** First and longest wait between EC2 status polls. */
  pollMs?: number;
  pollMaxMs?: number;
  /** At most one progress write per task per this many ms while bytes flow. */
  progressSaveMs?: number;
  /** Parts buffered per upload (memory ≈ queueSize × partSize). */
  queueSize?: number;
  /** Keep the staged disk objects after a successful import (troubleshooting); default false. */
  keepStaging?: boolean;
  now?: () => Date;
  log?: (msg: string) => void;
  /** Called once a task reaches a terminal state (e.g. to end its vCenter session). */
  onTaskEnd?: (task: MigrationRecord) => void;
}

/** An error whose message is meant for the vSphere administrator as is. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

interface Running {
  task: MigrationRecord;
  abort: AbortController;
  done: Promise<void>;
}

export class MigrationEngine {
  private readonly opts: Required<Omit<MigrationEngineOptions, 'log' | 'onTaskEnd'>> & Pick<MigrationEngineOptions, 'onTaskEnd'> & { log: (msg: string) => void };
  private readonly running = new Map<string, Running>();
  private readonly importSlots = new Map<string, Set<string>>();
  private readonly lastSave = new Map<string, number>();
  private readonly buckets = new Map<string, Promise<void>>();
  private started = false;
  private stopping = false;
  private updatingFlag = false;

  constructor(options: MigrationEngineOptions) {
    this.opts = {
      importRoleName: 'vmimport',
      maxRunning: 4,
      maxImportsPerRegion: 5,
      keepAliveMs: 10_000,
      pollMs: 2_000,
      pollMaxMs: 30_000,
      progressSaveMs: 1_000,
      queueSize: 2,
      keepStaging: false,
      now: () => new Date(),
      log: () => {},
      ...options,
    };
  }

  /** Maintenance flag: while set, new migrations are refused (running ones continue). */
  get updating(): boolean {
    return this.updatingFlag;
  }

  setUpdating(on: boolean): void {
    this.updatingFlag = on;
  }

  /** Resumes every non-terminal task from its last persisted step, then fills free slots from the queue. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const t of this.opts.tasks.byStates(['running', 'cancelling'])) this.launch(t);
    this.pump();
  }

  /** Stops working without changing any task: a later start() resumes them. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const r of this.running.values()) r.abort.abort(SHUTDOWN);
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** A new task id (callers that must prepare something for the task before submitting it). */
  static newId(): string {
    return `mig-${randomUUID()}`;
  }

  submit(sub: MigrationSubmission, id: string = MigrationEngine.newId()): MigrationTask {
    const now = this.iso();
    const startsNow = this.running.size < this.opts.maxRunning && this.opts.tasks.byStates(['queued']).length === 0;
    const record = this.opts.tasks.insert({
      id,
      seq: 0,
      idKind: startsNow ? 'import' : 'queued',
      state: 'queued',
      phase: 'queued',
      ...sub,
      ...(sub.privateIpAddress === undefined ? { privateIpAddress: undefined } : {}),
      bucket: this.opts.stagingBucket(sub.region),
      prefix: `vm2ec2/${id}/`,
      exportAttempts: 0,
      disks: [],
      createdAt: now,
      updatedAt: now,
    } as MigrationRecord);
    this.pump();
    return this.view(this.opts.tasks.get(record.id) ?? record);
  }

  get(id: string): MigrationTask | undefined {
    const t = this.running.get(id)?.task ?? this.opts.tasks.get(id);
    return t ? this.view(t) : undefined;
  }

  list(filter: TaskFilter): { items: MigrationTask[]; total: number } {
    const page = this.opts.tasks.list(filter);
    const positions = this.queuePositions();
    return { items: page.items.map((t) => this.view(this.running.get(t.id)?.task ?? t, positions)), total: page.total };
  }

  /** Cancels a task in any non-terminal phase; a terminal task is returned unchanged. */
  cancel(id: string): MigrationTask | undefined {
    const live = this.running.get(id);
    const t = live?.task ?? this.opts.tasks.get(id);
    if (!t) return undefined;
    if (TERMINAL.includes(t.state) || t.state === 'cancelling') return this.view(t);
    t.cancelRequested = true;
    if (t.state === 'queued') {
      this.finish(t, 'cancelled');
      return this.view(t);
    }
    t.state = 'cancelling';
    this.save(t);
    live?.abort.abort(CANCEL);
    return this.view(t);
  }

  /** Resolves when no task is running or queued (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.running.values()];
      if (busy.length === 0 && this.opts.tasks.byStates(['queued']).length === 0) return;
      await Promise.allSettled(busy.map((r) => r.done));
      if (busy.length === 0) await sleep(20);
    }
  }

  // ---------- scheduling ----------

  private pump(): void {
    if (!this.started || this.stopping) return;
    while (this.running.size < this.opts.maxRunning) {
      const [next] = this.opts.tasks.byStates(['queued']);
      if (!next) return;
      next.state = 'running';
      next.startedAt = this.iso();
      next.phase = 'exporting';
      this.save(next);
      this.launch(next);
    }
  }

  private launch(task: MigrationRecord): void {
    const abort = new AbortController();
    const entry: Running = { task, abort, done: Promise.resolve() };
    this.running.set(task.id, entry);
    entry.done = this.run(task, abort.signal).finally(() => {
      this.running.delete(task.id);
      this.lastSave.delete(task.id);
      this.pump();
    });
  }

  private queuePositions(): Map<string, number> {
    return new Map(this.opts.tasks.byStates(['queued']).map((t, i) => [t.id, i + 1]));
  }

  // ---------- the step machine ----------

  private async run(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    try {
      if (t.cancelRequested) throw new MigrationError('cancelled');
      if (t.phase === 'queued' || t.phase === 'exporting' || t.phase === 'uploading') await this.exportAndUpload(t, signal);
      if (t.phase === 'importing') await this.importImage(t, signal);
      if (t.phase === 'launching') await this.launchInstance(t, signal);
      if (t.phase === 'cleaning-up') {
        if (this.opts.keepStaging) await this.abortUploads(t);
        else await this.removeStaging(t);
        t.phase = 'done';
        this.finish(t, 'completed');
      }
    } catch (err) {
      if (signal.reason === SHUTDOWN) return;
      if (t.cancelRequested) {
        await this.undo(t, true);
        this.finish(t, 'cancelled');
        return;
      }
      t.error = failureMessage(err, t);
      this.opts.log(`migration ${t.id} failed: ${t.error}`);
      await this.undo(t, false);
      this.finish(t, 'failed');
    }
  }

  private async exportAndUpload(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const vc = await this.opts.openVcenter(t);
    const { client } = vc;
    let keepAlive: NodeJS.Timeout | undefined;
    let lease: MoRef | undefined;
    try {
      // A resumed export starts over: the old lease (if any) is abandoned and orphan parts are aborted.
      if (t.leaseId) await client.leaseAbort({ type: 'HttpNfcLease', value: t.leaseId }).catch(() => undefined);
      await this.abortUploads(t);
      await this.ensureBucket(t);
      t.exportAttempts += 1;
      t.phase = 'exporting';
      t.leaseId = undefined;
      this.save(t);

      const vm = await client.getVirtualMachine(t.vmId);
      t.vmName = vm.name;
      if (vm.powerState !== 'poweredOff' && !t.snapshotId) {
        const snap = await client.createSnapshot(t.vmId, `vm2ec2-${t.id}`, 'Taken by the EC2 migration connector for export; removed when the export ends.');
        t.snapshotId = snap.value;
        this.save(t);
      }
      checkAbort(signal);
      lease = t.snapshotId ? await client.exportSnapshot({ type: 'VirtualMachineSnapshot', value: t.snapshotId }) : await client.exportVm(t.vmId);
      t.leaseId = lease.value;
      this.save(t);
      const info = await client.waitForLease(lease);
      const capacities = vm.disks.map((d) => d.capacityBytes);
      const devices = info.deviceUrl.filter((d) => d.disk);
      t.disks = devices.map((d, i) => {
        const capacityBytes = capacities[i] ?? Math.ceil((info.totalDiskCapacityInKB * 1024) / Math.max(1, devices.length));
        return {
          key: d.key,
          url: d.url,
          ...(d.sslThumbprint ? { sslThumbprint: d.sslThumbprint } : {}),
          s3Key: `${t.prefix}disk-${i + 1}.vmdk`,
          capacityBytes,
          expectedBytes: d.fileSize && d.fileSize > 0 ? d.fileSize : Math.ceil(capacityBytes * 1.01),
          bytesUploaded: 0,
          throughputBps: 0,
          done: false,
        };
      });
      t.phase = 'uploading';
      this.save(t);

      const total = t.disks.reduce((s, d) => s + d.expectedBytes, 0) || 1;
      const leaseRef = lease;
      keepAlive = setInterval(() => {
        const sent = t.disks.reduce((s, d) => s + d.bytesUploaded, 0);
        client.leaseProgress(leaseRef, (100 * sent) / total).catch((err: unknown) => this.opts.log(`lease keep-alive for ${t.id}: ${String(err)}`));
      }, this.opts.keepAliveMs);
      for (const disk of t.disks) {
        checkAbort(signal);
        await this.copyDisk(t, disk, client, signal);
      }
      clearInterval(keepAlive);
      keepAlive = undefined;
      await client.leaseProgress(leaseRef, 100).catch(() => undefined);
      await client.leaseComplete(leaseRef);
      t.leaseId = undefined;
      this.save(t);
      if (t.snapshotId) {
        await client.removeSnapshot({ type: 'VirtualMachineSnapshot', value: t.snapshotId });
        t.snapshotId = undefined;
      }
      t.phase = 'importing';
      this.save(t);
    } finally {
      if (keepAlive) clearInterval(keepAlive);
      // The lease and snapshot are undone by undo() (cancel, failure) or by the resumed export (crash).
      await vc.release().catch(() => undefined);
    }
  }

  /** NFC stream → S3 multipart upload, never touching local disk; memory ≈ queueSize × partSize. */
  private async copyDisk(t: MigrationRecord, disk: StagedDisk, client: Vim25Client, signal: AbortSignal): Promise<void> {
    disk.bytesUploaded = 0;
    disk.done = false;
    disk.startedAt = this.iso();
    const started = Date.now();
    const { stream } = await openNfcDownload(client.resolveDeviceUrl(disk.url), {
      ...(disk.sslThumbprint ? { thumbprint: disk.sslThumbprint } : {}),
      ...(client.sessionCookie ? { cookie: client.sessionCookie } : {}),
      signal,
    });
    const upload = new Upload({
      client: this.opts.s3(t.region),
      params: { Bucket: t.bucket, Key: disk.s3Key, Body: stream, ContentType: 'application/octet-stream' },
      partSize: partSizeFor(disk.expectedBytes),
      queueSize: this.opts.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = (): void => void upload.abort().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    upload.on('httpUploadProgress', (p) => {
      disk.bytesUploaded = Math.min(p.loaded ?? disk.bytesUploaded, Math.max(disk.expectedBytes, p.loaded ?? 0));
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      disk.throughputBps = disk.bytesUploaded / secs;
      disk.etaSeconds = disk.throughputBps > 0 ? Math.max(0, (disk.expectedBytes - disk.bytesUploaded) / disk.throughputBps) : undefined;
      this.saveThrottled(t);
    });
    try {
      await upload.done();
    } catch (err) {
      stream.destroy();
      checkAbort(signal);
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    disk.done = true;
    disk.etaSeconds = 0;
    this.save(t);
  }

  private async importImage(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const ec2 = this.opts.ec2(t.region);
    await this.acquireImportSlot(t, signal);
    try {
      while (!t.importTaskId) {
        try {
          const out = await ec2.send(
            new ImportImageCommand({
              // Derived from the task: a retried or resumed call returns the same import task.
              ClientToken: t.id,
              Description: `vm2ec2 ${t.id} (${t.vmName ?? t.vmId})`,
              Platform: t.platform,
              RoleName: this.opts.importRoleName,
              DiskContainers: t.disks.map((d, i) => ({
                Format: 'VMDK',
                Description: `disk ${i + 1}`,
                UserBucket: { S3Bucket: t.bucket, S3Key: d.s3Key },
              })),
            }),
          );
          if (!out.ImportTaskId) throw new MigrationError('EC2 accepted the import but returned no import task id. Retry the migration.');
          t.importTaskId = out.ImportTaskId;
          t.importStatus = out.StatusMessage ?? out.Status;
          if (out.Progress) t.importProgress = Number(out.Progress);
          this.save(t);
        } catch (err) {
          if (errorName(err) !== 'ResourceLimitExceeded') throw err;
          // EC2's own count says the region is full: wait for capacity.
          t.importStatus = 'waiting for import capacity in the region';
          this.save(t);
          await sleep(this.opts.pollMs, signal);
        }
      }
      let delay = this.opts.pollMs;
      for (;;) {
        checkAbort(signal);
        const out = await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [t.importTaskId] }));
        const task = out.ImportImageTasks?.[0];
        if (!task) throw new MigrationError(`EC2 no longer knows the import task ${t.importTaskId}. Start the migration again.`);
        if (task.Status === 'completed') {
          if (!task.ImageId) throw new MigrationError(`EC2 import ${t.importTaskId} completed without an AMI. Start the migration again.`);
          t.imageId = task.ImageId;
          t.importStatus = 'completed';
          t.importProgress = 100;
          t.phase = 'launching';
          this.save(t);
          return;
        }
        if (task.Status === 'deleted' || task.Status === 'deleting') {
          throw new MigrationError(importFailureText(task.StatusMessage, t));
        }
        const status = task.StatusMessage ?? task.Status;
        const progress = task.Progress !== undefined ? Number(task.Progress) : t.importProgress;
        if (status !== t.importStatus || progress !== t.importProgress) {
          t.importStatus = status;
          if (progress !== undefined) t.importProgress = progress;
          this.save(t);
          delay = this.opts.pollMs;
        } else {
          delay = Math.min(this.opts.pollMaxMs, Math.ceil(delay * 1.5));
        }
        await sleep(delay, signal);
      }
    } finally {
      this.importSlots.get(t.region)?.delete(t.id);
    }
  }

  /** At most maxImportsPerRegion of our tasks hold an EC2 import at once (EC2's limit error is the second guard). */
  private async acquireImportSlot(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    let slots = this.importSlots.get(t.region);
    if (!slots) this.importSlots.set(t.region, (slots = new Set()));
    while (!slots.has(t.id) && slots.size >= this.opts.maxImportsPerRegion) {
      if (t.importStatus !== 'waiting for import capacity in the region') {
        t.importStatus = 'waiting for import capacity in the region';
        this.save(t);
      }
      await sleep(this.opts.pollMs, signal);
    }
    slots.add(t.id);
  }

  private async launchInstance(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const ec2 = this.opts.ec2(t.region);
    if (!t.instanceId) {
      // After a crash the instance may exist already: find it by its task tag before launching.
      const existing = await this.findInstance(t);
      if (existing?.InstanceId) {
        t.instanceId = existing.InstanceId;
      } else {
        const out = await ec2.send(
          new RunInstancesCommand({
            ImageId: t.imageId,
            InstanceType: t.instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            SubnetId: t.subnetId,
            SecurityGroupIds: t.securityGroupIds,
            ...(t.privateIpAddress ? { PrivateIpAddress: t.privateIpAddress } : {}),
            ClientToken: t.id,
            TagSpecifications: [
              {
                ResourceType: 'instance',
                Tags: [
                  { Key: 'Name', Value: t.vmName ?? t.vmId },
                  { Key: TASK_TAG, Value: t.id },
                  { Key: ENVIRONMENT_TAG, Value: t.environmentId },
                  { Key: SOURCE_VM_TAG, Value: t.vmId },
                ],
              },
            ],
          }),
        );
        const id = out.Instances?.[0]?.InstanceId;
        if (!id) throw new MigrationError('EC2 accepted RunInstances but returned no instance. Check the EC2 console for the instance and retry.');
        t.instanceId = id;
      }
      this.save(t);
    }
    const wanted = t.leaveRunning ? 'running' : 'stopped';
    let delay = this.opts.pollMs;
    for (;;) {
      checkAbort(signal);
      const inst = await this.describeInstance(t.region, t.instanceId);
      const state = inst?.State?.Name;
      if (state === wanted) break;
      if (state === 'terminated' || state === 'shutting-down') {
        throw new MigrationError(`The new instance ${t.instanceId} was terminated before it was ready. Check the EC2 console (state reason: ${inst?.StateReason?.Message ?? 'unknown'}).`);
      }
      if (state === 'running' && wanted === 'stopped') {
        await ec2.send(new StopInstancesCommand({ InstanceIds: [t.instanceId] }));
        t.instanceStopped = true;
        this.save(t);
      }
      await sleep(delay, signal);
      delay = Math.min(this.opts.pollMaxMs, Math.ceil(delay * 1.5));
    }
    t.phase = 'cleaning-up';
    this.save(t);
  }

  private async findInstance(t: MigrationRecord): Promise<Instance | undefined> {
    const out = await this.opts.ec2(t.region).send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${TASK_TAG}`, Values: [t.id] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      }),
    );
    return out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  }

  private async describeInstance(region: string, id: string): Promise<Instance | undefined> {
    const out = await this.opts.ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  }

  // ---------- undo and cleanup ----------

  /** Undoes what the task did so far; every step is best effort so one failure does not hide the others. */
  private async undo(t: MigrationRecord, cancelled: boolean): Promise<void> {
    const warn = (what: string) => (err: unknown) => this.opts.log(`migration ${t.id}: ${what} failed: ${String(err)}`);
    if (t.leaseId || t.snapshotId) {
      const vc = await this.opts.openVcenter(t).catch((err: unknown) => void warn('opening vCenter for cleanup')(err));
      if (vc) {
        if (t.leaseId) {
          await vc.client.leaseAbort({ type: 'HttpNfcLease', value: t.leaseId }, cancelled ? 'Migration cancelled' : 'Migration failed').catch(warn('lease abort'));
          t.leaseId = undefined;
        }
        if (t.snapshotId) {
          await vc.client.removeSnapshot({ type: 'VirtualMachineSnapshot', value: t.snapshotId }).then(
            () => (t.snapshotId = undefined),
            warn('snapshot removal'),
          );
        }
        await vc.release().catch(() => undefined);
      }
    }
    await this.abortUploads(t).catch(warn('multipart abort'));
    if (t.importTaskId && !t.imageId) {
      await this.opts
        .ec2(t.region)
        .send(new CancelImportTaskCommand({ ImportTaskId: t.importTaskId, CancelReason: cancelled ? 'Cancelled by the user' : 'Migration failed' }))
        .catch(warn('CancelImportTask'));
    }
    if (cancelled) {
      const inst = t.instanceId ? { InstanceId: t.instanceId } : t.imageId ? await this.findInstance(t).catch(() => undefined) : undefined;
      if (inst?.InstanceId) {
        await this.opts.ec2(t.region).send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId] })).catch(warn('TerminateInstances'));
      }
      // The imported AMI is ours too once the import completed.
      if (t.imageId) await this.opts.ec2(t.region).send(new DeregisterImageCommand({ ImageId: t.imageId })).catch(warn('DeregisterImage'));
    }
    await this.removeStaging(t).catch(warn('staging cleanup'));
    this.save(t);
  }

  private async removeStaging(t: MigrationRecord): Promise<void> {
    const s3 = this.opts.s3(t.region);
    for (const d of t.disks) {
      await s3.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: d.s3Key })).catch((err: unknown) => {
        if (errorName(err) !== 'NoSuchKey' && errorName(err) !== 'NoSuchBucket') throw err;
      });
    }
    await this.abortUploads(t);
  }

  /** Aborts every multipart upload under the task's prefix (orphans of a crash or a cancel). */
  private async abortUploads(t: MigrationRecord): Promise<void> {
    const s3 = this.opts.s3(t.region);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      let out;
      try {
        out = await s3.send(new ListMultipartUploadsCommand({ Bucket: t.bucket, Prefix: t.prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      } catch (err) {
        // No bucket, or an endpoint without ListMultipartUploads (upload-only S3 sinks): nothing to abort.
        if (errorName(err) === 'NoSuchBucket' || errorName(err) === 'NotImplemented') return;
        throw err;
      }
      for (const u of out.Uploads ?? []) {
        if (u.Key && u.UploadId) await s3.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: u.Key, UploadId: u.UploadId }));
      }
      if (!out.IsTruncated) return;
      keyMarker = out.NextKeyMarker;
      idMarker = out.NextUploadIdMarker;
    }
  }

  private ensureBucket(t: MigrationRecord): Promise<void> {
    // One check per bucket per process; concurrent tasks share it (parallel CreateBucket calls race).
    let p = this.buckets.get(t.bucket);
    if (!p) {
      p = this.createBucket(t).catch((err: unknown) => {
        this.buckets.delete(t.bucket);
        throw err;
      });
      this.buckets.set(t.bucket, p);
    }
    return p;
  }

  private async createBucket(t: MigrationRecord): Promise<void> {
    const s3 = this.opts.s3(t.region);
    try {
      await s3.send(new HeadBucketCommand({ Bucket: t.bucket }));
      return;
    } catch {
      // absent (or not visible): try to create it
    }
    try {
      await s3.send(new CreateBucketCommand({ Bucket: t.bucket }));
    } catch (err) {
      const exists = await s3.send(new HeadBucketCommand({ Bucket: t.bucket })).then(() => true, () => false);
      if (!exists) {
        throw new MigrationError(
          `The connector cannot use its staging bucket ${t.bucket} in ${t.region}: ${errorText(err)}. Create the bucket for the connector, or allow it s3:CreateBucket, or set engine.stagingBucket to a bucket it owns.`,
        );
      }
    }
  }

  // ---------- persistence and views ----------

  private finish(t: MigrationRecord, state: 'completed' | 'failed' | 'cancelled'): void {
    t.state = state;
    t.finishedAt = this.iso();
    this.save(t);
    this.opts.onTaskEnd?.(t);
  }

  private save(t: MigrationRecord): void {
    t.updatedAt = this.iso();
    this.lastSave.set(t.id, Date.now());
    this.opts.tasks.save(t);
  }

  private saveThrottled(t: MigrationRecord): void {
    if (Date.now() - (this.lastSave.get(t.id) ?? 0) >= this.opts.progressSaveMs) this.save(t);
  }

  private iso(): string {
    return this.opts.now().toISOString();
  }

  private view(t: MigrationRecord, positions?: Map<string, number>): MigrationTask {
    const queuePosition = t.state === 'queued' ? (positions ?? this.queuePositions()).get(t.id) : undefined;
    const uploading = t.phase === 'uploading' && t.state === 'running';
    const throughput = uploading ? t.disks.reduce((s, d) => s + (d.done ? 0 : d.throughputBps), 0) : undefined;
    const remaining = t.disks.reduce((s, d) => s + Math.max(0, d.expectedBytes - d.bytesUploaded), 0);
    return {
      id: t.id,
      idKind: t.idKind,
      state: t.state,
      phase: t.phase,
      environmentId: t.environmentId,
      region: t.region,
      vmId: t.vmId,
      ...(t.vmName ? { vmName: t.vmName } : {}),
      platform: t.platform,
      subnetId: t.subnetId,
      instanceType: t.instanceType,
      securityGroupIds: t.securityGroupIds,
      ...(t.privateIpAddress ? { privateIpAddress: t.privateIpAddress } : {}),
      requestedBy: t.requestedBy,
      ...(queuePosition ? { queuePosition } : {}),
      disks: t.disks.map((d) => ({
        key: d.key,
        capacityBytes: d.capacityBytes,
        expectedBytes: d.expectedBytes,
        bytesUploaded: d.bytesUploaded,
        throughputBps: d.throughputBps,
        ...(d.etaSeconds !== undefined ? { etaSeconds: d.etaSeconds } : {}),
        done: d.done,
      })),
      percent: percentOf(t),
      ...(throughput !== undefined ? { throughputBps: throughput } : {}),
      ...(throughput ? { etaSeconds: remaining / throughput } : {}),
      ...(t.importTaskId ? { importTaskId: t.importTaskId } : {}),
      ...(t.importStatus ? { importStatus: t.importStatus } : {}),
      ...(t.importProgress !== undefined ? { importProgress: t.importProgress } : {}),
      ...(t.imageId ? { imageId: t.imageId } : {}),
      ...(t.instanceId ? { instanceId: t.instanceId } : {}),
      ...(t.error ? { error: t.error } : {}),
      createdAt: t.createdAt,
      ...(t.startedAt ? { startedAt: t.startedAt } : {}),
      updatedAt: t.updatedAt,
      ...(t.finishedAt ? { finishedAt: t.finishedAt } : {}),
    };
  }
}

/** 10,000 parts must always suffice: part size from the expected stream size, never below S3's 5 MiB. */
export function partSizeFor(expectedBytes: number): number {
  return Math.max(5 * MiB, Math.ceil(expectedBytes / 10_000));
}

/** Export+upload 0–50 %, import 50–90 %, launch and cleanup up to 100 %. */
function percentOf(t: MigrationRecord): number {
  if (t.state === 'completed') return 100;
  switch (t.phase) {
    case 'queued':
    case 'exporting':
      return 0;
    case 'uploading': {
      const total = t.disks.reduce((s, d) => s + d.expectedBytes, 0) || 1;
      const sent = t.disks.reduce((s, d) => s + (d.done ? d.expectedBytes : Math.min(d.bytesUploaded, d.expectedBytes)), 0);
      return Math.round((50 * sent) / total);
    }
    case 'importing':
      return 50 + Math.round(0.4 * (t.importProgress ?? 0));
    case 'launching':
      return 92;
    case 'cleaning-up':
    case 'done':
      return 98;
  }
}

function importFailureText(statusMessage: string | undefined, t: MigrationRecord): string {
  const msg = statusMessage ?? 'no reason given';
  if (/403|access|forbidden/i.test(msg)) {
    const multi = t.disks.length > 1;
    return (
      `EC2 could not read the uploaded disk${multi ? 's' : ''} of ${t.vmName ?? t.vmId} (${msg}). ` +
      (multi
        ? 'To migrate a virtual machine with more than one disk, grant the VM Import/Export service role the additional permissions it needs (fix the import service role in the setup page).'
        : 'Check that the VM Import service role exists and may read the staging bucket.')
    );
  }
  return `EC2 could not import ${t.vmName ?? t.vmId}: ${msg}. Check the operating system is supported by VM Import/Export and retry.`;
}

/** Errors a vSphere administrator can act on (seed troubleshooting: ESX host reachability, certificates). */
function failureMessage(err: unknown, t: MigrationRecord): string {
  if (err instanceof MigrationError) return err.message;
  const text = errorText(err);
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  const vm = t.vmName ?? t.vmId;
  if (code && ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETUNREACH'].includes(code)) {
    return `Connector is unable to reach ESX host to migrate virtual machine ${vm} (${text}). Make sure the connector can resolve and reach the ESX host on port 443.`;
  }
  if (/thumbprint|certificate|self.signed|CERT_/i.test(text)) {
    return `Certificate validation failed while exporting ${vm}: ${text}. Check the ESX host certificate, or the connector's SSL certificate validation setting.`;
  }
  if (t.phase === 'exporting' || t.phase === 'uploading') return `Exporting ${vm} from vCenter failed: ${text}`;
  if (t.phase === 'importing') return `The EC2 import of ${vm} failed: ${text}`;
  if (t.phase === 'launching') return `Launching the EC2 instance for ${vm} failed: ${text}`;
  return `Migration of ${vm} failed: ${text}`;
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new MigrationError(signal.reason === CANCEL ? 'cancelled' : 'stopped');
}

/** Abortable sleep (no timer library needed). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MigrationError('stopped'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new MigrationError('stopped'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
