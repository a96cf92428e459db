// AMIs: the ones import tasks produce and the ones CreateImage makes from instances.
import { Ec2Error } from './errors.ts';
import { applyFilters, readFilters, readTagSpecifications, type Params } from './query.ts';
import { findSnapshot } from './snapshots.ts';
import { newId, tagsXml, type Core, type Handler, type Image, type RegionState } from './state.ts';
import type { XmlObject } from './xml.ts';

export function imageXml(core: Core, img: Image): XmlObject {
  const windows = img.platform === 'windows';
  return {
    imageId: img.id,
    imageLocation: `${core.accountId}/${img.name}`,
    imageState: img.state,
    imageOwnerId: core.accountId,
    creationDate: new Date(img.creationDate).toISOString(),
    isPublic: false,
    architecture: img.architecture,
    imageType: 'machine',
    platform: img.platform,
    platformDetails: img.platformDetails ?? (windows ? 'Windows' : 'Linux/UNIX'),
    usageOperation: img.usageOperation ?? (windows ? 'RunInstances:0002' : 'RunInstances'),
    name: img.name,
    description: img.description,
    rootDeviceType: 'ebs',
    rootDeviceName: img.rootDeviceName ?? '/dev/sda1',
    blockDeviceMapping: img.snapshots.map((s, i) => ({
      deviceName: s.deviceName ?? defaultDeviceName(i),
      // DescribeImages reports whether a mapping is encrypted, not with which key (DescribeSnapshots has the key).
      ebs: { snapshotId: s.snapshotId, volumeSize: s.sizeGiB, deleteOnTermination: true, volumeType: 'gp2', encrypted: s.encrypted ?? false },
    })),
    virtualizationType: img.virtualizationType ?? 'hvm',
    hypervisor: 'xen',
    enaSupport: img.enaSupport ?? true,
    bootMode: img.bootMode,
    sourceInstanceId: img.sourceInstanceId,
    tagSet: tagsXml(img.tags),
  };
}

/** /dev/sda1 for the first disk, then /dev/sdb, /dev/sdc… */
export function defaultDeviceName(i: number): string {
  return i === 0 ? '/dev/sda1' : `/dev/sd${String.fromCharCode(98 + i - 1)}`;
}

function checkNewImageName(region: RegionState, name: string): void {
  if (!/^[A-Za-z0-9()[\] ./'@_-]{3,128}$/.test(name)) {
    throw new Ec2Error('InvalidAMIName.Malformed', `AMI names must be 3-128 characters of letters, digits, spaces and ()[]./-'@_; got '${name}'.`);
  }
  if ([...region.images.values()].some((i) => i.name === name)) {
    throw new Ec2Error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by another AMI in ${region.name}.`);
  }
}

function oneOf<T extends string>(p: Params, key: string, allowed: readonly T[]): T | undefined {
  const value = p.str(key);
  if (value !== undefined && !(allowed as readonly string[]).includes(value)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${value}) for parameter ${key} is invalid. Valid values: ${allowed.join(' | ')}.`);
  }
  return value as T | undefined;
}

export function findImage(region: RegionState, id: string): Image {
  const img = region.images.get(id);
  if (img) return img;
  if (!/^ami-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${id}" (expecting "ami-...")`);
  throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
}

export const imageHandlers: Record<string, Handler> = {
  DescribeImages({ core, region }, p) {
    const ids = p.list('ImageId');
    let images = ids.length > 0 ? ids.map((id) => findImage(region, id)) : [...region.images.values()];
    const owners = p.list('Owner');
    // Every emulated image belongs to the caller; other owners (amazon, aws-marketplace) have none here.
    if (owners.length > 0 && !owners.some((o) => o === 'self' || o === core.accountId)) images = [];
    images = applyFilters(
      images,
      readFilters(p),
      {
        'image-id': (i) => i.id,
        name: (i) => i.name,
        state: (i) => i.state,
        architecture: (i) => i.architecture,
        platform: (i) => i.platform,
        'owner-id': () => core.accountId,
        'image-type': () => 'machine',
        description: (i) => i.description,
      },
      (i) => i.tags,
    );
    return { imagesSet: images.map((i) => imageXml(core, i)) };
  },

  CreateImage({ core, region }, p) {
    const instanceId = p.required('InstanceId');
    const inst = region.instances.get(instanceId);
    if (!inst) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    if (inst.state !== 'running' && inst.state !== 'stopped') {
      throw new Ec2Error('IncorrectInstanceState', `Instance '${instanceId}' is not in a state from which it can be imaged (it is ${inst.state}).`);
    }
    const name = p.required('Name');
    checkNewImageName(region, name);
    const now = core.now();
    const image: Image = {
      id: newId('ami'),
      name,
      description: p.str('Description'),
      state: 'pending',
      platform: inst.platform,
      platformDetails: inst.platformDetails,
      usageOperation: inst.usageOperation,
      bootMode: inst.bootMode,
      architecture: inst.architecture,
      creationDate: now,
      snapshots: inst.volumes.map((v) => ({ snapshotId: newId('snap'), sizeGiB: v.sizeGiB, encrypted: v.encrypted, kmsKeyArn: v.kmsKeyArn })),
      tags: readTagSpecifications(p, 'image'),
      sourceInstanceId: inst.id,
      nextAt: now + core.stageMs,
    };
    region.images.set(image.id, image);
    return { imageId: image.id };
  },

  /**
   * An EBS-backed AMI from existing snapshots: available at once, and it uses those snapshots (DeleteSnapshot
   * refuses them until the AMI is deregistered). Defaults are AWS's: Architecture i386, VirtualizationType paravirtual.
   */
  RegisterImage({ core, region }, p) {
    if (p.str('ImageLocation') !== undefined) {
      throw new Ec2Error('InvalidParameter', 'The lab EC2 emulator registers EBS-backed AMIs from snapshots only (BlockDeviceMapping with Ebs.SnapshotId), not from an ImageLocation manifest.');
    }
    const name = p.required('Name');
    checkNewImageName(region, name);
    const rootDeviceName = p.required('RootDeviceName');
    const mappings = p.structs('BlockDeviceMapping').map((m, i) => {
      const deviceName = m.str('DeviceName');
      if (deviceName === undefined) throw new Ec2Error('MissingParameter', `BlockDeviceMapping.${i + 1}.DeviceName is required.`);
      const snapshotId = m.str('Ebs.SnapshotId');
      if (snapshotId === undefined) return undefined; // ephemeral / NoDevice / empty volumes: not modelled
      const snap = findSnapshot(core, region, snapshotId);
      if (snap.status !== 'completed') throw new Ec2Error('IncorrectState', `Snapshot '${snapshotId}' is in invalid state - ${snap.status}`);
      const size = m.int('Ebs.VolumeSize') ?? snap.volumeSizeGiB;
      if (size < snap.volumeSizeGiB) {
        throw new Ec2Error('InvalidBlockDeviceMapping', `Volume of size ${size}GB is smaller than snapshot '${snapshotId}', expect size >= ${snap.volumeSizeGiB}GB`);
      }
      return { snapshotId, sizeGiB: size, deviceName, encrypted: snap.encrypted, kmsKeyArn: snap.kmsKeyArn };
    }).filter((m) => m !== undefined);
    const root = mappings.find((m) => m.deviceName === rootDeviceName);
    if (!root) {
      throw new Ec2Error('InvalidBlockDeviceMapping', `The root device name ${rootDeviceName} must be one of the block device mappings with an Ebs.SnapshotId.`);
    }
    const architecture = oneOf(p, 'Architecture', ['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac'] as const) ?? 'i386';
    const image: Image = {
      id: newId('ami'),
      name,
      description: p.str('Description'),
      state: 'available',
      architecture,
      bootMode: oneOf(p, 'BootMode', ['legacy-bios', 'uefi', 'uefi-preferred'] as const),
      creationDate: core.now(),
      // The root device first, as instances number their volumes from it.
      snapshots: [root, ...mappings.filter((m) => m !== root)],
      rootDeviceName,
      enaSupport: p.bool('EnaSupport') ?? false,
      virtualizationType: oneOf(p, 'VirtualizationType', ['hvm', 'paravirtual'] as const) ?? 'paravirtual',
      tags: readTagSpecifications(p, 'image'),
    };
    region.images.set(image.id, image);
    return { imageId: image.id };
  },

  /** The AMI disappears at once; its snapshots stay (AWS keeps them; DeleteSnapshot then works). */
  DeregisterImage({ region }, p) {
    const img = findImage(region, p.required('ImageId'));
    region.images.delete(img.id);
    return { return: true };
  },
};

export function advanceImages(core: Core, region: RegionState): void {
  const now = core.now();
  for (const img of region.images.values()) {
    if (img.nextAt !== undefined && img.nextAt <= now) {
      img.state = 'available';
      img.nextAt = undefined;
    }
  }
}
