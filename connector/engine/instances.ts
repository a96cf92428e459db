// Imported instances (seed "Backing Up Your Instance"): the environment's instances found by the tag the
// engine puts on them; start, stop, and backup = CreateImage plus a launch template naming the AMI.
import {
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type EC2Client,
  type Image,
  type Instance,
  type Volume,
} from '@aws-sdk/client-ec2';
import type { AppliedImportOptions, ImportedInstance } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { ENVIRONMENT_TAG, SOURCE_VM_NAME_TAG, SOURCE_VM_TAG, TASK_TAG } from './engine.ts';

const tag = (i: Instance, key: string) => i.Tags?.find((t) => t.Key === key)?.Value;

function toView(i: Instance): ImportedInstance {
  const name = tag(i, 'Name');
  const vm = tag(i, SOURCE_VM_TAG);
  const vmName = tag(i, SOURCE_VM_NAME_TAG);
  const task = tag(i, TASK_TAG);
  return {
    instanceId: i.InstanceId ?? '',
    ...(name ? { name } : {}),
    state: i.State?.Name ?? 'unknown',
    ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
    ...(i.PrivateIpAddress ? { privateIpAddress: i.PrivateIpAddress } : {}),
    ...(i.SubnetId ? { subnetId: i.SubnetId } : {}),
    ...(i.ImageId ? { imageId: i.ImageId } : {}),
    ...(vm ? { sourceVmId: vm } : {}),
    ...(vmName ? { sourceVmName: vmName } : {}),
    ...(task ? { migrationId: task } : {}),
  };
}

/**
 * The licence model a usage operation bills (EC2 user guide, "AMI billing information fields"): RunInstances:0800 is
 * Windows BYOL, other Windows codes licence included; Linux/UNIX codes are the guest's own licence.
 */
export function licenseOfUsage(usage: string | undefined): 'AWS' | 'BYOL' | undefined {
  if (!usage) return undefined;
  if (usage === 'RunInstances:0800' || usage === 'RunInstances' || usage === 'RunInstances:0004' || usage === 'RunInstances:0100' || usage === 'RunInstances:0200') return 'BYOL';
  if (/^RunInstances:0(002|006|102|202)$/.test(usage)) return 'AWS';
  return undefined;
}

export class InstanceService {
  constructor(private readonly ec2: (region: string) => EC2Client) {}

  async list(environmentId: string, region: string): Promise<ImportedInstance[]> {
    const out: ImportedInstance[] = [];
    const instances: Instance[] = [];
    let token: string | undefined;
    do {
      const page = await this.ec2(region).send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${ENVIRONMENT_TAG}`, Values: [environmentId] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          ],
          NextToken: token,
        }),
      );
      for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) instances.push(i);
      token = page.NextToken;
    } while (token);
    const applied = await this.appliedOptions(region, instances);
    for (const i of instances) {
      const a = i.InstanceId ? applied.get(i.InstanceId) : undefined;
      out.push({ ...toView(i), ...(a ? { applied: a } : {}) });
    }
    return out;
  }

  /**
   * Licence, boot mode and encryption key as AWS reports them (issue 18): the instance's usage operation and boot
   * mode, its AMI's, and its volumes' encryption. Best effort: an instance list is not refused for lack of them.
   */
  private async appliedOptions(region: string, instances: Instance[]): Promise<Map<string, AppliedImportOptions>> {
    const out = new Map<string, AppliedImportOptions>();
    const ids = instances.map((i) => i.InstanceId).filter((x): x is string => !!x);
    if (ids.length === 0) return out;
    const imageIds = [...new Set(instances.map((i) => i.ImageId).filter((x): x is string => !!x))];
    let volumes: Volume[] = [];
    let images: Image[] = [];
    try {
      const ec2 = this.ec2(region);
      [volumes, images] = await Promise.all([
        (async () => {
          const all: Volume[] = [];
          for (let i = 0; i < ids.length; i += 100) {
            let token: string | undefined;
            do {
              const page = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: ids.slice(i, i + 100) }], NextToken: token }));
              all.push(...(page.Volumes ?? []));
              token = page.NextToken;
            } while (token);
          }
          return all;
        })(),
        imageIds.length ? ec2.send(new DescribeImagesCommand({ ImageIds: imageIds })).then((r) => r.Images ?? []).catch(() => []) : Promise.resolve([]),
      ]);
    } catch {
      return out;
    }
    for (const i of instances) {
      if (!i.InstanceId) continue;
      const image = images.find((m) => m.ImageId === i.ImageId);
      const mine = volumes.filter((v) => v.Attachments?.some((a) => a.InstanceId === i.InstanceId));
      const keys = [...new Set(mine.map((v) => v.KmsKeyId).filter((k): k is string => !!k))];
      const usage = i.UsageOperation ?? image?.UsageOperation;
      const boot = i.CurrentInstanceBootMode ?? i.BootMode ?? image?.BootMode;
      const licenseType = licenseOfUsage(usage);
      out.set(i.InstanceId, {
        ...(licenseType ? { licenseType } : {}),
        ...(usage ? { usageOperation: usage } : {}),
        ...(boot === 'uefi' || boot === 'legacy-bios' ? { bootMode: boot } : {}),
        ...(mine.length ? { encrypted: mine.every((v) => v.Encrypted === true) } : {}),
        ...(keys.length === 1 ? { kmsKeyId: keys[0]! } : {}),
      });
    }
    return out;
  }

  /** The instance, if it is one of this environment's imported instances. */
  async find(environmentId: string, region: string, instanceId: string): Promise<Instance> {
    let inst: Instance | undefined;
    try {
      const out = await this.ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      inst = out.Reservations?.flatMap((r) => r.Instances ?? [])[0];
    } catch (err) {
      if ((err as { name?: string }).name !== 'InvalidInstanceID.NotFound') throw err;
    }
    if (!inst || tag(inst, ENVIRONMENT_TAG) !== environmentId) {
      throw new AppError(404, 'INSTANCE_NOT_FOUND', `There is no imported instance ${instanceId} in this environment (${region}).`);
    }
    return inst;
  }

  async start(environmentId: string, region: string, instanceId: string): Promise<ImportedInstance> {
    await this.find(environmentId, region, instanceId);
    await this.ec2(region).send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    return toView(await this.find(environmentId, region, instanceId));
  }

  async stop(environmentId: string, region: string, instanceId: string): Promise<ImportedInstance> {
    await this.find(environmentId, region, instanceId);
    await this.ec2(region).send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    return toView(await this.find(environmentId, region, instanceId));
  }

  async backup(environmentId: string, region: string, instanceId: string, now: Date): Promise<{ imageId: string; launchTemplateId?: string }> {
    const inst = await this.find(environmentId, region, instanceId);
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const name = `${tag(inst, 'Name') ?? instanceId}-backup-${stamp}`.slice(0, 120);
    const img = await this.ec2(region).send(new CreateImageCommand({ InstanceId: instanceId, Name: name, Description: `Backup of ${instanceId} by the EC2 migration connector` }));
    if (!img.ImageId) throw new AppError(502, 'AWS_ERROR', `EC2 did not return an AMI for the backup of ${instanceId}. Check the EC2 console.`);
    try {
      const lt = await this.ec2(region).send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: name.replace(/[^A-Za-z0-9()./_-]/g, '-'),
          LaunchTemplateData: {
            ImageId: img.ImageId,
            ...(inst.InstanceType ? { InstanceType: inst.InstanceType } : {}),
            NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: inst.SubnetId, Groups: (inst.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])) }],
          },
        }),
      );
      return { imageId: img.ImageId, ...(lt.LaunchTemplate?.LaunchTemplateId ? { launchTemplateId: lt.LaunchTemplate.LaunchTemplateId } : {}) };
    } catch (err) {
      // The lab EC2 emulator has no launch templates: the AMI alone is the backup there.
      if ((err as { name?: string }).name === 'InvalidAction') return { imageId: img.ImageId };
      throw err;
    }
  }
}
