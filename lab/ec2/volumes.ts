// DescribeVolumes over the EBS volumes of emulated instances. Volumes are created with their instance from the AMI's
// snapshots (encrypted with the snapshot's key) and deleted with it (DeleteOnTermination).
import { Ec2Error } from './errors.ts';
import { applyFilters, paginate, readFilters, type Params } from './query.ts';
import { tagsXml, type Handler, type Instance, type RegionState, type Volume } from './state.ts';
import type { XmlObject } from './xml.ts';

interface Attached {
  volume: Volume;
  instance: Instance;
}

function attachedVolumes(region: RegionState): Attached[] {
  return [...region.instances.values()]
    .filter((i) => i.state !== 'terminated')
    .flatMap((instance) => instance.volumes.map((volume) => ({ volume, instance })));
}

function volumeXml({ volume: v, instance: i }: Attached): XmlObject {
  return {
    volumeId: v.volumeId,
    size: v.sizeGiB,
    snapshotId: v.snapshotId ?? '',
    availabilityZone: i.availabilityZone,
    status: 'in-use',
    createTime: new Date(v.createTime),
    attachmentSet: [
      { volumeId: v.volumeId, instanceId: i.id, device: v.deviceName, status: 'attached', attachTime: new Date(v.createTime), deleteOnTermination: true },
    ],
    volumeType: 'gp2',
    iops: Math.max(100, v.sizeGiB * 3),
    encrypted: v.encrypted,
    kmsKeyId: v.encrypted ? v.kmsKeyArn : undefined,
    multiAttachEnabled: false,
    tagSet: tagsXml(v.tags),
  };
}

export const volumeHandlers: Record<string, Handler> = {
  DescribeVolumes({ region }, p: Params) {
    const all = attachedVolumes(region);
    const ids = p.list('VolumeId');
    const chosen = ids.length === 0
      ? all
      : ids.map((id) => {
          const hit = all.find((a) => a.volume.volumeId === id);
          if (hit) return hit;
          if (!/^vol-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidVolumeID.Malformed', `Invalid id: "${id}" (expecting "vol-...")`);
          throw new Ec2Error('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
        });
    const filtered = applyFilters(
      chosen,
      readFilters(p),
      {
        'volume-id': (a) => a.volume.volumeId,
        'attachment.instance-id': (a) => a.instance.id,
        'attachment.device': (a) => a.volume.deviceName,
        'attachment.status': () => 'attached',
        'attachment.delete-on-termination': () => 'true',
        'availability-zone': (a) => a.instance.availabilityZone,
        encrypted: (a) => String(a.volume.encrypted),
        'snapshot-id': (a) => a.volume.snapshotId,
        size: (a) => String(a.volume.sizeGiB),
        status: () => 'in-use',
        'volume-type': () => 'gp2',
      },
      (a) => a.volume.tags,
    );
    const { page, nextToken } = paginate(filtered, p.int('MaxResults'), p.str('NextToken'));
    return { volumeSet: page.map(volumeXml), nextToken };
  },
};
