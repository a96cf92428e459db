// Instance export to S3 as OVA (seed "Exporting a Migrated EC2 Instance"): CreateInstanceExportTask into
// `export-to-s3-<name>-<region>`, at most N active per region, one at a time per instance.
import { randomUUID } from 'node:crypto';
import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, GetBucketAclCommand, HeadBucketCommand, PutBucketAclCommand, type S3Client } from '@aws-sdk/client-s3';
import { AppError } from '../errors.ts';
import type { ExportBefore, TaskObserver } from './observer.ts';
import { ActiveTaskConflict, type ExportRecord, type ExportTaskRepository, type SettingsSwap } from './task-store.ts';

/** VM Import/Export's canonical user for "all other Regions" (AWS user guide, vmexport.md); regional ids differ. */
export const VM_EXPORT_GRANTEE = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';
const BUCKET_SETTING = 'instance-export.bucketName';
const BUCKET_SETTING_BY = 'instance-export.bucketName.setBy';
const EXPORT_TAG = 'vm2ec2:export-id';
/** A reservation no process of ours is starting (the connector stopped mid-call) is settled after this long; any in-flight call has ended by then. */
const RESERVATION_GRACE_MS = 5 * 60_000;
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'SlowDown']);

/** Why EC2 refused CreateInstanceExportTask, for the administrator. */
function exportRefusal(err: unknown, instanceId: string, region: string): AppError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
  const name = e.name;
  const text = (e.message ?? String(err)).replace(/[.\s]+$/, '');
  if (name === 'IncorrectState') return new AppError(409, 'EXPORT_IN_PROGRESS', `EC2 refused the export of ${instanceId}: ${text}.`);
  if (name === 'ResourceLimitExceeded') return new AppError(429, 'EXPORT_LIMIT_REACHED', `EC2 refused the export: ${text}. Try again when a running export has finished.`);
  if (name === 'InvalidInstanceID.NotFound') return new AppError(404, 'INSTANCE_NOT_FOUND', `There is no instance ${instanceId} in ${region}.`);
  if (name === 'NotExportable') {
    return new AppError(
      422,
      'INSTANCE_NOT_EXPORTABLE',
      `EC2 cannot export ${instanceId}: ${text}. Only an instance with one unencrypted EBS volume of at most 1 TiB and no software provided by AWS (license-included Windows or SQL Server, AWS Marketplace) can be exported to S3.`,
    );
  }
  const attempts = e.$metadata?.attempts ?? 1;
  if (THROTTLING.has(name ?? '')) {
    return new AppError(
      502,
      'AWS_ERROR',
      `AWS kept answering ${name} to EC2 CreateInstanceExportTask in ${region} (${attempts} attempts, with backoff). Try the export again later, or raise the account's EC2 API rate limit (ask AWS Support).`,
    );
  }
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) {
    return new AppError(502, 'AWS_ERROR', `AWS kept answering ${name ?? 'an error'} (HTTP ${e.$metadata?.httpStatusCode}) to EC2 CreateInstanceExportTask in ${region} (${attempts} attempts): ${text}. Check the AWS Health Dashboard for EC2 in ${region}, then try the export again.`);
  }
  return new AppError(502, 'AWS_ERROR', `EC2 refused the export of ${instanceId}: ${text}.`);
}

const EXPORT_STATE_WORDS: Record<ExportRecord['state'], string> = {
  active: 'in progress',
  cancelling: 'being cancelled',
  cancelled: 'cancelled',
  completed: 'completed',
  failed: 'failed',
};

/** 409 naming the export that holds the instance, and what to do about it. */
export function exportAlreadyRunning(instanceId: string, holder: ExportRecord | undefined): AppError {
  const which = holder
    ? `export task ${holder.exportTaskId || `${holder.id} (EC2 is starting it)`}, requested by ${holder.requestedBy} at ${holder.createdAt}, is ${EXPORT_STATE_WORDS[holder.state]}`
    : 'another export is in progress';
  return new AppError(
    409,
    'EXPORT_ALREADY_RUNNING',
    `The instance ${instanceId} is already being exported: ${which}. An instance can have one export at a time: wait for that export to finish, or cancel it (Exports), then export again.`,
    holder ? { exportId: holder.id, ...(holder.exportTaskId ? { exportTaskId: holder.exportTaskId } : {}), requestedBy: holder.requestedBy, state: holder.state } : undefined,
  );
}

/** The message a failed export shows: EC2's StatusMessage and what to check. */
export function exportFailureText(instanceId: string, statusMessage: string | undefined): string {
  return (
    `EC2 could not export ${instanceId} (${statusMessage ?? 'no reason given'}). Check the instance can be exported: one EBS volume, ` +
    'not launched from an AWS-licensed Windows or Marketplace image, its AMI and snapshot still exist, and the export bucket grants VM Import/Export WRITE and READ_ACP. Then export it again.'
  );
}

export interface ExportServiceOptions {
  store: ExportTaskRepository;
  ec2(region: string): EC2Client;
  s3(region: string): S3Client;
  maxExportsPerRegion: number;
  now?: () => Date;
  /** Told after every persisted save; a reservation EC2 has not accepted yet is not an export and is not told. */
  observers?: TaskObserver[];
}

export class ExportService {
  private readonly now: () => Date;
  /** Reservations whose CreateInstanceExportTask call is in flight in this process. */
  private readonly starting = new Set<string>();

  constructor(private readonly opts: ExportServiceOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  bucketName(): Promise<string | undefined> {
    return this.opts.store.getSetting(BUCKET_SETTING);
  }

  setBucketName(name: string): Promise<void> {
    return this.opts.store.setSetting(BUCKET_SETTING, name, this.now().toISOString());
  }

  /** The configured bucket name with who set it and when (absent for a name set before that was recorded). */
  async bucketSetting(): Promise<{ bucketName: string; updatedAt: string; updatedBy?: string } | undefined> {
    const rec = await this.opts.store.getSettingRecord(BUCKET_SETTING);
    if (!rec) return undefined;
    const by = await this.opts.store.getSetting(BUCKET_SETTING_BY);
    return { bucketName: rec.value, updatedAt: rec.updatedAt, ...(by ? { updatedBy: by } : {}) };
  }

  /**
   * Sets the bucket name only if the current one is still `expected` (undefined: none configured yet).
   * Running exports keep the bucket recorded on their task; only later exports use the new name.
   */
  replaceBucketName(expected: string | undefined, name: string, by: string): Promise<SettingsSwap> {
    return this.opts.store.replaceSettings(BUCKET_SETTING, expected, { [BUCKET_SETTING]: name, [BUCKET_SETTING_BY]: by }, this.now().toISOString());
  }

  /** `export-to-s3-<name>-<region>` (seed naming). */
  async bucketFor(region: string): Promise<string> {
    const name = await this.bucketName();
    if (!name) {
      throw new AppError(409, 'EXPORT_NOT_CONFIGURED', 'Instance export is not configured. An administrator must set the export bucket name (Settings > Instance export) first.');
    }
    return `export-to-s3-${name}-${region}`;
  }

  /**
   * The instance (and a slot of the region) is reserved in the store before any AWS call, in one statement that
   * refuses a second active export of the instance; parallel requests cannot both pass. The reservation becomes
   * the export once EC2 accepts it, and is dropped if EC2 refuses.
   */
  async start(input: { environmentId: string; region: string; instanceId: string; s3Prefix: string; requestedBy: string }): Promise<ExportRecord> {
    const bucket = await this.bucketFor(input.region);
    await this.refresh();
    const id = `exp-${randomUUID()}`;
    const at = this.now().toISOString();
    let rec: ExportRecord | undefined;
    try {
      rec = await this.opts.store.insert(
        { id, state: 'active', environmentId: input.environmentId, region: input.region, instanceId: input.instanceId, exportTaskId: '', bucket, s3Prefix: input.s3Prefix, requestedBy: input.requestedBy, createdAt: at, updatedAt: at },
        this.opts.maxExportsPerRegion,
      );
    } catch (err) {
      if (err instanceof ActiveTaskConflict) throw exportAlreadyRunning(input.instanceId, err.holder as ExportRecord | undefined);
      throw err;
    }
    if (!rec) {
      throw new AppError(
        429,
        'EXPORT_LIMIT_REACHED',
        `There are already ${this.opts.maxExportsPerRegion} exports running in ${input.region} (the per-region limit). Try again when one of them has finished.`,
      );
    }
    this.starting.add(id);
    try {
      await this.ensureBucket(input.region, bucket);
      const task = await this.createOnEc2(id, input, bucket);
      rec.exportTaskId = task.ExportTaskId;
      if (task.ExportToS3Task?.S3Key) rec.s3Key = task.ExportToS3Task.S3Key;
      rec.updatedAt = this.now().toISOString();
      await this.save(rec, undefined);
      return rec;
    } catch (err) {
      await this.opts.store.remove(id);
      throw err;
    } finally {
      this.starting.delete(id);
    }
  }

  private async createOnEc2(id: string, input: { region: string; instanceId: string; s3Prefix: string }, bucket: string) {
    const ec2 = this.opts.ec2(input.region);
    let out;
    try {
      // The SDK retries throttles and 5xx (bounded, with backoff and jitter); no ClientToken exists for this call.
      out = await ec2.send(
        new CreateInstanceExportTaskCommand({
          InstanceId: input.instanceId,
          TargetEnvironment: 'vmware',
          Description: `vm2ec2 ${id}`,
          ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: bucket, S3Prefix: input.s3Prefix },
          TagSpecifications: [{ ResourceType: 'export-instance-task', Tags: [{ Key: EXPORT_TAG, Value: id }] }],
        }),
      );
    } catch (err) {
      // A retried call whose first answer was lost may have started the export already: adopt it, never start a second.
      const started = await this.findByTag(input.region, id).catch(() => undefined);
      if (started) out = { ExportTask: started };
      else throw exportRefusal(err, input.instanceId, input.region);
    }
    const task = out.ExportTask;
    if (!task?.ExportTaskId) throw new AppError(502, 'AWS_ERROR', 'EC2 accepted the export but returned no export task id.');
    return { ...task, ExportTaskId: task.ExportTaskId };
  }

  /** Exports created in the last `days` days, newest first, with fresh states. */
  async list(days: number): Promise<ExportRecord[]> {
    await this.refresh();
    return await this.opts.store.since(new Date(this.now().getTime() - days * 86_400_000).toISOString());
  }

  async get(id: string): Promise<ExportRecord | undefined> {
    await this.refresh();
    return await this.opts.store.get(id);
  }

  /** Asks EC2 to cancel an active export and records who asked; an export that already ended is returned unchanged. */
  async cancel(id: string, cancelledBy: string): Promise<ExportRecord | undefined> {
    const rec = await this.opts.store.get(id);
    if (!rec) return undefined;
    if (rec.state !== 'active') return rec;
    if (!rec.exportTaskId) throw new AppError(409, 'EXPORT_IN_PROGRESS', `EC2 has not confirmed export ${id} yet. Try to cancel it again in a few seconds.`);
    try {
      await this.opts.ec2(rec.region).send(new CancelExportTaskCommand({ ExportTaskId: rec.exportTaskId }));
    } catch (err) {
      throw new AppError(409, 'EXPORT_IN_PROGRESS', `EC2 could not cancel export ${rec.exportTaskId}: ${(err as Error).message}. An export that is writing its final image cannot be cancelled.`);
    }
    const before = { state: rec.state };
    rec.state = 'cancelling';
    rec.cancelledBy = cancelledBy;
    rec.cancelledAt = this.now().toISOString();
    rec.updatedAt = rec.cancelledAt;
    await this.save(rec, before);
    await this.refresh();
    return await this.opts.store.get(id);
  }

  /** Brings active records up to date from DescribeExportTasks; a throttled or failing refresh keeps the last known states. */
  async refresh(): Promise<void> {
    const all = await this.opts.store.active();
    const stale = this.now().getTime() - RESERVATION_GRACE_MS;
    for (const r of all) if (!r.exportTaskId && !this.starting.has(r.id) && Date.parse(r.createdAt) < stale) await this.settleReservation(r);
    const active = all.filter((r) => r.exportTaskId);
    const byRegion = new Map<string, ExportRecord[]>();
    for (const r of active) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
    for (const [region, recs] of byRegion) {
      let out;
      try {
        out = await this.opts.ec2(region).send(new DescribeExportTasksCommand({ ExportTaskIds: recs.map((r) => r.exportTaskId) }));
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
        if (THROTTLING.has((err as { name?: string }).name ?? '') || status >= 500) continue;
        throw err;
      }
      for (const rec of recs) {
        const t = out.ExportTasks?.find((e) => e.ExportTaskId === rec.exportTaskId);
        if (!t) continue;
        const state = t.State === 'completed' ? 'completed' : t.State === 'cancelled' ? (rec.state === 'cancelling' ? 'cancelled' : 'failed') : t.State === 'cancelling' ? 'cancelling' : 'active';
        if (state !== rec.state || t.StatusMessage !== rec.statusMessage) {
          const before = { state: rec.state };
          rec.state = state;
          if (state === 'failed') rec.statusMessage = exportFailureText(rec.instanceId, t.StatusMessage);
          // What EC2 says the export is doing now: a message of an earlier state (e.g. "Running") must not outlive it.
          else if (t.StatusMessage) rec.statusMessage = t.StatusMessage;
          else delete rec.statusMessage;
          if (t.ExportToS3Task?.S3Key) rec.s3Key = t.ExportToS3Task.S3Key;
          rec.updatedAt = this.now().toISOString();
          await this.save(rec, before);
        }
      }
    }
  }

  /**
   * A reservation left by a connector that stopped while EC2 was being asked: adopt the export EC2 started for it
   * (found by its tag), or drop it when EC2 started none. Unknown (AWS unreachable): kept for the next refresh.
   */
  private async settleReservation(rec: ExportRecord): Promise<void> {
    const started = await this.findByTag(rec.region, rec.id).then(
      (t) => ({ task: t }),
      () => undefined,
    );
    if (!started) return;
    if (!started.task?.ExportTaskId) {
      await this.opts.store.remove(rec.id);
      return;
    }
    rec.exportTaskId = started.task.ExportTaskId;
    if (started.task.ExportToS3Task?.S3Key) rec.s3Key = started.task.ExportToS3Task.S3Key;
    rec.updatedAt = this.now().toISOString();
    // The adopted reservation becomes an export here.
    await this.save(rec, undefined);
  }

  /** Persists, then tells every observer; an observer's failure never fails the export. */
  private async save(rec: ExportRecord, before: ExportBefore | undefined): Promise<void> {
    await this.opts.store.save(rec);
    for (const o of this.opts.observers ?? []) {
      try {
        o.exportSaved?.(rec, before);
      } catch {
        // Observers record their own failures (observer.ts).
      }
    }
  }

  /** The EC2 export task this service tagged with `id`, if EC2 started one. */
  private async findByTag(region: string, id: string) {
    const out = await this.opts.ec2(region).send(new DescribeExportTasksCommand({ Filters: [{ Name: `tag:${EXPORT_TAG}`, Values: [id] }] }));
    return out.ExportTasks?.find((e) => e.ExportTaskId);
  }

  /** Creates the bucket on first use with the ACL grant CreateInstanceExportTask needs. */
  private async ensureBucket(region: string, bucket: string): Promise<void> {
    const s3 = this.opts.s3(region);
    const exists = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(() => true, () => false);
    if (exists) return;
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectOwnership: 'ObjectWriter' }));
    } catch (err) {
      const again = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(() => true, () => false);
      if (!again) throw new AppError(502, 'AWS_ERROR', `The connector could not create the export bucket ${bucket}: ${(err as Error).message}. Create it, or choose another bucket name.`);
    }
    try {
      // PutBucketAcl replaces the ACL: keep the owner's FULL_CONTROL in it.
      const owner = (await s3.send(new GetBucketAclCommand({ Bucket: bucket }))).Owner?.ID;
      await s3.send(
        new PutBucketAclCommand({
          Bucket: bucket,
          GrantWrite: `id="${VM_EXPORT_GRANTEE}"`,
          GrantReadACP: `id="${VM_EXPORT_GRANTEE}"`,
          ...(owner ? { GrantFullControl: `id="${owner}"` } : {}),
        }),
      );
    } catch (err) {
      // Endpoints without bucket ACLs (S3 emulators) answer NotImplemented: nothing to grant there.
      if ((err as { name?: string }).name !== 'NotImplemented') throw err;
    }
  }
}
