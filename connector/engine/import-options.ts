// Issue 18 in the engine: what ImportImage, RegisterImage and RunInstances are asked for (licence type, encryption,
// boot mode, tags) and what AWS reports it applied, read back from AWS — never echoed from the request.
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeVolumesCommand,
  type ImportImageCommandInput,
  type ImportImageTask,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { AppliedImportOptions, BootMode } from '../contract/index.ts';
import type { AwsSteps } from './aws-steps.ts';
import type { MigrationRecord } from './types.ts';

/** The migration's own tags (environment, task, source VM) plus the user's; the user's Name replaces ours. */
export function resourceTags(own: Tag[], t: Pick<MigrationRecord, 'importOptions'>): { Key: string; Value: string }[] {
  const user = (t.importOptions?.tags ?? []).map((x) => ({ Key: x.key, Value: x.value }));
  const byUser = new Set(user.map((x) => x.Key));
  return [...own.filter((x): x is { Key: string; Value: string } => !!x.Key && x.Value !== undefined && !byUser.has(x.Key)), ...user];
}

/** ImportImage's licence, encryption and boot mode; nothing when the task predates import options. */
export function importImageOptions(t: MigrationRecord): Partial<ImportImageCommandInput> {
  const o = t.importOptions;
  if (!o) return {};
  return {
    LicenseType: o.licenseType,
    ...(o.encrypted ? { Encrypted: true, ...(o.kmsKeyId ? { KmsKeyId: o.kmsKeyId } : {}) } : {}),
    ...(o.bootMode ? { BootMode: o.bootMode } : {}),
  };
}

const bootModeOf = (v: string | undefined): BootMode | undefined => (v === 'uefi' || v === 'legacy-bios' ? v : undefined);

/**
 * After ImportImage completed: ImportImage's TagSpecifications tag only the import task, so the AMI and its
 * snapshots get the tags here (CreateTags); then what the import task reports is recorded as applied.
 */
export async function afterImport(
  steps: AwsSteps,
  t: MigrationRecord,
  task: ImportImageTask,
  ownTags: Tag[],
  opts: { record: boolean; signal?: AbortSignal },
): Promise<void> {
  const { signal } = opts;
  const ec2 = steps.ec2(t);
  const snapshots = (task.SnapshotDetails ?? []).map((s) => s.SnapshotId).filter((s): s is string => !!s);
  const resources = [...(task.ImageId ? [task.ImageId] : []), ...snapshots];
  if (resources.length > 0) {
    const tags = resourceTags(ownTags, t);
    await steps.call(t, 'EC2', 'CreateTags', signal, () => ec2.send(new CreateTagsCommand({ Resources: resources, Tags: tags })));
  }
  if (!opts.record) return;
  t.applied = {
    ...t.applied,
    ...(task.LicenseType ? { licenseType: task.LicenseType } : {}),
    ...(task.UsageOperation ? { usageOperation: task.UsageOperation } : {}),
    ...(task.Encrypted !== undefined ? { encrypted: task.Encrypted } : {}),
    ...(task.KmsKeyId ? { kmsKeyId: task.KmsKeyId } : {}),
    ...(bootModeOf(task.BootMode) ? { bootMode: bootModeOf(task.BootMode) } : {}),
  };
}

/**
 * After the launch: the instance's boot mode and tags, its AMI's boot mode and usage operation, and its volumes'
 * encryption and key (DescribeInstances, DescribeImages, DescribeVolumes).
 */
export async function readAppliedAfterLaunch(steps: AwsSteps, t: MigrationRecord, inst: Instance, signal?: AbortSignal): Promise<AppliedImportOptions> {
  const ec2 = steps.ec2(t);
  const applied: AppliedImportOptions = { ...t.applied };
  const image = inst.ImageId
    ? (await steps.call(t, 'EC2', 'DescribeImages', signal, () => ec2.send(new DescribeImagesCommand({ ImageIds: [inst.ImageId!] })))).Images?.[0]
    : undefined;
  const bootMode = bootModeOf(inst.CurrentInstanceBootMode) ?? bootModeOf(inst.BootMode) ?? bootModeOf(image?.BootMode);
  if (bootMode) applied.bootMode = bootMode;
  const usage = inst.UsageOperation ?? image?.UsageOperation;
  if (usage) applied.usageOperation = usage;
  if (inst.InstanceId) {
    const volumes =
      (
        await steps.call(t, 'EC2', 'DescribeVolumes', signal, () =>
          ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.InstanceId!] }] })),
        )
      ).Volumes ?? [];
    if (volumes.length > 0) {
      applied.encrypted = volumes.every((v) => v.Encrypted === true);
      const keys = [...new Set(volumes.map((v) => v.KmsKeyId).filter((k): k is string => !!k))];
      if (keys.length === 1) applied.kmsKeyId = keys[0]!;
      else delete applied.kmsKeyId;
    }
  }
  applied.tags = (inst.Tags ?? []).filter((x) => x.Key && x.Value !== undefined).map((x) => ({ key: x.Key!, value: x.Value! }));
  return applied;
}
