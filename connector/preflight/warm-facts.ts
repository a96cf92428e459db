// What "Replicate, then cut over" needs to know about a VM beyond VmInfo, read with the caller's own vCenter session
// (so vCenter shows only what that user may see): virtual hardware version, VMware Tools, firmware, datastores, and
// the vCenter privileges replication uses on the VM and on its datastores.
import type { Caller } from '../auth/plugin.ts';
import { arr, child, el, moRefXml, str, text, toMoRef, VimFault, wrap, type XmlValue } from '../vsphere/soap.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';

export interface WarmFacts {
  /** From config.version ("vmx-13" → 13); undefined when vCenter did not say. */
  hardwareVersion?: number;
  changeTrackingEnabled: boolean;
  /** guest.toolsRunningStatus is guestToolsRunning (or executing its scripts). */
  toolsRunning: boolean;
  /** What VMware Tools reports running in the guest (meaningful only while Tools runs). */
  toolsGuestId?: string;
  toolsGuestFullName?: string;
  firmware?: string;
  datastores: { id: string; name: string }[];
}

/** A privilege replication needs, on the VM or on one of its datastores. */
export interface WarmPrivilege {
  id: string;
  /** The privilege as the vSphere Client's role editor shows it. */
  label: string;
  on: 'vm' | 'datastore';
}

/**
 * What replication does on the user's behalf: snapshots freeze each cycle's disks; ChangeTracking turns CBT on;
 * DiskRandomRead is what vCenter requires for QueryChangedDiskAreas; Browse on the datastore lets the connector read
 * the changed byte ranges over datastore file access (docs/warm-migration.md, "Pre-flight and permissions").
 */
export const WARM_PRIVILEGES: readonly WarmPrivilege[] = [
  { id: 'VirtualMachine.State.CreateSnapshot', label: 'Virtual machine > Snapshot management > Create snapshot', on: 'vm' },
  { id: 'VirtualMachine.State.RemoveSnapshot', label: 'Virtual machine > Snapshot management > Remove snapshot', on: 'vm' },
  { id: 'VirtualMachine.Config.ChangeTracking', label: 'Virtual machine > Change Configuration > Toggle disk change tracking', on: 'vm' },
  { id: 'VirtualMachine.Provisioning.DiskRandomRead', label: 'Virtual machine > Provisioning > Allow read-only disk access', on: 'vm' },
  { id: 'Datastore.Browse', label: 'Datastore > Browse datastore', on: 'datastore' },
];
/** With "Shut down the guest" the connector powers the VM off for the user at cutover: the user must be allowed to. */
export const GUEST_SHUTDOWN_PRIVILEGE: WarmPrivilege = { id: 'VirtualMachine.Interact.PowerOff', label: 'Virtual machine > Interaction > Power off', on: 'vm' };

const PATHS = ['config.version', 'config.changeTrackingEnabled', 'config.firmware', 'guest.toolsRunningStatus', 'guest.guestId', 'guest.guestFullName', 'datastore'];

async function properties(client: Vim25Client, objs: MoRef[], type: string, paths: string[]): Promise<Map<string, Map<string, XmlValue>>> {
  const spec = wrap('propSet', el('type', type) + el('all', false) + paths.map((p) => el('pathSet', p)).join(''));
  const objectSet = objs.map((o) => wrap('objectSet', moRefXml('obj', o) + el('skip', false))).join('');
  const r = await client.invoke('RetrievePropertiesEx', client.serviceContent['propertyCollector']!, wrap('specSet', spec + objectSet) + wrap('options', ''));
  const out = new Map<string, Map<string, XmlValue>>();
  for (const o of arr(child(r, 'objects'))) {
    const ref = toMoRef(child(o, 'obj'));
    if (!ref) continue;
    const props = new Map<string, XmlValue>();
    for (const p of arr(child(o, 'propSet'))) {
      const name = str(p, 'name');
      if (name) props.set(name, child(p, 'val'));
    }
    out.set(ref.value, props);
  }
  return out;
}

export function parseHardwareVersion(version: string | undefined): number | undefined {
  const m = /^vmx-(\d+)$/.exec(version ?? '');
  return m ? Number(m[1]) : undefined;
}

export async function readWarmFacts(client: Vim25Client, vmId: string): Promise<WarmFacts> {
  const vm = (await properties(client, [{ type: 'VirtualMachine', value: vmId }], 'VirtualMachine', PATHS)).get(vmId) ?? new Map<string, XmlValue>();
  const t = (k: string) => text(vm.get(k));
  const dsRefs = arr(child(vm.get('datastore'), 'ManagedObjectReference'))
    .map((d) => toMoRef(d))
    .filter((d): d is MoRef => d !== undefined);
  const names = dsRefs.length ? await properties(client, dsRefs, 'Datastore', ['name']).catch(() => new Map<string, Map<string, XmlValue>>()) : new Map<string, Map<string, XmlValue>>();
  const running = t('guest.toolsRunningStatus');
  const hardwareVersion = parseHardwareVersion(t('config.version'));
  const toolsGuestId = t('guest.guestId');
  const toolsGuestFullName = t('guest.guestFullName');
  const firmware = t('config.firmware');
  return {
    ...(hardwareVersion !== undefined ? { hardwareVersion } : {}),
    changeTrackingEnabled: t('config.changeTrackingEnabled') === 'true',
    toolsRunning: running === 'guestToolsRunning' || running === 'guestToolsExecutingScripts',
    ...(toolsGuestId ? { toolsGuestId } : {}),
    ...(toolsGuestFullName ? { toolsGuestFullName } : {}),
    ...(firmware ? { firmware } : {}),
    datastores: dsRefs.map((d) => ({ id: d.value, name: text(names.get(d.value)?.get('name')) ?? d.value })),
  };
}

/** The warm privileges the caller lacks, each with where (the VM, or a datastore by name). */
export async function missingWarmPrivileges(
  caller: Caller,
  vmId: string,
  datastores: WarmFacts['datastores'],
  opts: { guestShutdown: boolean },
): Promise<{ privilege: WarmPrivilege; on: string }[]> {
  const { client, session } = caller.vcenter;
  // The VM's privileges first, then the datastores', as the message lists them.
  const wanted = [...WARM_PRIVILEGES, ...(opts.guestShutdown ? [GUEST_SHUTDOWN_PRIVILEGE] : [])].sort((a, b) => Number(a.on === 'datastore') - Number(b.on === 'datastore'));
  const entities: MoRef[] = [{ type: 'VirtualMachine', value: vmId }, ...datastores.map((d) => ({ type: 'Datastore', value: d.id }))];
  let granted: Map<string, Record<string, boolean>>;
  try {
    granted = await client.hasPrivilegeOnEntities(entities, session.key, [...new Set(wanted.map((p) => p.id))]);
  } catch (err) {
    // A datastore removed meanwhile: ask about the VM alone.
    if (!(err instanceof VimFault) || err.faultType !== 'ManagedObjectNotFound' || datastores.length === 0) throw err;
    return missingWarmPrivileges(caller, vmId, [], opts);
  }
  const missing: { privilege: WarmPrivilege; on: string }[] = [];
  for (const p of wanted) {
    if (p.on === 'vm') {
      if (granted.get(vmId)?.[p.id] !== true) missing.push({ privilege: p, on: 'vm' });
      continue;
    }
    for (const d of datastores) {
      if (granted.get(d.id)?.[p.id] !== true) missing.push({ privilege: p, on: d.name });
    }
  }
  return missing;
}
