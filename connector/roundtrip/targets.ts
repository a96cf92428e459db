// The inventory the Bring back to vCenter form offers, read in the user's own session (vCenter shows each user what
// that user may see): VM folders with their paths, clusters, hosts and resource pools, datastores with free space,
// networks and distributed port groups.
import type { ReturnTargets } from '../contract/index.ts';
import { str, text, toMoRef } from '../vsphere/soap.ts';
import type { Vim25Client } from '../vsphere/vim25.ts';
import { listInventory } from './vcenter.ts';

const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

export async function returnTargets(client: Vim25Client): Promise<ReturnTargets> {
  const all = await listInventory(client, [
    { type: 'Datacenter', paths: ['name', 'vmFolder'] },
    { type: 'Folder', paths: ['name', 'parent', 'childType'] },
    { type: 'ClusterComputeResource', paths: ['name'] },
    { type: 'HostSystem', paths: ['name'] },
    { type: 'ResourcePool', paths: ['name', 'parent'] },
    { type: 'Datastore', paths: ['name', 'summary'] },
    { type: 'Network', paths: ['name'] },
    { type: 'DistributedVirtualPortgroup', paths: ['name', 'config.uplink'] },
  ]);
  const byId = new Map(all.map((o) => [o.id, o]));
  const vmRoots = new Map(all.filter((o) => o.type === 'Datacenter').map((dc) => [toMoRef(dc.props.get('vmFolder'))?.value ?? '', dc.name]));
  const pathOf = (id: string): string | undefined => {
    if (vmRoots.has(id)) return vmRoots.get(id);
    const f = byId.get(id);
    const parent = f && toMoRef(f.props.get('parent'))?.value;
    const above = parent ? pathOf(parent) : undefined;
    return above === undefined || !f ? undefined : `${above}/${f.name}`;
  };
  const folders = all
    .filter((o) => o.type === 'Folder' && pathOf(o.id) !== undefined)
    .map((o) => ({ id: o.id, name: vmRoots.get(o.id) ?? o.name, path: pathOf(o.id)! }))
    .sort((a, b) => a.path.localeCompare(b.path));
  const computeResources = all
    .filter((o) => o.type === 'ClusterComputeResource' || o.type === 'HostSystem' || o.type === 'ResourcePool')
    .map((o) => ({ type: o.type as ReturnTargets['computeResources'][number]['type'], id: o.id, name: o.name }))
    .sort(byName);
  const datastores = all
    .filter((o) => o.type === 'Datastore')
    .map((o) => {
      const s = o.props.get('summary');
      return { id: o.id, name: o.name, freeBytes: Number(str(s, 'freeSpace') ?? 0), capacityBytes: Number(str(s, 'capacity') ?? 0), accessible: str(s, 'accessible') !== 'false' };
    })
    .sort(byName);
  // Uplink port groups carry no VM traffic.
  const networks = all
    .filter((o) => o.type === 'Network' || (o.type === 'DistributedVirtualPortgroup' && text(o.props.get('config.uplink')) !== 'true'))
    .map((o) => ({ type: o.type as ReturnTargets['networks'][number]['type'], id: o.id, name: o.name }))
    .sort(byName);
  return { folders, computeResources, datastores, networks };
}
