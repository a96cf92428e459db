// CreateTags / DeleteTags across every taggable emulated resource.
import { Ec2Error } from './errors.ts';
import { readTags, type Tag } from './query.ts';
import { mergeTags, type Core, type Handler, type RegionState } from './state.ts';

/** The tag list of a resource id, or undefined for snapshots (accepted, not tracked). */
function tagsOf(core: Core, region: RegionState, id: string): Tag[] | undefined {
  const holder =
    region.instances.get(id) ??
    region.images.get(id) ??
    region.imports.get(id) ??
    region.exports.get(id) ??
    region.vpcs.get(id) ??
    region.subnets.get(id) ??
    region.securityGroups.get(id);
  if (holder) return holder.tags;
  const snapshot = core.ebs.get(id);
  if (snapshot && snapshot.region === region.name) return snapshot.tags;
  if (id.startsWith('snap-') && [...region.images.values()].some((i) => i.snapshots.some((s) => s.snapshotId === id))) return undefined;
  if (id.startsWith('i-')) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
  if (id.startsWith('ami-')) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
  throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
}

export const tagHandlers: Record<string, Handler> = {
  CreateTags({ core, region }, p) {
    const ids = p.list('ResourceId');
    if (ids.length === 0) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ResourceId.');
    const tags = readTags(p);
    const targets = ids.map((id) => tagsOf(core, region, id));
    for (const t of targets) if (t) mergeTags(t, tags);
    return { return: true };
  },

  DeleteTags({ core, region }, p) {
    const ids = p.list('ResourceId');
    const remove = p.structs('Tag').map((t) => ({ key: t.required('Key'), value: t.has('Value') ? (t.str('Value') ?? '') : undefined }));
    for (const id of ids) {
      const list = tagsOf(core, region, id);
      if (!list) continue;
      const keep = list.filter((t) => !(remove.length === 0 || remove.some((r) => r.key === t.key && (r.value === undefined || r.value === t.value))));
      list.splice(0, list.length, ...keep);
    }
    return { return: true };
  },
};
