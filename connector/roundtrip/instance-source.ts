// "Bring back to vCenter" from Imported Instances: one task that exports the instance to S3 with the connector's own
// export path (ExportService: its bucket, its one-export-per-instance and per-region rules, EC2's refusals), waits for
// the OVA, then imports it like a completed export. What VM Export would refuse is asked before anything starts; a
// cancel (in either phase) or a restart during the export cancels the export and removes its OVA.
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeVolumesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import type { ReturnCheck } from '../contract/index.ts';
import { exportAlreadyRunning, type ExportService } from '../engine/exports.ts';
import { licenseOfUsage } from '../engine/instances.ts';
import type { ExportRecord } from '../engine/task-store.ts';
import type { ReturnRecord } from './store.ts';

/** The networks the OVF of VM Export's OVA names (one adapter on "VM Network", as lab/ec2/ova.ts writes it). */
export const EXPORTED_OVF_NETWORKS = ['VM Network'];
/** Where the task's export writes: EC2 names the object `<prefix><export task id>.ova`. */
export const RETURN_EXPORT_PREFIX = 'bring-back/';
/** VM Export's volume limit ("Considerations for instance export"). */
const MAX_EXPORT_GIB = 1024;
const GiB = 1024 ** 3;

export type ExportsForReturn = Pick<ExportService, 'get' | 'cancel' | 'list' | 'bucketName'>;

/** What VM Export and the connector's export rules would refuse, and the disks' capacity (the volumes' sizes). */
export async function instanceSourceChecks(ec2: EC2Client, exports: ExportsForReturn, instance: Instance): Promise<{ checks: ReturnCheck[]; diskCapacityBytes?: number }> {
  const id = instance.InstanceId ?? '';
  const checks: ReturnCheck[] = [];
  const blocker = (code: ReturnCheck['code'], message: string) => checks.push({ code, severity: 'blocker', message });
  const [volumes, bucket, recent] = await Promise.all([
    ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] })).then((r) => r.Volumes ?? []),
    exports.bucketName(),
    exports.list(7),
  ]);
  const why = 'VM Export can export an instance with one unencrypted EBS volume of at most 1 TiB and no software provided by AWS.';
  const encrypted = volumes.filter((v) => v.Encrypted).map((v) => v.VolumeId);
  if (encrypted.length) blocker('INSTANCE_NOT_EXPORTABLE', `The instance ${id} has encrypted EBS volumes (${encrypted.join(', ')}). ${why}`);
  if (volumes.length > 1) blocker('INSTANCE_NOT_EXPORTABLE', `The instance ${id} has ${volumes.length} EBS volumes. ${why}`);
  const big = volumes.find((v) => (v.Size ?? 0) > MAX_EXPORT_GIB);
  if (big) blocker('INSTANCE_NOT_EXPORTABLE', `The volume ${big.VolumeId} of ${id} is ${big.Size} GiB. ${why}`);
  if (licenseOfUsage(instance.UsageOperation) === 'AWS') blocker('INSTANCE_NOT_EXPORTABLE', `The instance ${id} runs software licensed from AWS (usage operation ${instance.UsageOperation}). ${why}`);
  if (!bucket) blocker('EXPORT_NOT_CONFIGURED', 'Instance export is not configured. An administrator must set the export bucket name (Settings > Instance export) first.');
  const holder = recent.find((e) => e.instanceId === id && (e.state === 'active' || e.state === 'cancelling'));
  if (holder) blocker('EXPORT_ALREADY_RUNNING', exportAlreadyRunning(id, holder).message);
  const capacity = volumes.reduce((s, v) => s + (v.Size ?? 0) * GiB, 0);
  return { checks, ...(volumes.length ? { diskCapacityBytes: capacity } : {}) };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** EC2 gives no percentage for an export: asked every second at first, then less often (at most every 15 s). */
const nextPoll = (ms: number) => Math.min(15_000, Math.round(ms * 1.5));

/**
 * The export phase: waits until the task's export completed and records where its OVA is. A failed or cancelled
 * export fails the task with EC2's reason; an abort returns at once (the caller undoes).
 */
export async function waitForExport(rec: ReturnRecord, exports: ExportsForReturn, signal: AbortSignal, save: (patch: Partial<ReturnRecord>) => Promise<void>): Promise<void> {
  for (let wait = 1_000; ; wait = nextPoll(wait)) {
    if (signal.aborted) return;
    const exp = await exports.get(rec.exportId);
    if (!exp) throw new Error(`The export ${rec.exportId} this task started is no longer recorded.`);
    if (exp.exportTaskId && exp.exportTaskId !== rec.exportTaskId) await save({ exportTaskId: exp.exportTaskId });
    if (exp.state === 'completed' && exp.s3Key) {
      await save({ bucket: exp.bucket, s3Key: exp.s3Key, phase: 'reading-ova' });
      return;
    }
    if (exp.state === 'failed' || exp.state === 'cancelled' || exp.state === 'completed') {
      throw new Error(`The export of ${rec.instanceId} to S3 ${exp.state === 'completed' ? 'named no OVA file' : `ended ${exp.state}`}: ${(exp.statusMessage ?? 'EC2 gave no reason').replace(/[.\s]+$/, '')}`);
    }
    await sleep(wait, signal);
  }
}

/**
 * Undoes the task's export: cancels it while EC2 still can (AWS then removes its partial objects), else waits for it to
 * end; then deletes its OVA if one was written. Returns what could not be undone, for the task's message.
 */
export async function undoExport(rec: ReturnRecord, exports: ExportsForReturn, s3: S3Client, by: string, maxWaitMs = 30 * 60_000): Promise<string | undefined> {
  let exp: ExportRecord | undefined = await exports.get(rec.exportId);
  if (!exp) return undefined;
  if (exp.state === 'active') {
    // EC2 refuses to cancel an export writing its final image: that one is waited for, then its OVA deleted.
    exp = (await exports.cancel(exp.id, by).catch(() => undefined)) ?? exp;
  }
  for (let wait = 1_000, end = Date.now() + maxWaitMs; exp && (exp.state === 'active' || exp.state === 'cancelling'); wait = nextPoll(wait)) {
    if (Date.now() > end) return `the export ${exp.exportTaskId || exp.id} is still ${exp.state}: cancel it under EC2-to-S3 Migrations, or delete s3://${exp.bucket}/${exp.s3Key ?? exp.s3Prefix} once it ends`;
    await sleep(wait);
    exp = await exports.get(rec.exportId);
  }
  const key = exp?.s3Key ?? (rec.s3Key || undefined);
  if (!exp || !key) return undefined;
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: exp.bucket, Key: key }));
  } catch (err) {
    return `deleting s3://${exp.bucket}/${key}: ${(err as Error).message}`;
  }
  return undefined;
}
