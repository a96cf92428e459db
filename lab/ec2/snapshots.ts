// DescribeSnapshots / DeleteSnapshot over the EBS snapshots of the EBS direct APIs and of AMIs made from them.
import type { EbsSnapshot } from './ebs-store.ts';
import { Ec2Error } from './errors.ts';
import { applyFilters, paginate, readFilters } from './query.ts';
import { tagsXml, type Core, type Handler, type RegionState } from './state.ts';
import type { XmlObject } from './xml.ts';

/** Snapshots not taken from a volume (EBS direct APIs) report this volume id, as AWS does. */
export const NO_VOLUME_ID = 'vol-ffffffff';

function snapshotXml(core: Core, s: EbsSnapshot): XmlObject {
  return {
    snapshotId: s.id,
    volumeId: NO_VOLUME_ID,
    status: s.status,
    statusMessage: s.statusMessage,
    startTime: new Date(s.startTime).toISOString(),
    progress: s.status === 'completed' ? '100%' : s.status === 'pending' ? '0%' : '',
    ownerId: core.accountId,
    volumeSize: s.volumeSizeGiB,
    description: s.description ?? '',
    encrypted: s.encrypted,
    kmsKeyId: s.kmsKeyArn,
    storageTier: 'standard',
    tagSet: tagsXml(s.tags),
  };
}

export function findSnapshot(core: Core, region: RegionState, id: string): EbsSnapshot {
  const s = core.ebs.get(id);
  if (s && s.region === region.name) return s;
  if (!/^snap-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidSnapshotID.Malformed', `Invalid id: "${id}" (expecting "snap-...")`);
  throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
}

/** The registered AMI that uses a snapshot, if any. */
export function imageUsing(region: RegionState, snapshotId: string): string | undefined {
  for (const img of region.images.values()) if (img.snapshots.some((s) => s.snapshotId === snapshotId)) return img.id;
  return undefined;
}

export const snapshotHandlers: Record<string, Handler> = {
  DescribeSnapshots({ core, region }, p) {
    const ids = p.list('SnapshotId');
    let snaps = ids.length > 0 ? ids.map((id) => findSnapshot(core, region, id)) : core.ebs.list(region.name);
    const owners = p.list('Owner');
    if (owners.length > 0 && !owners.some((o) => o === 'self' || o === core.accountId)) snaps = [];
    const filtered = applyFilters(
      snaps,
      readFilters(p),
      {
        'snapshot-id': (s) => s.id,
        status: (s) => s.status,
        'volume-size': (s) => String(s.volumeSizeGiB),
        'volume-id': () => NO_VOLUME_ID,
        'owner-id': () => core.accountId,
        description: (s) => s.description,
        encrypted: (s) => String(s.encrypted),
        progress: (s) => (s.status === 'completed' ? '100%' : '0%'),
      },
      (s) => s.tags,
    );
    const { page, nextToken } = paginate(filtered, p.int('MaxResults'), p.str('NextToken'));
    return { snapshotSet: page.map((s) => snapshotXml(core, s)), nextToken };
  },

  DeleteSnapshot({ core, region }, p) {
    const snap = findSnapshot(core, region, p.required('SnapshotId'));
    const ami = imageUsing(region, snap.id);
    if (ami !== undefined) throw new Ec2Error('InvalidSnapshot.InUse', `The snapshot ${snap.id} is currently in use by ${ami}`);
    if (snap.status === 'pending') {
      throw new Ec2Error('IncorrectState', `The snapshot ${snap.id} is pending; complete it (CompleteSnapshot) or let it time out before deleting it.`);
    }
    core.ebs.delete(snap.id);
    return { return: true };
  },
};
