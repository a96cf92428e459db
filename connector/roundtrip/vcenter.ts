// The vCenter reads and actions of "Bring back to vCenter" beyond the import lease itself: the target's facts for the
// pre-flight (pool, datastore space, networks, a VM of the same name), and the new VM's annotation, power-on and removal.
import { arr, child, el, moRefXml, str, text, toMoRef, VimFault, wrap, type XmlValue } from '../vsphere/soap.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';

/** Properties of one object, by path; an object vCenter does not have (for this session) gives undefined. */
export async function readProps(client: Vim25Client, obj: MoRef, paths: string[]): Promise<Map<string, XmlValue> | undefined> {
  const spec = wrap('propSet', el('type', obj.type) + el('all', false) + paths.map((p) => el('pathSet', p)).join(''));
  const objectSet = wrap('objectSet', moRefXml('obj', obj) + el('skip', false));
  let r: XmlValue;
  try {
    r = await client.invoke('RetrievePropertiesEx', client.serviceContent.propertyCollector!, wrap('specSet', spec + objectSet) + wrap('options', ''));
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') return undefined;
    throw err;
  }
  const [o] = arr(child(r, 'objects'));
  if (!o) return undefined;
  const props = new Map<string, XmlValue>();
  for (const p of arr(child(o, 'propSet'))) {
    const name = str(p, 'name');
    if (name) props.set(name, child(p, 'val'));
  }
  return props;
}

/** The resource pool ImportVApp runs on (a host's or cluster's root pool) and the host, when one was chosen. */
export async function resolvePool(client: Vim25Client, target: { type: string; id: string }): Promise<{ pool: MoRef; host?: MoRef } | undefined> {
  if (target.type === 'ResourcePool') {
    const p = await readProps(client, { type: 'ResourcePool', value: target.id }, ['name']);
    return p?.get('name') !== undefined ? { pool: { type: 'ResourcePool', value: target.id } } : undefined;
  }
  if (target.type === 'ClusterComputeResource') {
    const pool = toMoRef((await readProps(client, { type: 'ClusterComputeResource', value: target.id }, ['resourcePool']))?.get('resourcePool'));
    return pool ? { pool } : undefined;
  }
  const host: MoRef = { type: 'HostSystem', value: target.id };
  const parent = toMoRef((await readProps(client, host, ['parent']))?.get('parent'));
  if (!parent) return undefined;
  const pool = toMoRef((await readProps(client, parent, ['resourcePool']))?.get('resourcePool'));
  return pool ? { pool, host } : undefined;
}

export interface DatastoreFacts {
  name: string;
  freeSpace: number;
  accessible: boolean;
}

export async function datastoreFacts(client: Vim25Client, id: string): Promise<DatastoreFacts | undefined> {
  const p = await readProps(client, { type: 'Datastore', value: id }, ['name', 'summary']);
  const name = text(p?.get('name'));
  if (!p || !name) return undefined;
  const summary = p.get('summary');
  return { name, freeSpace: Number(str(summary, 'freeSpace') ?? 0), accessible: str(summary, 'accessible') !== 'false' };
}

export async function entityName(client: Vim25Client, ref: MoRef): Promise<string | undefined> {
  return text((await readProps(client, ref, ['name']))?.get('name'));
}

/** The VM (or vApp) named `name` directly in `folder`, if any (SearchIndex.FindChild: vCenter's names are per folder). */
export async function findChild(client: Vim25Client, folder: MoRef, name: string): Promise<MoRef | undefined> {
  const r = await client.invoke('FindChild', client.serviceContent.searchIndex!, moRefXml('entity', folder) + el('name', name));
  return toMoRef(r);
}

async function runTask(client: Vim25Client, method: string, obj: MoRef, body = ''): Promise<unknown> {
  const task = toMoRef(await client.invoke(method, obj, body));
  if (!task) throw new Error(`vCenter did not return a task for ${method} on ${obj.value}`);
  return client.waitForTask(task, { timeoutMs: 10 * 60_000 });
}

export async function setAnnotation(client: Vim25Client, vm: MoRef, annotation: string): Promise<void> {
  await runTask(client, 'ReconfigVM_Task', vm, wrap('spec', el('annotation', annotation)));
}

export async function powerOn(client: Vim25Client, vm: MoRef): Promise<void> {
  await runTask(client, 'PowerOnVM_Task', vm);
}

/** Removes a VM and its files: powered off first if it runs. A VM already gone is fine. */
export async function destroyVm(client: Vim25Client, vm: MoRef): Promise<void> {
  const p = await readProps(client, vm, ['runtime.powerState']);
  if (!p) return;
  if (text(p.get('runtime.powerState')) === 'poweredOn') await runTask(client, 'PowerOffVM_Task', vm).catch(() => undefined);
  try {
    await runTask(client, 'Destroy_Task', vm);
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') return;
    throw err;
  }
}
