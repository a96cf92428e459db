// Where a VM can be imported, as one vCenter session sees it: VM folders, compute resources (clusters, hosts, resource
// pools), datastores with their space, and networks (standard and distributed port groups, not uplinks), each with its
// inventory path and whether the session holds the privilege an import needs on it. One container view, one pass.
import { arr, child, el, els, moRefXml, num, str, text, toMoRef, wrap, type XmlValue } from './soap.ts';
import type { MoRef } from './types.ts';
import type { Vim25Client } from './vim25.ts';

export interface ImportTarget {
  id: string;
  name: string;
  path: string;
  mayUse: boolean;
}
export interface ImportTargets {
  folders: ImportTarget[];
  computeResources: (ImportTarget & { type: 'ClusterComputeResource' | 'HostSystem' | 'ResourcePool' })[];
  datastores: (ImportTarget & { freeBytes: number; capacityBytes: number; accessible: boolean })[];
  networks: (ImportTarget & { type: 'Network' | 'DistributedVirtualPortgroup' })[];
}

const PROPS: Record<string, string[]> = {
  Datacenter: ['name', 'parent', 'vmFolder', 'hostFolder', 'datastoreFolder', 'networkFolder'],
  Folder: ['name', 'parent', 'childType'],
  ClusterComputeResource: ['name', 'parent', 'resourcePool'],
  ComputeResource: ['name', 'parent', 'resourcePool'],
  HostSystem: ['name', 'parent'],
  ResourcePool: ['name', 'parent'],
  Datastore: ['name', 'parent', 'summary'],
  // Subtypes before their base type: the lab's vCenter applies only the first spec an object matches.
  // Uplink port groups carry no VM traffic and are not offered: config.uplink (vSphere 6.5+), and the switch's list.
  DistributedVirtualPortgroup: ['name', 'parent', 'config.uplink'],
  Network: ['name', 'parent'],
  VmwareDistributedVirtualSwitch: ['config.uplinkPortgroup'],
  DistributedVirtualSwitch: ['config.uplinkPortgroup'],
};

interface Obj {
  ref: MoRef;
  props: Map<string, XmlValue>;
}

/** Every object of PROPS' types below the root folder (a ContainerView, paged with ContinueRetrievePropertiesEx). */
async function inventory(client: Vim25Client): Promise<Obj[]> {
  const root = client.serviceContent.rootFolder!;
  const view = toMoRef(await client.invoke('CreateContainerView', client.serviceContent.viewManager!, moRefXml('container', root) + els('type', Object.keys(PROPS)) + el('recursive', true)));
  if (!view) throw new Error('vCenter did not return a ContainerView');
  const pc = client.serviceContent.propertyCollector!;
  try {
    const specs = Object.entries(PROPS).map(([type, paths]) => wrap('propSet', el('type', type) + el('all', false) + els('pathSet', paths))).join('');
    const traverse = wrap('selectSet', el('name', 'view') + el('type', 'ContainerView') + el('path', 'view') + el('skip', false), 'TraversalSpec');
    const objectSet = wrap('objectSet', moRefXml('obj', view) + el('skip', true) + traverse);
    const out: Obj[] = [];
    let r = await client.invoke('RetrievePropertiesEx', pc, wrap('specSet', specs + objectSet) + wrap('options', ''));
    for (;;) {
      for (const o of arr(child(r, 'objects'))) {
        const ref = toMoRef(child(o, 'obj'));
        if (!ref) continue;
        const props = new Map<string, XmlValue>();
        for (const p of arr(child(o, 'propSet'))) {
          const name = str(p, 'name');
          if (name) props.set(name, child(p, 'val'));
        }
        out.push({ ref, props });
      }
      const token = str(r, 'token');
      if (!token) return out;
      r = await client.invoke('ContinueRetrievePropertiesEx', pc, el('token', token));
    }
  } finally {
    await client.invoke('DestroyView', view).catch(() => undefined);
  }
}

const byName = <T extends { path: string; name: string }>(a: T, b: T) => a.path.localeCompare(b.path) || a.name.localeCompare(b.name);

export async function importTargets(client: Vim25Client, sessionKey: string): Promise<ImportTargets> {
  const objs = await inventory(client);
  const byId = new Map(objs.map((o) => [o.ref.value, o]));
  const nameOf = (o: Obj) => text(o.props.get('name')) ?? o.ref.value;
  // A datacenter's own folders (vm, host, datastore, network) are hidden in the vSphere Client's paths.
  const hidden = new Set<string>();
  for (const dc of objs.filter((o) => o.ref.type === 'Datacenter')) {
    for (const p of ['vmFolder', 'hostFolder', 'datastoreFolder', 'networkFolder']) {
      const f = toMoRef(dc.props.get(p));
      if (f) hidden.add(f.value);
    }
  }
  /** The names from the datacenter down to the object's parent (or to the object, for a folder). */
  const pathOf = (o: Obj, self = false): string => {
    const names: string[] = self && !hidden.has(o.ref.value) ? [nameOf(o)] : [];
    for (let p = toMoRef(o.props.get('parent')); p; ) {
      const parent = byId.get(p.value);
      if (!parent) break;
      if (!hidden.has(p.value) && parent.ref.type !== 'ComputeResource') names.unshift(nameOf(parent));
      if (parent.ref.type === 'Datacenter') break;
      p = toMoRef(parent.props.get('parent'));
    }
    return names.join(' / ');
  };
  const isVmFolder = (o: Obj) => o.ref.type === 'Folder' && arr(child(o.props.get('childType'), 'string')).some((c) => text(c) === 'VirtualMachine');
  const folders = objs.filter(isVmFolder);

  // Compute resources: clusters, the hosts (a standalone host's ComputeResource is its container), and the resource
  // pools below a root pool; each imports into a pool, on which vCenter checks vApp > Import.
  const rootPools = new Set<string>();
  const poolOf = new Map<string, string>();
  for (const c of objs.filter((o) => o.ref.type === 'ClusterComputeResource' || o.ref.type === 'ComputeResource')) {
    const pool = toMoRef(c.props.get('resourcePool'));
    if (pool) {
      rootPools.add(pool.value);
      poolOf.set(c.ref.value, pool.value);
    }
  }
  const compute: { obj: Obj; type: 'ClusterComputeResource' | 'HostSystem' | 'ResourcePool'; pool: string }[] = [];
  for (const o of objs) {
    if (o.ref.type === 'ClusterComputeResource' && poolOf.has(o.ref.value)) compute.push({ obj: o, type: 'ClusterComputeResource', pool: poolOf.get(o.ref.value)! });
    else if (o.ref.type === 'HostSystem') {
      const pool = poolOf.get(toMoRef(o.props.get('parent'))?.value ?? '');
      if (pool) compute.push({ obj: o, type: 'HostSystem', pool });
    } else if (o.ref.type === 'ResourcePool' && !rootPools.has(o.ref.value)) compute.push({ obj: o, type: 'ResourcePool', pool: o.ref.value });
  }
  const datastores = objs.filter((o) => o.ref.type === 'Datastore');
  const uplinks = new Set(objs.flatMap((o) => arr(child(o.props.get('config.uplinkPortgroup'), 'ManagedObjectReference')).map((r) => text(r) ?? '')));
  const networks = objs.filter(
    (o) => (o.ref.type === 'Network' || o.ref.type === 'DistributedVirtualPortgroup') && !uplinks.has(o.ref.value) && text(o.props.get('config.uplink')) !== 'true',
  );

  const granted = async (refs: MoRef[], privilege: string): Promise<Set<string>> => {
    if (refs.length === 0) return new Set();
    const answers = await client.hasPrivilegeOnEntities(refs, sessionKey, [privilege]);
    return new Set([...answers].filter(([, p]) => p[privilege] === true).map(([id]) => id));
  };
  const uniq = (ids: string[], type: string): MoRef[] => [...new Set(ids)].map((value) => ({ type, value }));
  const [folderOk, poolOk, dsOk, netOk] = await Promise.all([
    granted(folders.map((f) => f.ref), 'VApp.Import'),
    granted(uniq(compute.map((c) => c.pool), 'ResourcePool'), 'VApp.Import'),
    granted(datastores.map((d) => d.ref), 'Datastore.AllocateSpace'),
    granted(networks.map((n) => n.ref), 'Network.Assign'),
  ]);

  return {
    folders: folders.map((f) => ({ id: f.ref.value, name: nameOf(f), path: pathOf(f, true), mayUse: folderOk.has(f.ref.value) })).sort(byName),
    computeResources: compute
      .map((c) => ({ type: c.type, id: c.obj.ref.value, name: nameOf(c.obj), path: pathOf(c.obj), mayUse: poolOk.has(c.pool) }))
      .sort(byName),
    datastores: datastores
      .map((d) => {
        const s = d.props.get('summary');
        return {
          id: d.ref.value,
          name: nameOf(d),
          path: pathOf(d),
          mayUse: dsOk.has(d.ref.value),
          freeBytes: num(s, 'freeSpace') ?? 0,
          capacityBytes: num(s, 'capacity') ?? 0,
          accessible: str(s, 'accessible') !== 'false',
        };
      })
      .sort(byName),
    networks: networks
      .map((n) => ({ type: n.ref.type as 'Network' | 'DistributedVirtualPortgroup', id: n.ref.value, name: nameOf(n), path: pathOf(n), mayUse: netOk.has(n.ref.value) }))
      .sort(byName),
  };
}
