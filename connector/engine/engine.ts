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
import type { MigrationTask, MigrationState } from '../contract/index.ts';
import { streamDiskToS3 } from './disk-copy.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';
import { VcenterNetworkError, VimFault } from '../vsphere/vim25.ts';
import {
  AwsRetryError,
  awsRetryText,
  AWS_CALL_ROUNDS,
  errorName,
  errorText,
  failureMessage,
  importFailureText,
  isRetryableAwsError,
  LeaseFailure,
  MigrationError,
  sdkAttempts,
  transferFailure,
  transferFailureText,
  vcenterUnreachableText,
} from './failures.ts';
import { ActiveTaskConflict, type MigrationTaskRepository, type TaskFilter } from './task-store.ts';
import { AppError } from '../errors.ts';
import type { MigrationRecord, MigrationSubmission, StagedDisk } from './types.ts';
import { taskView } from './task-view.ts';

const SHUTDOWN = 'connector-shutdown';
const CANCEL = 'migration-cancelled';
const TERMINAL: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];

/** The environment tag the seed's portal puts on migrated instances. */
export const ENVIRONMENT_TAG = 'aws-management-portal/environment-id';
export const TASK_TAG = 'vm2ec2:task-id';
export const SOURCE_VM_TAG = 'vm2ec2:source-vm';
/** The source VM's name at launch (the Name tag is the user's to change). */
export const SOURCE_VM_NAME_TAG = 'vm2ec2:source-vm-name';
export { AWS_CALL_ROUNDS, AwsRetryError, MigrationError, awsRetryText, isRetryableAwsError, sdkAttempts } from './failures.ts';

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
  /** Export attempts when the disk download is interrupted or the export lease fails (each takes a fresh lease). */
  maxExportAttempts?: number;
  /** Attempts to reach vCenter before the migration fails. */
  vcenterConnectAttempts?: number;
  /** First wait before an export retry (doubling per retry, 50–100 % jitter) and its cap. */
  retryDelayMs?: number;
  retryMaxDelayMs?: number;
  now?: () => Date;
  log?: (msg: string) => void;
  /** Called once a task reaches a terminal state (e.g. to end its vCenter session). */
  onTaskEnd?: (task: MigrationRecord) => void;
}

interface Running {
  task: MigrationRecord;
  abort: AbortController;
  done: Promise<void>;
}

export class MigrationEngine {
  private readonly opts: Required<Omit<MigrationEngineOptions, 'log' | 'onTaskEnd'>> & Pick<MigrationEngineOptions, 'onTaskEnd'> & { log: (msg: string) => void };
  private readonly running = new Map<string, Running>();
  private readonly importSlots = new Map<string, ImportSlots>();
  /** Queued task ids in FIFO order, read from the store once; see queued(). */
  private queue: Set<string> | undefined;
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
      maxExportAttempts: 3,
      vcenterConnectAttempts: 6,
      retryDelayMs: 2_000,
      retryMaxDelayMs: 30_000,
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

  /**
   * Records and schedules a migration. A VM has at most one active migration: the store refuses a second one in
   * the statement that would record it, answered here as 409 MIGRATION_ALREADY_RUNNING naming the running one.
   */
  submit(sub: MigrationSubmission, id: string = MigrationEngine.newId()): MigrationTask {
    const now = this.iso();
    const queue = this.queued();
    const startsNow = this.running.size < this.opts.maxRunning && queue.size === 0;
    const record = this.insertExclusive({
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
    queue.add(record.id);
    this.pump();
    return this.view(this.opts.tasks.get(record.id) ?? record);
  }

  private insertExclusive(record: MigrationRecord): MigrationRecord {
    try {
      return this.opts.tasks.insert(record);
    } catch (err) {
      if (!(err instanceof ActiveTaskConflict)) throw err;
      const holder = err.holder as MigrationRecord | undefined;
      const live = holder ? (this.running.get(holder.id)?.task ?? holder) : undefined;
      throw migrationAlreadyRunning(record.vmId, live ? this.view(live) : undefined);
    }
  }

  /** The VM's active migration, if any. Advisory (pre-flight): submit() is where one per VM is enforced. */
  activeFor(vmId: string): MigrationTask | undefined {
    for (const state of ['running', 'cancelling', 'queued'] as const) {
      const [t] = this.opts.tasks.list({ vmId, state, limit: 1, offset: 0 }).items;
      if (t) return this.view(this.running.get(t.id)?.task ?? t);
    }
    return undefined;
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

  /** Cancels a task in any non-terminal phase, recording who asked; a terminal or cancelling task is returned unchanged. */
  cancel(id: string, cancelledBy: string): MigrationTask | undefined {
    const live = this.running.get(id);
    const t = live?.task ?? this.opts.tasks.get(id);
    if (!t) return undefined;
    if (TERMINAL.includes(t.state) || t.state === 'cancelling') return this.view(t);
    t.cancelRequested = true;
    t.cancelledBy = cancelledBy;
    t.cancelledAt = this.iso();
    if (t.state === 'queued') {
      this.queue?.delete(t.id);
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
    const queue = this.queued();
    while (this.running.size < this.opts.maxRunning) {
      const [id] = queue;
      if (id === undefined) return;
      queue.delete(id);
      // The store stays the truth: a task that left the queue some other way is skipped.
      const next = this.opts.tasks.get(id);
      if (next?.state !== 'queued') continue;
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

  /**
   * The queue in memory: reading it from the store on every submit, start and list parsed every queued record
   * (~10 ms at 1,000 queued), which made a burst of 1,000 submits quadratic (bench/scheduler.ts).
   */
  private queued(): Set<string> {
    this.queue ??= new Set(this.opts.tasks.byStates(['queued']).map((t) => t.id));
    return this.queue;
  }

  private queuePositions(): Map<string, number> {
    let position = 0;
    return new Map([...this.queued()].map((id) => [id, ++position]));
  }

  // ---------- the step machine ----------

  private async run(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    try {
      if (t.cancelRequested) throw new MigrationError('cancelled');
      if (t.phase === 'queued' || t.phase === 'exporting' || t.phase === 'uploading') await this.exportWithRetries(t, signal);
      if (t.phase === 'importing' && t.snapshotId) await this.withVcenter(t, (client) => this.removeExportSnapshot(t, client));
      if (t.phase === 'importing') await this.importImage(t, signal);
      if (t.phase === 'launching') await this.launchInstance(t, signal);
      if (t.phase === 'cleaning-up') {
        // The instance is ready: a clean-up failure is reported, never turned into a failed migration.
        await (this.opts.keepStaging ? this.abortUploads(t) : this.removeStaging(t)).catch((err: unknown) => {
          if (signal.reason === SHUTDOWN) throw err;
          t.warning = `The instance is ready, but the connector could not remove the staging copy of the disks (s3://${t.bucket}/${t.prefix}): ${errorText(err)}. Delete that prefix in the S3 console to stop paying for its storage.`;
          this.opts.log(`migration ${t.id}: ${t.warning}`);
        });
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

  /**
   * The export step with bounded retries. An interrupted download or a failed lease starts a fresh export (new
   * lease, orphan parts aborted; a powered-on VM keeps its snapshot); an unreachable vCenter has its own budget.
   * Waits double from retryDelayMs up to retryMaxDelayMs, with 50–100 % jitter.
   */
  private async exportWithRetries(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    let interrupted = 0;
    let unreachable = 0;
    const firstTry = Date.now();
    for (;;) {
      try {
        await this.exportAndUpload(t, signal);
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        let n: number;
        if (err instanceof VcenterNetworkError) {
          n = ++unreachable;
          if (n >= this.opts.vcenterConnectAttempts) throw new MigrationError(vcenterUnreachableText(err, n, Date.now() - firstTry), { cause: err });
        } else if (transferFailure(err)) {
          n = ++interrupted;
          if (n >= this.opts.maxExportAttempts) throw new MigrationError(transferFailureText(err, t, n), { cause: err });
        } else {
          throw err;
        }
        const delay = retryDelay(n, this.opts.retryDelayMs, this.opts.retryMaxDelayMs);
        this.opts.log(`migration ${t.id}: export attempt failed (${errorText(err)}); retrying in ${delay} ms`);
        await sleep(delay, signal);
      }
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
      if (t.snapshotId && !vm.snapshots.some((s) => s.id === t.snapshotId)) {
        // Removed behind our back (or by a run that crashed before saving it): take a new one.
        t.snapshotId = undefined;
        this.save(t);
      }
      if (vm.powerState !== 'poweredOff' && !t.snapshotId) {
        // A crash between vCenter taking the snapshot and us saving its id leaves it unrecorded: adopt it by name.
        const leftover = vm.snapshots.find((s) => s.name === snapshotName(t));
        const snap = leftover
          ? { type: 'VirtualMachineSnapshot', value: leftover.id }
          : await client.createSnapshot(t.vmId, snapshotName(t), 'Taken by the EC2 migration connector for export; removed when the export ends.');
        t.snapshotId = snap.value;
        this.save(t);
      }
      checkAbort(signal);
      lease = t.snapshotId ? await client.exportSnapshot({ type: 'VirtualMachineSnapshot', value: t.snapshotId }) : await client.exportVm(t.vmId);
      t.leaseId = lease.value;
      this.save(t);
      const info = await client.waitForLease(lease).catch((err: unknown) => {
        throw err instanceof VimFault ? new LeaseFailure(err.message, { cause: err }) : err;
      });
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
      try {
        for (const disk of t.disks) {
          checkAbort(signal);
          await this.copyDisk(t, disk, client, signal);
        }
      } catch (err) {
        // A download cut because the lease failed: report the lease's fault, not the broken connection.
        const lease = signal.aborted ? undefined : await client.leaseState(leaseRef).catch(() => undefined);
        throw lease?.error ? new LeaseFailure(lease.error.message, { cause: err }) : err;
      }
      clearInterval(keepAlive);
      keepAlive = undefined;
      await client.leaseProgress(leaseRef, 100).catch(() => undefined);
      await client.leaseComplete(leaseRef);
      t.leaseId = undefined;
      // The disks are in S3 from here on: a crash while the snapshot is removed must resume at the import,
      // which finishes the removal (see removeExportSnapshot), never export again from a removed snapshot.
      t.phase = 'importing';
      this.save(t);
      await this.removeExportSnapshot(t, client);
    } catch (err) {
      // A failed attempt gives its lease back at once (a retry takes a fresh one); after a cancel or a
      // shutdown, undo() or the resumed export does it.
      if (keepAlive) clearInterval(keepAlive);
      keepAlive = undefined;
      if (t.leaseId && !signal.aborted) {
        const aborted = await client.leaseAbort({ type: 'HttpNfcLease', value: t.leaseId }, `Export failed: ${errorText(err)}`.slice(0, 500)).then(
          () => true,
          () => false,
        );
        if (aborted) {
          t.leaseId = undefined;
          this.save(t);
        }
      }
      throw err;
    } finally {
      if (keepAlive) clearInterval(keepAlive);
      // The lease and snapshot are undone by undo() (cancel, failure) or by the resumed export (crash).
      await vc.release().catch(() => undefined);
    }
  }

  /** Removes the snapshot the export was taken from; one that is already gone counts as removed. */
  private async removeExportSnapshot(t: MigrationRecord, client: Vim25Client): Promise<void> {
    if (!t.snapshotId) return;
    await client.removeSnapshot({ type: 'VirtualMachineSnapshot', value: t.snapshotId }).catch((err: unknown) => {
      if (!(err instanceof VimFault && err.faultType === 'ManagedObjectNotFound')) throw err;
    });
    t.snapshotId = undefined;
    this.save(t);
  }

  private async withVcenter<T>(t: MigrationRecord, use: (client: Vim25Client) => Promise<T>): Promise<T> {
    const vc = await this.opts.openVcenter(t);
    try {
      return await use(vc.client);
    } finally {
      await vc.release().catch(() => undefined);
    }
  }

  /** NFC stream → S3 multipart upload, never touching local disk; memory ≈ queueSize × partSize. */
  private async copyDisk(t: MigrationRecord, disk: StagedDisk, client: Vim25Client, signal: AbortSignal): Promise<void> {
    disk.bytesUploaded = 0;
    disk.done = false;
    disk.startedAt = this.iso();
    const started = Date.now();
    const onProgress = (loaded: number): void => {
      disk.bytesUploaded = loaded;
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      disk.throughputBps = disk.bytesUploaded / secs;
      disk.etaSeconds = disk.throughputBps > 0 ? Math.max(0, (disk.expectedBytes - disk.bytesUploaded) / disk.throughputBps) : undefined;
      this.saveThrottled(t);
    };
    try {
      // Aborts its S3 multipart upload itself on any failure or on the signal.
      await streamDiskToS3(
        {
          url: client.resolveDeviceUrl(disk.url),
          ...(disk.sslThumbprint ? { thumbprint: disk.sslThumbprint } : {}),
          ...(client.sessionCookie ? { cookie: client.sessionCookie } : {}),
        },
        { s3: this.opts.s3(t.region), bucket: t.bucket, key: disk.s3Key, expectedBytes: disk.expectedBytes, queueSize: this.opts.queueSize },
        { signal, onProgress },
      );
    } catch (err) {
      checkAbort(signal);
      throw err;
    }
    disk.done = true;
    disk.etaSeconds = 0;
    this.save(t);
  }

  private async importImage(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const ec2 = this.opts.ec2(t.region);
    await this.acquireImportSlot(t, signal);
    try {
      let capacityWait = this.opts.pollMs;
      while (!t.importTaskId) {
        try {
          const out = await this.awsCall(t, 'EC2', 'ImportImage', signal, () =>
            ec2.send(
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
            ),
          );
          if (!out.ImportTaskId) throw new MigrationError('EC2 accepted the import but returned no import task id. Retry the migration.');
          t.importTaskId = out.ImportTaskId;
          t.importStatus = out.StatusMessage ?? out.Status;
          this.observeImportProgress(t, out.Progress);
          this.save(t);
        } catch (err) {
          if (errorName(err) !== 'ResourceLimitExceeded') throw err;
          // EC2's own count says the region is full: wait for capacity.
          t.importStatus = 'waiting for import capacity in the region';
          this.save(t);
          await sleep(jittered(capacityWait), signal);
          capacityWait = Math.min(this.opts.pollMaxMs, capacityWait * 2);
        }
      }
      const importTaskId = t.importTaskId;
      let delay = this.opts.pollMs;
      for (;;) {
        checkAbort(signal);
        const out = await this.awsCall(t, 'EC2', 'DescribeImportImageTasks', signal, () => ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [importTaskId] })));
        const task = out.ImportImageTasks?.[0];
        if (!task) throw new MigrationError(`EC2 no longer knows the import task ${importTaskId}. Start the migration again.`);
        if (task.Status === 'completed') {
          if (!task.ImageId) throw new MigrationError(`EC2 import ${importTaskId} completed without an AMI. Start the migration again.`);
          t.imageId = task.ImageId;
          t.importStatus = 'completed';
          t.importProgress = 100;
          t.phase = 'launching';
          this.save(t);
          return;
        }
        if (task.Status === 'deleted' || task.Status === 'deleting') {
          const lastStage = t.importStatus;
          t.importStatus = task.Status;
          throw new MigrationError(importFailureText(task.StatusMessage, t, lastStage));
        }
        const status = task.StatusMessage ?? task.Status;
        const progressed = this.observeImportProgress(t, task.Progress);
        if (status !== t.importStatus || progressed) {
          t.importStatus = status;
          this.save(t);
          delay = this.opts.pollMs;
        } else {
          delay = Math.min(this.opts.pollMaxMs, Math.ceil(delay * 1.5));
        }
        await sleep(jittered(delay), signal);
      }
    } finally {
      this.importSlots.get(t.region)?.delete(t.id);
    }
  }

  /**
   * Records EC2's Progress (a percentage string) and, from the second distinct value on, the time EC2 still needs at
   * the rate observed since the first one. True when the progress changed.
   */
  private observeImportProgress(t: MigrationRecord, reported: string | undefined): boolean {
    const progress = reported === undefined || reported.trim() === '' ? NaN : Number(reported);
    if (!Number.isFinite(progress) || progress < 0 || progress > 100 || progress === t.importProgress) return false;
    const now = this.opts.now();
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

  /**
   * One AWS call with engine-level retries on top of the SDK's own (which already back off with jitter):
   * at most AWS_CALL_ROUNDS rounds, full-jitter exponential waits from pollMs up to pollMaxMs, then a
   * MigrationError that names the AWS error and what to do. Non-retryable errors are thrown unchanged.
   */
  private async awsCall<T>(t: MigrationRecord, service: 'EC2' | 'S3', action: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    let attempts = 0;
    for (let round = 1; ; round++) {
      try {
        return await call();
      } catch (err) {
        attempts += sdkAttempts(err);
        if (!isRetryableAwsError(err)) throw err;
        const cause = err instanceof AwsRetryError && err.cause !== undefined ? err.cause : err;
        if (round >= AWS_CALL_ROUNDS) throw new AwsRetryError(awsRetryText(service, action, t.region, cause, attempts), cause);
        this.opts.log(`migration ${t.id}: ${service} ${action} failed (${errorName(cause) ?? 'error'}, ${attempts} attempts so far); retrying`);
        const cap = Math.min(this.opts.pollMaxMs, this.opts.pollMs * 2 ** round);
        await sleep(Math.round(Math.random() * cap), signal);
      }
    }
  }

  /** At most maxImportsPerRegion of our tasks hold an EC2 import at once (EC2's limit error is the second guard). */
  private async acquireImportSlot(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    let slots = this.importSlots.get(t.region);
    if (!slots) this.importSlots.set(t.region, (slots = new ImportSlots()));
    while (!slots.has(t.id) && slots.size >= this.opts.maxImportsPerRegion) {
      if (t.importStatus !== 'waiting for import capacity in the region') {
        t.importStatus = 'waiting for import capacity in the region';
        this.save(t);
      }
      // Woken when a slot frees (polling alone waited up to pollMs per hand-over); the poll stays as a fallback.
      await Promise.race([slots.freed(), sleep(this.opts.pollMs, signal)]);
    }
    slots.add(t.id);
  }

  private async launchInstance(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const ec2 = this.opts.ec2(t.region);
    if (!t.instanceId) {
      // After a crash the instance may exist already: find it by its task tag before launching.
      const existing = await this.findInstance(t, signal);
      if (existing?.InstanceId) {
        t.instanceId = existing.InstanceId;
      } else {
        const out = await this.awsCall(t, 'EC2', 'RunInstances', signal, () =>
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
              TagSpecifications: [
                {
                  ResourceType: 'instance',
                  Tags: [
                    { Key: 'Name', Value: t.vmName ?? t.vmId },
                    { Key: TASK_TAG, Value: t.id },
                    { Key: ENVIRONMENT_TAG, Value: t.environmentId },
                    { Key: SOURCE_VM_TAG, Value: t.vmId },
                    ...(t.vmName ? [{ Key: SOURCE_VM_NAME_TAG, Value: t.vmName }] : []),
                  ],
                },
              ],
            }),
          ),
        );
        const id = out.Instances?.[0]?.InstanceId;
        if (!id) throw new MigrationError('EC2 accepted RunInstances but returned no instance. Check the EC2 console for the instance and retry.');
        t.instanceId = id;
      }
      this.save(t);
    }
    const instanceId = t.instanceId;
    const wanted = t.leaveRunning ? 'running' : 'stopped';
    let delay = this.opts.pollMs;
    for (;;) {
      checkAbort(signal);
      const inst = await this.describeInstance(t, instanceId, signal);
      const state = inst?.State?.Name;
      if (state === wanted) break;
      if (state === 'terminated' || state === 'shutting-down') {
        throw new MigrationError(`The new instance ${instanceId} was terminated before it was ready. Check the EC2 console (state reason: ${inst?.StateReason?.Message ?? 'unknown'}).`);
      }
      if (state === 'running' && wanted === 'stopped') {
        await this.awsCall(t, 'EC2', 'StopInstances', signal, () => ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })));
        t.instanceStopped = true;
        this.save(t);
      }
      await sleep(jittered(delay), signal);
      delay = Math.min(this.opts.pollMaxMs, Math.ceil(delay * 1.5));
    }
    t.phase = 'cleaning-up';
    this.save(t);
  }

  private async findInstance(t: MigrationRecord, signal?: AbortSignal): Promise<Instance | undefined> {
    const out = await this.awsCall(t, 'EC2', 'DescribeInstances', signal, () =>
      this.opts.ec2(t.region).send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${TASK_TAG}`, Values: [t.id] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          ],
        }),
      ),
    );
    return out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  }

  private async describeInstance(t: MigrationRecord, id: string, signal?: AbortSignal): Promise<Instance | undefined> {
    const out = await this.awsCall(t, 'EC2', 'DescribeInstances', signal, () => this.opts.ec2(t.region).send(new DescribeInstancesCommand({ InstanceIds: [id] })));
    return out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
  }

  /** An active import task this migration started but whose id was never recorded (its ImportImage answer was lost). */
  private async findImportTask(t: MigrationRecord): Promise<string | undefined> {
    const ec2 = this.opts.ec2(t.region);
    let token: string | undefined;
    do {
      const page = await this.awsCall(t, 'EC2', 'DescribeImportImageTasks', undefined, () =>
        ec2.send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['active'] }], NextToken: token })),
      );
      const mine = page.ImportImageTasks?.find((i) => i.Description?.startsWith(`vm2ec2 ${t.id} `));
      if (mine?.ImportTaskId) return mine.ImportTaskId;
      token = page.NextToken;
    } while (token);
    return undefined;
  }

  // ---------- undo and cleanup ----------

  /** Deregisters the AMI of an import that completed after the migration had already failed. */
  private async removeImportedImage(t: MigrationRecord, importTaskId: string): Promise<void> {
    const ec2 = this.opts.ec2(t.region);
    const out = await this.awsCall(t, 'EC2', 'DescribeImportImageTasks', undefined, () => ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [importTaskId] })));
    const imageId = out.ImportImageTasks?.[0]?.ImageId;
    if (imageId) await this.awsCall(t, 'EC2', 'DeregisterImage', undefined, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId })));
  }

  /**
   * Undoes what the task did so far; every step is best effort (with bounded retries) so one failure does not
   * hide the others. A failed launch leaves nothing behind either: its instance and AMI go as on a cancel.
   */
  private async undo(t: MigrationRecord, cancelled: boolean): Promise<void> {
    const warn = (what: string) => (err: unknown) => this.opts.log(`migration ${t.id}: ${what} failed: ${String(err)}`);
    const ec2 = this.opts.ec2(t.region);
    // exportAttempts > 0: a snapshot may exist that a crash kept us from recording; it is found by its name.
    if (t.leaseId || t.snapshotId || (t.exportAttempts > 0 && ['exporting', 'uploading', 'queued'].includes(t.phase))) {
      const vc = await this.opts.openVcenter(t).catch((err: unknown) => void warn('opening vCenter for cleanup')(err));
      if (vc) {
        if (!t.snapshotId) {
          const vm = await vc.client.getVirtualMachine(t.vmId).catch(() => undefined);
          const leftover = vm?.snapshots.find((s) => s.name === snapshotName(t));
          if (leftover) t.snapshotId = leftover.id;
        }
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
    if (!t.imageId && !t.importTaskId && t.phase === 'importing') {
      t.importTaskId = await this.findImportTask(t).catch((err: unknown) => void warn('looking up the import task')(err));
    }
    if (t.importTaskId && !t.imageId && !['deleted', 'deleting'].includes(t.importStatus ?? '')) {
      const importTaskId = t.importTaskId;
      await this.awsCall(t, 'EC2', 'CancelImportTask', undefined, () =>
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
        await this.awsCall(t, 'EC2', 'TerminateInstances', undefined, () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))).catch(warn('TerminateInstances'));
      }
      // The imported AMI is ours too once the import completed.
      const imageId = t.imageId;
      if (imageId) await this.awsCall(t, 'EC2', 'DeregisterImage', undefined, () => ec2.send(new DeregisterImageCommand({ ImageId: imageId }))).catch(warn('DeregisterImage'));
    }
    await this.removeStaging(t).catch(warn('staging cleanup'));
    this.save(t);
  }

  private async removeStaging(t: MigrationRecord): Promise<void> {
    const s3 = this.opts.s3(t.region);
    for (const d of t.disks) {
      await this.awsCall(t, 'S3', 'DeleteObject', undefined, () => s3.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: d.s3Key }))).catch((err: unknown) => {
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
        const [km, im] = [keyMarker, idMarker];
        out = await this.awsCall(t, 'S3', 'ListMultipartUploads', undefined, () =>
          s3.send(new ListMultipartUploadsCommand({ Bucket: t.bucket, Prefix: t.prefix, KeyMarker: km, UploadIdMarker: im })),
        );
      } catch (err) {
        // No bucket, or an endpoint without ListMultipartUploads (upload-only S3 sinks): nothing to abort.
        if (errorName(err) === 'NoSuchBucket' || errorName(err) === 'NotImplemented') return;
        throw err;
      }
      for (const u of out.Uploads ?? []) {
        const { Key, UploadId } = u;
        if (Key && UploadId) {
          await this.awsCall(t, 'S3', 'AbortMultipartUpload', undefined, () => s3.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key, UploadId }))).catch((err: unknown) => {
            // Aborted meanwhile (by lib-storage's own abort): gone is what we want.
            if (errorName(err) !== 'NoSuchUpload') throw err;
          });
        }
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
    const exists = (): Promise<boolean> =>
      this.awsCall(t, 'S3', 'HeadBucket', undefined, () => s3.send(new HeadBucketCommand({ Bucket: t.bucket }))).then(
        () => true,
        (err: unknown) => {
          // Throttled or unreachable S3 is not "absent": say so instead of trying to create the bucket.
          if (isRetryableAwsError(err)) throw err;
          return false;
        },
      );
    if (await exists()) return;
    try {
      await this.awsCall(t, 'S3', 'CreateBucket', undefined, () => s3.send(new CreateBucketCommand({ Bucket: t.bucket })));
    } catch (err) {
      if (isRetryableAwsError(err)) throw err;
      if (!(await exists())) {
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
    return taskView(t, this.opts.now(), queuePosition);
  }
}

const STATE_WORDS: Partial<Record<MigrationState, string>> = { queued: 'queued', running: 'running', cancelling: 'being cancelled' };

/** 409 naming the migration that holds the VM; the refused request's import authorization is spent. */
export function migrationAlreadyRunning(vmId: string, holder: MigrationTask | undefined): AppError {
  const vm = holder?.vmName ? `${holder.vmName} (${vmId})` : vmId;
  const which = holder
    ? `migration task ${holder.id}, requested by ${holder.requestedBy} at ${holder.createdAt}, is ${STATE_WORDS[holder.state] ?? holder.state}${holder.state === 'running' ? ` (${holder.phase})` : ''}`
    : 'another migration is in progress';
  return new AppError(
    409,
    'MIGRATION_ALREADY_RUNNING',
    `The virtual machine ${vm} is already being migrated: ${which}. A VM can have one migration at a time: wait for that migration to end, or cancel it (VM-to-EC2 Migrations). ` +
      'This request used up its import authorization: once that migration has ended, begin the migration again from Migrate VM to EC2.',
    holder ? { migrationId: holder.id, requestedBy: holder.requestedBy, state: holder.state, phase: holder.phase } : undefined,
  );
}

/** A region's import slots (task ids); releasing one wakes the tasks waiting in acquireImportSlot. */
class ImportSlots extends Set<string> {
  private next: { promise: Promise<void>; wake: () => void } | undefined;

  /** Resolves at the next release. */
  freed(): Promise<void> {
    if (!this.next) {
      let wake = (): void => {};
      const promise = new Promise<void>((resolve) => (wake = resolve));
      this.next = { promise, wake };
    }
    return this.next.promise;
  }

  override delete(id: string): boolean {
    const had = super.delete(id);
    const next = this.next;
    if (had && next) {
      this.next = undefined;
      next.wake();
    }
    return had;
  }
}

/** 10,000 parts must always suffice: part size from the expected stream size (see disk-copy.ts). */
export { partSizeFor } from './disk-copy.ts';


/** 50–100 % of `ms`: polls of many tasks spread out instead of arriving at EC2 together. */
function jittered(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2);
}

/** Exponential backoff with jitter: the n-th wait is 50–100 % of min(max, base × 2^(n−1)). */
function retryDelay(n: number, baseMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
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

/** The name of the snapshot a powered-on VM is exported from: unique per task, so a resumed export can find it. */
function snapshotName(t: MigrationRecord): string {
  return `vm2ec2-${t.id}`;
}
