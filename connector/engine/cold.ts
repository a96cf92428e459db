// The cold pipeline: the VM is exported from vCenter at one point in time (a snapshot when it is powered on), its
// disks are streamed to S3 and imported with ImportImage, then launched. Export retries and the undo live here.
import { AbortMultipartUploadCommand, CreateBucketCommand, DeleteObjectCommand, HeadBucketCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';
import { VcenterNetworkError, VimFault } from '../vsphere/vim25.ts';
import { streamDiskToS3 } from './disk-copy.ts';
import { errorName, errorText, isRetryableAwsError, LeaseFailure, MigrationError, transferFailure, transferFailureText, vcenterUnreachableText } from './failures.ts';
import { launchInstance } from './aws-launch.ts';
import type { AwsSteps } from './aws-steps.ts';
import { checkAbort, retryDelay, SHUTDOWN, sleep, withVcenter, type EngineContext } from './runtime.ts';
import type { MigrationRecord, StagedDisk } from './types.ts';

export class ColdPipeline {
  private readonly buckets = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly aws: AwsSteps,
  ) {}

  /** Runs the task from its persisted phase to 'done' (then the scheduler completes it). */
  async run(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    if (t.phase === 'queued' || t.phase === 'exporting' || t.phase === 'uploading') await this.exportWithRetries(t, signal);
    if (t.phase === 'importing' && t.snapshotId) await withVcenter(this.ctx, t, (client) => this.removeExportSnapshot(t, client));
    if (t.phase === 'importing') await this.aws.importStaged(t, signal);
    if (t.phase === 'launching') await launchInstance(this.aws, t, signal);
    if (t.phase === 'cleaning-up') {
      // The instance is ready: a clean-up failure is reported, never turned into a failed migration.
      await (this.ctx.opts.keepStaging ? this.abortUploads(t) : this.removeStaging(t)).catch((err: unknown) => {
        if (signal.reason === SHUTDOWN) throw err;
        t.warning = `The instance is ready, but the connector could not remove the staging copy of the disks (s3://${t.bucket}/${t.prefix}): ${errorText(err)}. Delete that prefix in the S3 console to stop paying for its storage.`;
        this.ctx.opts.log(`migration ${t.id}: ${t.warning}`);
      });
      t.phase = 'done';
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
          if (n >= this.ctx.opts.vcenterConnectAttempts) throw new MigrationError(vcenterUnreachableText(err, n, Date.now() - firstTry), { cause: err });
        } else if (transferFailure(err)) {
          n = ++interrupted;
          if (n >= this.ctx.opts.maxExportAttempts) throw new MigrationError(transferFailureText(err, t, n), { cause: err });
        } else {
          throw err;
        }
        const delay = retryDelay(n, this.ctx.opts.retryDelayMs, this.ctx.opts.retryMaxDelayMs);
        this.ctx.opts.log(`migration ${t.id}: export attempt failed (${errorText(err)}); retrying in ${delay} ms`);
        await sleep(delay, signal);
      }
    }
  }

  private async exportAndUpload(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const vc = await this.ctx.opts.openVcenter(t);
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
      this.ctx.save(t);

      const vm = await client.getVirtualMachine(t.vmId);
      t.vmName = vm.name;
      if (t.snapshotId && !vm.snapshots.some((s) => s.id === t.snapshotId)) {
        // Removed behind our back (or by a run that crashed before saving it): take a new one.
        t.snapshotId = undefined;
        this.ctx.save(t);
      }
      if (vm.powerState !== 'poweredOff' && !t.snapshotId) {
        // A crash between vCenter taking the snapshot and us saving its id leaves it unrecorded: adopt it by name.
        const leftover = vm.snapshots.find((s) => s.name === snapshotName(t));
        const snap = leftover
          ? { type: 'VirtualMachineSnapshot', value: leftover.id }
          : await client.createSnapshot(t.vmId, snapshotName(t), 'Taken by the EC2 migration connector for export; removed when the export ends.');
        t.snapshotId = snap.value;
        this.ctx.save(t);
      }
      checkAbort(signal);
      lease = t.snapshotId ? await client.exportSnapshot({ type: 'VirtualMachineSnapshot', value: t.snapshotId }) : await client.exportVm(t.vmId);
      t.leaseId = lease.value;
      this.ctx.save(t);
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
      this.ctx.save(t);

      const total = t.disks.reduce((s, d) => s + d.expectedBytes, 0) || 1;
      const leaseRef = lease;
      keepAlive = setInterval(() => {
        const sent = t.disks.reduce((s, d) => s + d.bytesUploaded, 0);
        client.leaseProgress(leaseRef, (100 * sent) / total).catch((err: unknown) => this.ctx.opts.log(`lease keep-alive for ${t.id}: ${String(err)}`));
      }, this.ctx.opts.keepAliveMs);
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
      this.ctx.save(t);
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
          this.ctx.save(t);
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
    this.ctx.save(t);
  }

  /** NFC stream → S3 multipart upload, never touching local disk; memory ≈ queueSize × partSize. */
  private async copyDisk(t: MigrationRecord, disk: StagedDisk, client: Vim25Client, signal: AbortSignal): Promise<void> {
    disk.bytesUploaded = 0;
    disk.done = false;
    disk.startedAt = this.ctx.iso();
    const started = Date.now();
    const onProgress = (loaded: number): void => {
      disk.bytesUploaded = loaded;
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      disk.throughputBps = disk.bytesUploaded / secs;
      disk.etaSeconds = disk.throughputBps > 0 ? Math.max(0, (disk.expectedBytes - disk.bytesUploaded) / disk.throughputBps) : undefined;
      const capMBps = this.ctx.opts.bandwidth?.throttledCap(t.id);
      if (capMBps !== undefined) t.throttle = { capMBps, at: this.ctx.iso() };
      else delete t.throttle;
      this.ctx.saveThrottled(t);
    };
    // Marked while the copy waits on the connector's bandwidth cap (the Migrations row says so); cleared by progress without waits.
    const onThrottled = (capMBps: number): void => {
      t.throttle = { capMBps, at: this.ctx.iso() };
      this.ctx.saveThrottled(t);
    };
    try {
      // Aborts its S3 multipart upload itself on any failure or on the signal.
      await streamDiskToS3(
        {
          url: client.resolveDeviceUrl(disk.url),
          ...(disk.sslThumbprint ? { thumbprint: disk.sslThumbprint } : {}),
          ...(client.sessionCookie ? { cookie: client.sessionCookie } : {}),
        },
        { s3: this.ctx.opts.s3(t.region), bucket: t.bucket, key: disk.s3Key, expectedBytes: disk.expectedBytes, queueSize: this.ctx.opts.queueSize },
        { signal, onProgress, ...(this.ctx.opts.bandwidth ? { throttle: this.ctx.opts.bandwidth.forTask(t.id, onThrottled) } : {}) },
      );
    } catch (err) {
      checkAbort(signal);
      throw err;
    }
    disk.done = true;
    disk.etaSeconds = 0;
    this.ctx.save(t);
  }

  /**
   * Undoes what the task did so far; every step is best effort (with bounded retries) so one failure does not
   * hide the others. A failed launch leaves nothing behind either: its instance and AMI go as on a cancel.
   */
  async undo(t: MigrationRecord, cancelled: boolean): Promise<void> {
    const warn = (what: string) => (err: unknown) => this.ctx.opts.log(`migration ${t.id}: ${what} failed: ${String(err)}`);
    // exportAttempts > 0: a snapshot may exist that a crash kept us from recording; it is found by its name.
    if (t.leaseId || t.snapshotId || (t.exportAttempts > 0 && ['exporting', 'uploading', 'queued'].includes(t.phase))) {
      const vc = await this.ctx.opts.openVcenter(t).catch((err: unknown) => void warn('opening vCenter for cleanup')(err));
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
    await this.aws.undoImportAndLaunch(t, cancelled);
    await this.removeStaging(t).catch(warn('staging cleanup'));
    this.ctx.save(t);
  }

  async removeStaging(t: MigrationRecord): Promise<void> {
    const s3 = this.ctx.opts.s3(t.region);
    for (const d of t.disks) {
      await this.aws.call(t, 'S3', 'DeleteObject', undefined, () => s3.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: d.s3Key }))).catch((err: unknown) => {
        if (errorName(err) !== 'NoSuchKey' && errorName(err) !== 'NoSuchBucket') throw err;
      });
    }
    await this.abortUploads(t);
  }

  /** Aborts every multipart upload under the task's prefix (orphans of a crash or a cancel). */
  async abortUploads(t: MigrationRecord): Promise<void> {
    const s3 = this.ctx.opts.s3(t.region);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      let out;
      try {
        const [km, im] = [keyMarker, idMarker];
        out = await this.aws.call(t, 'S3', 'ListMultipartUploads', undefined, () =>
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
          await this.aws.call(t, 'S3', 'AbortMultipartUpload', undefined, () => s3.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key, UploadId }))).catch((err: unknown) => {
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
    const s3 = this.ctx.opts.s3(t.region);
    const exists = (): Promise<boolean> =>
      this.aws.call(t, 'S3', 'HeadBucket', undefined, () => s3.send(new HeadBucketCommand({ Bucket: t.bucket }))).then(
        () => true,
        (err: unknown) => {
          // Throttled or unreachable S3 is not "absent": say so instead of trying to create the bucket.
          if (isRetryableAwsError(err)) throw err;
          return false;
        },
      );
    if (await exists()) return;
    try {
      await this.aws.call(t, 'S3', 'CreateBucket', undefined, () => s3.send(new CreateBucketCommand({ Bucket: t.bucket })));
    } catch (err) {
      if (isRetryableAwsError(err)) throw err;
      if (!(await exists())) {
        throw new MigrationError(
          `The connector cannot use its staging bucket ${t.bucket} in ${t.region}: ${errorText(err)}. Create the bucket for the connector, or allow it s3:CreateBucket, or set engine.stagingBucket to a bucket it owns.`,
        );
      }
    }
  }
}

/** The name of the snapshot a powered-on VM is exported from: unique per task, so a resumed export can find it. */
function snapshotName(t: MigrationRecord): string {
  return `vm2ec2-${t.id}`;
}
