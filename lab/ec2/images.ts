// AMIs: the ones import tasks produce and the ones CreateImage makes from instances.
import { Ec2Error } from './errors.ts';
import { applyFilters, readFilters, readTagSpecifications } from './query.ts';
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
    platformDetails: windows ? 'Windows' : 'Linux/UNIX',
    usageOperation: windows ? 'RunInstances:0002' : 'RunInstances',
    name: img.name,
    description: img.description,
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/sda1',
    blockDeviceMapping: img.snapshots.map((s, i) => ({
      deviceName: i === 0 ? '/dev/sda1' : `/dev/sd${String.fromCharCode(98 + i - 1)}`,
      ebs: { snapshotId: s.snapshotId, volumeSize: s.sizeGiB, deleteOnTermination: true, volumeType: 'gp2', encrypted: false },
    })),
    virtualizationType: 'hvm',
    hypervisor: 'xen',
    enaSupport: true,
    bootMode: img.bootMode,
    sourceInstanceId: img.sourceInstanceId,
    tagSet: tagsXml(img.tags),
  };
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
    if (!/^[A-Za-z0-9()[\] ./'@_-]{3,128}$/.test(name)) {
      throw new Ec2Error('InvalidAMIName.Malformed', `AMI names must be 3-128 characters of letters, digits, spaces and ()[]./-'@_; got '${name}'.`);
    }
    if ([...region.images.values()].some((i) => i.name === name)) {
      throw new Ec2Error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by another AMI in ${region.name}.`);
    }
    const now = core.now();
    const image: Image = {
      id: newId('ami'),
      name,
      description: p.str('Description'),
      state: 'pending',
      platform: inst.platform,
      architecture: inst.architecture,
      creationDate: now,
      snapshots: inst.volumes.map((v) => ({ snapshotId: newId('snap'), sizeGiB: v.sizeGiB })),
      tags: readTagSpecifications(p, 'image'),
      sourceInstanceId: inst.id,
      nextAt: now + core.stageMs,
    };
    region.images.set(image.id, image);
    return { imageId: image.id };
  },

  /** The AMI disappears at once (AWS keeps its snapshots; the emulator lists none). */
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
