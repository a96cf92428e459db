// CreateTags / DeleteTags across every taggable emulated resource.
import { Ec2Error } from './errors.ts';
import { readTags, type Params, type Tag } from './query.ts';
import { mergeTags, type Core, type Handler, type RegionState } from './state.ts';

/** EC2's tag limits (EC2 user guide, "Tag restrictions"); EC2 itself allows any character. */
export const MAX_TAGS_PER_RESOURCE = 50;

/** Refuses tags EC2 refuses: reserved aws: prefix, key 1–128 and value 0–256 characters, a key twice. */
export function validateTags(tags: Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of tags) {
    const chars = [...t.key].length;
    if (t.key.toLowerCase().startsWith('aws:')) {
      throw new Ec2Error('InvalidParameterValue', `Value ( ${t.key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`);
    }
    if (chars < 1 || chars > 128) throw new Ec2Error('InvalidParameterValue', `Value ( ${t.key} ) for parameter key is invalid. Tag keys must be 1 to 128 characters long.`);
    if ([...t.value].length > 256) throw new Ec2Error('InvalidParameterValue', `Value ( ${t.value} ) for parameter value is invalid. Tag values can be at most 256 characters long.`);
    if (seen.has(t.key)) throw new Ec2Error('InvalidParameterValue', `Duplicate tag key '${t.key}' specified.`);
    seen.add(t.key);
  }
  if (tags.length > MAX_TAGS_PER_RESOURCE) {
    throw new Ec2Error('TagLimitExceeded', `You have ${tags.length} tags for one resource; a resource can have at most ${MAX_TAGS_PER_RESOURCE} tags.`);
  }
  return tags;
}

/**
 * `TagSpecification.N` of an action, validated: each ResourceType must be one the action tags, and its tags must
 * pass EC2's rules. Returns the tags per resource type.
 */
export function tagSpecifications(p: Params, allowed: readonly string[]): Map<string, Tag[]> {
  const out = new Map<string, Tag[]>();
  for (const spec of p.structs('TagSpecification')) {
    const type = spec.str('ResourceType');
    if (type === undefined) throw new Ec2Error('InvalidParameterValue', 'A TagSpecification needs a ResourceType.');
    if (!allowed.includes(type)) throw new Ec2Error('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`);
    out.set(type, [...(out.get(type) ?? []), ...readTags(spec)]);
  }
  for (const tags of out.values()) validateTags(tags);
  return out;
}

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
  if (id.startsWith('vol-')) {
    for (const inst of region.instances.values()) {
      const vol = inst.state === 'terminated' ? undefined : inst.volumes.find((v) => v.volumeId === id);
      if (vol) return vol.tags;
    }
    throw new Ec2Error('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
  }
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
    const tags = validateTags(readTags(p));
    const targets = ids.map((id) => tagsOf(core, region, id));
    for (const t of targets) {
      if (!t) continue;
      const after = [...t.map((x) => x.key), ...tags.map((x) => x.key)];
      if (new Set(after).size > MAX_TAGS_PER_RESOURCE) {
        throw new Ec2Error('TagLimitExceeded', `A resource can have at most ${MAX_TAGS_PER_RESOURCE} tags; these would make ${new Set(after).size}.`);
      }
    }
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
