// CreateInstanceExportTask / DescribeExportTasks / CancelExportTask and the export state machine.
import { Ec2Error } from './errors.ts';
import { findInstance } from './instances.ts';
import { USAGE_OPERATIONS } from './licensing.ts';
import { exportArtifact } from './ova.ts';
import { applyFilters, readFilters, readTagSpecifications } from './query.ts';
import { newId, tagsXml, type Core, type ExportTask, type Handler, type Instance, type RegionState } from './state.ts';
import type { XmlObject } from './xml.ts';

/** Stages an export spends `active` before the object is written. */
const EXPORT_STAGES = 3;
const RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Canonical ID VM Import/Export uses for "all other Regions" (reference §7). */
export const VM_EXPORT_CANONICAL_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';
export const DEFAULT_EXPORT_FAILURE = 'ClientError: Export of the instance failed: the root volume could not be read.';
/** VM Export's volume size limit ("Considerations for instance export"). */
const MAX_EXPORT_VOLUME_GIB = 1024;

/**
 * Why VM Export refuses this instance at call time, from the user guide's "Considerations for instance export":
 * encrypted EBS volumes, more than one virtual disk, a volume over 1 TiB, AWS-provided software (licence-included
 * Windows or SQL Server). AWS documents the limits, not the code: `NotExportable` is what it answers in public reports.
 */
function notExportable(inst: Instance): string | undefined {
  const encrypted = inst.volumes.filter((v) => v.encrypted).map((v) => v.volumeId);
  if (encrypted.length > 0) {
    return `Instance ${inst.id} has encrypted EBS volumes (${encrypted.join(', ')}). VM Export cannot export an instance with encrypted EBS volumes or snapshots.`;
  }
  if (inst.volumes.length > 1) {
    return `Instance ${inst.id} has ${inst.volumes.length} EBS volumes (${inst.volumes.map((v) => v.deviceName).join(', ')}). VM Export can export an instance with one virtual disk only.`;
  }
  const big = inst.volumes.find((v) => v.sizeGiB > MAX_EXPORT_VOLUME_GIB);
  if (big) return `Volume ${big.volumeId} of instance ${inst.id} is ${big.sizeGiB} GiB. VM Export supports volumes up to 1 TiB.`;
  const billing = USAGE_OPERATIONS[inst.usageOperation];
  if (billing?.licenseType === 'AWS') {
    return `Instance ${inst.id} contains software provided by AWS (${billing.platformDetails}, usage operation ${inst.usageOperation}). VM Export cannot export it.`;
  }
  return undefined;
}

function exportTaskXml(t: ExportTask): XmlObject {
  return {
    exportTaskId: t.id,
    description: t.description,
    state: t.state,
    // The API reference's DescribeExportTasks sample shows `Running` for an active task; ExportTask has no progress field.
    statusMessage: t.statusMessage ?? (t.state === 'active' ? 'Running' : undefined),
    instanceExport: { instanceId: t.instanceId, targetEnvironment: t.targetEnvironment },
    exportToS3: { containerFormat: t.containerFormat || undefined, diskImageFormat: t.diskImageFormat, s3Bucket: t.bucket, s3Key: t.key },
    tagSet: tagsXml(t.tags),
  };
}

function findExport(region: RegionState, core: Core, id: string): ExportTask {
  const t = region.exports.get(id);
  if (!t || (t.finishedAt !== undefined && t.finishedAt < core.now() - RETENTION_MS)) {
    throw new Ec2Error('InvalidExportTaskID.NotFound', `The export task ID '${id}' does not exist`);
  }
  return t;
}

export const exportHandlers: Record<string, Handler> = {
  async CreateInstanceExportTask({ core, region }, p) {
    const inst = findInstance(region, core, p.required('InstanceId'));
    const target = p.required('TargetEnvironment');
    if (!['citrix', 'vmware', 'microsoft'].includes(target)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${target}) for parameter TargetEnvironment is invalid. Valid values: citrix | vmware | microsoft.`);
    }
    const s3 = p.sub('ExportToS3');
    const container = s3.str('ContainerFormat')?.toLowerCase();
    if (container !== undefined && container !== 'ova') {
      throw new Ec2Error('InvalidParameterValue', `Value (${container}) for parameter ExportToS3.ContainerFormat is invalid. The only container format is ova.`);
    }
    const diskFormat = s3.required('DiskImageFormat').toLowerCase();
    if (!['vmdk', 'raw', 'vhd'].includes(diskFormat)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${diskFormat}) for parameter ExportToS3.DiskImageFormat is invalid. Valid values: VMDK | RAW | VHD.`);
    }
    const bucket = s3.required('S3Bucket');
    const prefix = s3.str('S3Prefix') ?? '';
    if (inst.state !== 'running' && inst.state !== 'stopped') {
      throw new Ec2Error('IncorrectInstanceState', `Instance ${inst.id} is ${inst.state}; only running or stopped instances can be exported.`);
    }
    const refusal = notExportable(inst);
    if (refusal) throw new Ec2Error('NotExportable', refusal);
    const busy = [...region.exports.values()].find((t) => t.instanceId === inst.id && (t.state === 'active' || t.state === 'cancelling'));
    if (busy) throw new Ec2Error('IncorrectState', `Instance ${inst.id} is already being exported by ${busy.id}. Wait for it to finish or cancel it.`);
    const active = [...region.exports.values()].filter((t) => t.state === 'active').length;
    if (active >= core.maxActiveExports) {
      throw new Ec2Error(
        'ResourceLimitExceeded',
        `You have reached the limit of ${core.maxActiveExports} active export tasks in ${region.name}. Wait for a task to finish or cancel one, then retry.`,
      );
    }
    let exists: boolean;
    try {
      exists = await core.s3.bucketExists(bucket);
    } catch (err) {
      throw new Ec2Error('InternalError', `Could not check the S3 bucket ${bucket}: ${(err as Error).message}`, 500);
    }
    if (!exists) {
      throw new Ec2Error('InvalidParameter', `The S3 bucket '${bucket}' does not exist. Create it in ${region.name} and grant VM Import/Export WRITE and READ_ACP on it.`);
    }
    if (core.requireExportBucketAcl) {
      const grants = (await core.s3.bucketGrants(bucket)) ?? [];
      const has = (perm: string) => grants.includes(`${VM_EXPORT_CANONICAL_ID}:${perm}`) || grants.includes(`${VM_EXPORT_CANONICAL_ID}:FULL_CONTROL`);
      if (!has('WRITE') || !has('READ_ACP')) {
        throw new Ec2Error(
          'AuthFailure',
          `VM Import/Export cannot write to bucket '${bucket}'. Grant WRITE and READ_ACP to canonical ID ${VM_EXPORT_CANONICAL_ID} with PutBucketAcl.`,
        );
      }
    }
    const now = core.now();
    const id = newId('export-i');
    const task: ExportTask = {
      id,
      instanceId: inst.id,
      targetEnvironment: target,
      description: p.str('Description'),
      state: 'active',
      bucket,
      prefix,
      key: `${prefix}${id}.${container ?? diskFormat}`,
      containerFormat: container ?? '',
      diskImageFormat: diskFormat,
      tags: readTagSpecifications(p, 'export-instance-task'),
      stage: 0,
      createdAt: now,
      nextAt: now + core.exportStageMs,
    };
    region.exports.set(id, task);
    return { exportTask: exportTaskXml(task) };
  },

  DescribeExportTasks({ core, region }, p) {
    const ids = p.list('ExportTaskId');
    const visible = ids.length > 0
      ? ids.map((id) => findExport(region, core, id))
      : [...region.exports.values()].filter((t) => t.finishedAt === undefined || t.finishedAt >= core.now() - RETENTION_MS);
    const tasks = applyFilters(
      visible,
      readFilters(p),
      { 'export-task-id': (t) => t.id, state: (t) => t.state, 'instance-id': (t) => t.instanceId },
      (t) => t.tags,
    );
    return { exportTaskSet: tasks.map(exportTaskXml) };
  },

  CancelExportTask({ core, region }, p) {
    const task = findExport(region, core, p.required('ExportTaskId'));
    if (task.state !== 'active') {
      throw new Ec2Error('IncorrectState', `Export task ${task.id} is ${task.state} and can no longer be cancelled.`);
    }
    task.state = 'cancelling';
    task.nextAt = core.now() + core.exportStageMs;
    return {};
  },
};

function finish(task: ExportTask, at: number, state: 'completed' | 'cancelled', message?: string): void {
  task.state = state;
  task.statusMessage = message;
  task.finishedAt = at;
  task.nextAt = undefined;
}

async function step(core: Core, region: RegionState, task: ExportTask, at: number): Promise<void> {
  if (task.state === 'cancelling') return finish(task, at, 'cancelled');
  if (task.state !== 'active') {
    task.nextAt = undefined;
    return;
  }
  if (task.stage === 0) {
    const rule = core.exportFailures.find((r) =>
      typeof r.match === 'function' ? r.match(task) : r.match.test(task.instanceId) || r.match.test(task.key),
    );
    if (rule) return finish(task, at, 'cancelled', rule.message ?? DEFAULT_EXPORT_FAILURE);
  }
  if (task.stage < EXPORT_STAGES - 1) {
    task.stage += 1;
    task.nextAt = at + core.exportStageMs;
    return;
  }
  const inst = region.instances.get(task.instanceId);
  if (!inst) return finish(task, at, 'cancelled', `ClientError: Instance ${task.instanceId} no longer exists.`);
  const artifact = exportArtifact(core.ebs, inst, task.id, task.diskImageFormat, task.containerFormat === 'ova', at);
  if ('error' in artifact) return finish(task, at, 'cancelled', artifact.error);
  // Writing a large disk takes a while: in the background, so the other tasks' transitions go on meanwhile.
  task.nextAt = undefined;
  task.writing = true;
  core.background(
    core.s3.putStream(task.bucket, task.key, artifact.chunks, artifact.contentType).then(
      async () => {
        task.writing = false;
        if (task.state === 'active') finish(task, core.now(), 'completed');
        // CancelExportTask "removes all artifacts of the export, including any partially-created Amazon S3 objects".
        else await core.s3.deleteObject(task.bucket, task.key).catch(() => undefined);
      },
      (err: unknown) => {
        task.writing = false;
        if (task.state === 'active') finish(task, core.now(), 'cancelled', `ClientError: Could not write s3://${task.bucket}/${task.key}: ${(err as Error).message}`);
      },
    ),
  );
}

export async function advanceExports(core: Core, region: RegionState): Promise<void> {
  const now = core.now();
  for (const task of region.exports.values()) {
    while (task.nextAt !== undefined && task.nextAt <= now) await step(core, region, task, task.nextAt);
  }
}
