// ImportImage, DescribeImportImageTasks, CancelImportTask and the import task state machine.
import { Ec2Error } from './errors.ts';
import { applyFilters, paginate, readFilters, type Params } from './query.ts';
import { IMPORT_STAGES, newId, tagsXml, type Core, type Handler, type ImportDisk, type ImportTask, type RegionState } from './state.ts';
import { assertServiceRoleUsable } from './iam.ts';
import { findSnapshot } from './snapshots.ts';
import { readImportOptions, resolveImportKey } from './import-options.ts';
import { billingFor, detectGuestOs } from './licensing.ts';
import { tagSpecifications } from './tags.ts';
import type { XmlObject } from './xml.ts';
import { convertDisk, DiskImageError, releaseConverted, volumeGiB } from './disk-content.ts';

const FORMATS = ['OVA', 'VHD', 'VHDX', 'VMDK', 'RAW'];
const RETENTION_MS = 7 * 24 * 3600 * 1000;
const GIB = 1024 ** 3;
export const DISK_VALIDATION_FAILED =
  'ClientError: Disk validation failed [We do not have access to the given resource. Reason 403 Forbidden]';
export const DEFAULT_IMPORT_FAILURE = 'ClientError: Unknown OS / Missing OS files.';

function readDisk(d: Params, n: number): ImportDisk {
  const bucket = d.str('UserBucket.S3Bucket');
  const key = d.str('UserBucket.S3Key');
  const url = d.str('Url');
  const snapshotId = d.str('SnapshotId');
  const disk: ImportDisk = { format: '', validated: false, description: d.str('Description'), deviceName: d.str('DeviceName') };
  if (snapshotId !== undefined) {
    if (bucket !== undefined || key !== undefined || url !== undefined) {
      throw new Ec2Error('InvalidParameterCombination', `DiskContainer.${n} takes a SnapshotId or a disk image (UserBucket or Url), not both.`);
    }
    disk.sourceSnapshotId = snapshotId;
    // The snapshot is already a raw volume: Format is optional.
    const given = d.str('Format')?.toUpperCase();
    if (given !== undefined && !FORMATS.includes(given)) throw new Ec2Error('InvalidParameterValue', `DiskContainer.${n}.Format must be one of ${FORMATS.join(' | ')}.`);
    disk.format = given ?? '';
    return disk;
  }
  if (bucket !== undefined || key !== undefined) {
    if (bucket === undefined || key === undefined) {
      throw new Ec2Error('InvalidParameter', `DiskContainer.${n}.UserBucket needs both S3Bucket and S3Key.`);
    }
    Object.assign(disk, { bucket, key });
  } else if (url !== undefined) {
    const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (s3) Object.assign(disk, { url, bucket: s3[1], key: s3[2] });
    else if (/^https?:\/\//.test(url)) disk.url = url;
    else throw new Ec2Error('InvalidParameterValue', `DiskContainer.${n}.Url must be an s3:// or https:// URL, got '${url}'.`);
  } else {
    throw new Ec2Error('InvalidParameter', `DiskContainer.${n} needs a UserBucket or a Url.`);
  }
  const given = d.str('Format')?.toUpperCase();
  const inferred = /\.(ova|vhdx?|vmdk|raw|img)$/i.exec(disk.key ?? disk.url ?? '')?.[1]?.toUpperCase().replace('IMG', 'RAW');
  const format = given ?? inferred;
  if (format === undefined || !FORMATS.includes(format)) {
    throw new Ec2Error('InvalidParameterValue', `DiskContainer.${n}.Format must be one of ${FORMATS.join(' | ')}.`);
  }
  disk.format = format;
  return disk;
}

function oneOf(p: Params, key: string, allowed: string[]): string | undefined {
  const value = p.str(key);
  if (value !== undefined && !allowed.includes(value)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter ${key} is invalid. Valid values: ${allowed.join(' | ')}.`);
  }
  return value;
}

export function importTaskXml(t: ImportTask): XmlObject {
  const active = t.status === 'active';
  return {
    importTaskId: t.id,
    architecture: t.architecture,
    description: t.description,
    encrypted: t.encrypted,
    kmsKeyId: t.kmsKeyArn ?? t.kmsKeyId,
    licenseType: t.licenseType,
    usageOperation: t.usageOperation,
    platform: t.platform,
    bootMode: t.bootMode,
    imageId: t.imageId,
    status: t.status,
    statusMessage: t.statusMessage,
    progress: active ? IMPORT_STAGES[t.stage]?.progress : undefined,
    snapshotDetailSet: t.disks.map((d) => ({
      description: d.description,
      deviceName: d.deviceName,
      diskImageSize: d.validated ? d.objectSize : 0,
      format: d.format === '' ? undefined : d.format,
      url: d.url,
      userBucket: d.bucket !== undefined && d.url === undefined ? { s3Bucket: d.bucket, s3Key: d.key } : undefined,
      snapshotId: d.snapshotId,
      status: t.status === 'completed' ? 'completed' : t.status,
    })),
    tagSet: tagsXml(t.tags),
  };
}

const isActive = (t: ImportTask) => t.status === 'active';

function findTask(region: RegionState, core: Core, id: string): ImportTask {
  const task = region.imports.get(id);
  if (!task || (task.finishedAt !== undefined && task.finishedAt < core.now() - RETENTION_MS)) {
    if (!/^import-ami-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidConversionTaskId.Malformed', `The import task ID '${id}' is malformed.`);
    throw new Ec2Error('InvalidConversionTaskId', `The import task ID '${id}' does not exist.`);
  }
  return task;
}

export const importHandlers: Record<string, Handler> = {
  async ImportImage({ core, region }, p) {
    const disks = p.structs('DiskContainer').map((d, i) => readDisk(d, i + 1));
    if (disks.length === 0) throw new Ec2Error('MissingParameter', 'The request must contain the parameter DiskContainer.');
    const platform = oneOf(p, 'Platform', ['Windows', 'Linux']);
    const architecture = oneOf(p, 'Architecture', ['i386', 'x86_64']) ?? 'x86_64';
    const options = readImportOptions(p, disks.some((d) => d.sourceSnapshotId !== undefined));
    const tags = tagSpecifications(p, ['import-image-task']).get('import-image-task') ?? [];
    const roleName = p.str('RoleName') ?? 'vmimport';
    const clientToken = p.str('ClientToken');
    const fingerprint = JSON.stringify(p.entries().filter(([k]) => !['ClientToken', 'Action', 'Version'].includes(k)));

    if (clientToken !== undefined) {
      const existing = region.imports.get(region.importTokens.get(clientToken) ?? '');
      if (existing) {
        if (existing.fingerprint !== fingerprint) {
          throw new Ec2Error('IdempotentParameterMismatch', `ClientToken '${clientToken}' was already used with different parameters.`);
        }
        return importTaskXml(existing);
      }
    }
    for (const d of disks) {
      if (d.sourceSnapshotId === undefined) continue;
      const snap = findSnapshot(core, region, d.sourceSnapshotId);
      if (snap.status !== 'completed') throw new Ec2Error('IncorrectState', `Snapshot '${snap.id}' is in invalid state - ${snap.status}; import a completed snapshot.`);
      d.objectSize = snap.volumeSizeGiB * GIB;
    }
    if (core.enforceServiceRole) assertServiceRoleUsable(core.iam, roleName);
    const active = [...region.imports.values()].filter(isActive).length;
    if (active >= core.maxActiveImports) {
      core.importLoad.limitRefusals += 1;
      throw new Ec2Error(
        'ResourceLimitExceeded',
        `You have reached the limit of ${core.maxActiveImports} active import tasks in ${region.name}. Wait for a task to finish or cancel one, then retry.`,
      );
    }

    // VM Import reads the objects with the service role; a missing object surfaces as 403 on validation.
    const heads = await Promise.all(disks.map((d) => (d.bucket !== undefined && d.key !== undefined ? core.s3.headObject(d.bucket, d.key) : undefined)));
    let validationError: string | undefined;
    heads.forEach((h, i) => {
      const disk = disks[i];
      if (!h || !disk) return;
      if (h.ok) disk.objectSize = h.size;
      else validationError = DISK_VALIDATION_FAILED;
    });

    const now = core.now();
    const task: ImportTask = {
      id: newId('import-ami'),
      status: 'active',
      stage: 0,
      statusMessage: IMPORT_STAGES[0]?.message,
      description: p.str('Description'),
      platform,
      architecture,
      licenseType: options.licenseType,
      usageOperation: options.usageOperation,
      bootMode: options.bootMode,
      roleName,
      encrypted: options.encrypted,
      kmsKeyId: options.kmsKeyId,
      clientToken,
      fingerprint,
      disks,
      tags,
      validationError,
      createdAt: now,
      nextAt: now + core.stageMs,
    };
    region.imports.set(task.id, task);
    core.importLoad.peakActive = Math.max(core.importLoad.peakActive, [...region.imports.values()].filter(isActive).length);
    if (clientToken !== undefined) region.importTokens.set(clientToken, task.id);
    if (validationError === undefined) startConversions(core, task);
    return importTaskXml(task);
  },

  DescribeImportImageTasks({ core, region }, p) {
    const ids = p.list('ImportTaskId');
    const visible = ids.length > 0
      ? ids.map((id) => findTask(region, core, id))
      : [...region.imports.values()].filter((t) => t.finishedAt === undefined || t.finishedAt >= core.now() - RETENTION_MS);
    const filtered = applyFilters(visible, readFilters(p), { 'task-state': (t) => t.status }, (t) => t.tags);
    const { page, nextToken } = paginate(filtered, p.int('MaxResults'), p.str('NextToken'));
    return { importImageTaskSet: page.map(importTaskXml), nextToken };
  },

  CancelImportTask({ core, region }, p) {
    const task = findTask(region, core, p.required('ImportTaskId'));
    if (task.status !== 'active') {
      throw new Ec2Error('IncorrectState', `The import task ${task.id} is ${task.status} and can no longer be cancelled.`);
    }
    task.status = 'deleting';
    task.statusMessage = p.str('CancelReason') ?? 'Cancelled by user';
    task.nextAt = core.now() + core.stageMs;
    return { importTaskId: task.id, previousState: 'active', state: 'deleting' };
  },
};

function ruleMatches(rule: Pick<Core['importFailures'][number], 'match'>, task: ImportTask): boolean {
  if (typeof rule.match === 'function') return rule.match(task);
  const pattern = rule.match;
  return task.disks.some((d) => [d.key, d.url, d.sourceSnapshotId].some((s) => s !== undefined && pattern.test(s)));
}

function fail(core: Core, task: ImportTask, at: number, message: string): void {
  for (const d of task.disks) releaseConverted(core.ebs, d.converted);
  task.status = 'deleted';
  task.statusMessage = message;
  task.finishedAt = at;
  task.nextAt = undefined;
}

async function complete(core: Core, region: RegionState, task: ImportTask, at: number): Promise<void> {
  await Promise.all(task.disks.map((d) => d.conversion));
  const unreadable = conversionError(task);
  if (unreadable !== undefined) return fail(core, task, at, unreadable);
  // A snapshot import reads its source snapshot when it converts; one deleted meanwhile fails the task.
  const sources = task.disks.map((d) => (d.sourceSnapshotId === undefined ? undefined : core.ebs.get(d.sourceSnapshotId)));
  const missing = task.disks.find((d, i) => d.sourceSnapshotId !== undefined && sources[i] === undefined);
  if (missing) return fail(core, task, at, `ClientError: Disk validation failed [Snapshot ${missing.sourceSnapshotId} does not exist]`);
  const imageId = newId('ami');
  const description = `Created by AWS-VMImport service for ${task.id}`;
  const encryption = task.encrypted ? { encrypted: true, kmsKeyArn: task.kmsKeyArn } : {};
  const snapshots = task.disks.map((d, i) => {
    const source = sources[i];
    const converted = d.converted;
    // A converted disk's volume is its capacity in whole GiB; an image the lab could not read keeps the object's size.
    const sizeGiB = converted ? volumeGiB(converted.capacityBytes) : Math.max(1, Math.ceil((d.objectSize ?? GIB) / GIB));
    const init = {
      region: region.name,
      status: 'completed' as const,
      volumeSizeGiB: sizeGiB,
      description,
      tags: [],
      encrypted: task.encrypted,
      kmsKeyArn: task.encrypted ? task.kmsKeyArn : undefined,
      timeoutMinutes: 60,
      startTime: at,
      completedAt: at,
    };
    d.converted = undefined;
    // The AMI gets its own snapshot: the source's content (the block map is shared, not copied), or an S3 disk's.
    const snap = source
      ? core.ebs.copy(source, { region: region.name, description, at, ...encryption })
      : converted
        ? core.ebs.createFromBlocks(init, converted.blocks)
        : core.ebs.create(init);
    d.snapshotId = snap.id;
    d.deviceName ??= i === 0 ? '/dev/sda1' : `/dev/sd${String.fromCharCode(98 + i - 1)}`;
    return { snapshotId: snap.id, sizeGiB: source ? source.volumeSizeGiB : sizeGiB, encrypted: snap.encrypted, kmsKeyArn: snap.kmsKeyArn };
  });
  region.images.set(imageId, {
    id: imageId,
    name: task.id,
    description: task.description ?? `AWS-VMImport service: ${task.platform ?? 'Linux'} (${task.id})`,
    state: 'available',
    platform: task.platform === 'Windows' ? 'windows' : undefined,
    architecture: task.architecture,
    bootMode: task.bootMode,
    platformDetails: task.platformDetails,
    usageOperation: task.usageOperation,
    creationDate: at,
    snapshots,
    // ImportImage's TagSpecifications tag the import task only; the AMI and its snapshots start untagged.
    tags: [],
    importTaskId: task.id,
  });
  task.imageId = imageId;
  task.status = 'completed';
  task.statusMessage = undefined;
  task.finishedAt = at;
  task.nextAt = undefined;
}

/**
 * Reads each S3 disk's image once, in the background from the start of the task, so that reading a large disk does
 * not stretch the stages' timing (or hold the other tasks' transitions); the task completes only once it is read.
 */
function startConversions(core: Core, task: ImportTask): void {
  for (const d of task.disks) {
    if (d.sourceSnapshotId !== undefined || d.bucket === undefined) continue;
    d.conversion = convertDisk(core, d).then(
      (converted) => {
        if (task.status === 'active') d.converted = converted;
        else releaseConverted(core.ebs, converted); // failed or cancelled meanwhile
      },
      (err: unknown) => {
        d.conversionError = err instanceof DiskImageError ? err.message : `ClientError: Disk validation failed [${(err as Error).message}]`;
      },
    );
  }
}

const conversionError = (task: ImportTask): string | undefined => task.disks.find((d) => d.conversionError !== undefined)?.conversionError;

/** One step of a task whose `nextAt` is due; `at` is the scheduled time of the step. */
async function step(core: Core, region: RegionState, task: ImportTask, at: number): Promise<void> {
  if (task.status === 'deleting') {
    for (const d of task.disks) releaseConverted(core.ebs, d.converted);
    task.status = 'deleted';
    task.finishedAt = at;
    task.nextAt = undefined;
    return;
  }
  if (task.status !== 'active') {
    task.nextAt = undefined;
    return;
  }
  const stage = IMPORT_STAGES[task.stage]?.message;
  if (stage === 'pending') {
    if (task.validationError !== undefined) return fail(core, task, at, task.validationError);
    task.disks.forEach((d) => (d.validated = true));
    // KmsKeyId is parsed asynchronously: a key EBS cannot use fails the task, not the call.
    if (task.encrypted) {
      const key = resolveImportKey(core, region, task);
      if ('error' in key) return fail(core, task, at, key.error);
      task.kmsKeyArn = key.arn;
    }
  }
  if (stage === 'converting') {
    // A damaged image fails the task here when reading it has already found out (else when it completes).
    const unreadable = conversionError(task);
    if (unreadable !== undefined) return fail(core, task, at, unreadable);
    // The OS is known once the disk is converted; a licence that does not fit it fails the task.
    const os = detectGuestOs(core.guestOsRules, task);
    if (os !== undefined) {
      const billing = billingFor(os, task.licenseType, task.usageOperation);
      if ('error' in billing) return fail(core, task, at, billing.error);
      Object.assign(task, billing);
      task.platform = os === 'linux' ? 'Linux' : 'Windows';
    }
  }
  const rule = core.importFailures.find((r) => r.stage === stage && ruleMatches(r, task));
  if (rule) return fail(core, task, at, rule.message ?? DEFAULT_IMPORT_FAILURE);
  if (core.importHolds.some((r) => r.stage === stage && ruleMatches(r, task))) {
    task.nextAt = at + core.stageMs;
    return;
  }
  // Without Platform real tasks can sit in `updating` forever (hashicorp/packer-plugin-amazon#433).
  if (stage === 'updating' && task.platform === undefined) {
    task.nextAt = undefined;
    return;
  }
  if (task.stage < IMPORT_STAGES.length - 1) {
    task.stage += 1;
    task.statusMessage = IMPORT_STAGES[task.stage]?.message;
    task.nextAt = at + core.stageMs;
    return;
  }
  await complete(core, region, task, at);
}

export async function advanceImports(core: Core, region: RegionState): Promise<void> {
  const now = core.now();
  for (const task of region.imports.values()) {
    while (task.nextAt !== undefined && task.nextAt <= now) await step(core, region, task, task.nextAt);
  }
}
