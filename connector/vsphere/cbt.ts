// Changed Block Tracking and the VM calls warm migration needs, as typed functions over Vim25Client.invoke
// (vim25.ts stays the general client). Shapes follow the vSphere Web Services API reference:
// VirtualMachineConfigSpec.changeTrackingEnabled, VirtualDiskFlatVer2BackingInfo.changeId, QueryChangedDiskAreas → DiskChangeInfo.
import { arr, child, el, moRefXml, num, str, text, toMoRef, VimFault, wrap, xsiType, type XmlValue } from './soap.ts';
import type { MoRef, Vim25Client } from './vim25.ts';

/** A virtual disk of a VM or of one of its snapshots. */
export interface CbtDisk {
  deviceKey: number;
  label: string;
  capacityBytes: number;
  /** `[datastore] dir/name.vmdk` of the disk backing. */
  fileName: string;
  /** The backing's CBT change id (absent when change tracking is off or not yet active). */
  changeId?: string;
  /** The backing is a delta disk (another snapshot below it): its bytes are not in one flat file. */
  hasParent: boolean;
  /** xsi:type of the backing (e.g. VirtualDiskFlatVer2BackingInfo). */
  backingType: string;
}

/** A changed byte range of a disk. */
export interface ChangedArea {
  start: number;
  length: number;
}

/** vCenter refused the change id: change tracking was reset on the VM, so the disk needs a full copy. */
export class ChangeIdRejectedError extends Error {
  override name = 'ChangeIdRejectedError';
  constructor(
    readonly deviceKey: number,
    readonly changeId: string,
    options?: ErrorOptions,
  ) {
    super(`vCenter no longer accepts change id ${changeId} of disk ${deviceKey}: Changed Block Tracking was reset on the VM.`, options);
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

function vmRef(vmId: string): MoRef {
  if (!ID.test(vmId)) throw new Error(`Invalid virtual machine id ${JSON.stringify(vmId)}: expected a managed object id such as vm-57`);
  return { type: 'VirtualMachine', value: vmId };
}

function snapshotRef(snapshot: string | MoRef): MoRef {
  const value = typeof snapshot === 'string' ? snapshot : snapshot.value;
  if (!ID.test(value)) throw new Error(`Invalid snapshot id ${JSON.stringify(value)}`);
  return { type: 'VirtualMachineSnapshot', value };
}

/** Properties of one managed object (RetrievePropertiesEx); a missing object is ManagedObjectNotFound. */
export async function objectProps(vc: Vim25Client, obj: MoRef, paths: string[]): Promise<Map<string, XmlValue>> {
  const pc = vc.serviceContent.propertyCollector;
  if (!pc) throw new VimFault('NotSupported', 'This vCenter does not provide propertyCollector');
  const spec = wrap('propSet', el('type', obj.type) + el('all', false) + paths.map((p) => el('pathSet', p)).join(''));
  const objectSet = wrap('objectSet', moRefXml('obj', obj) + el('skip', false));
  const r = await vc.invoke('RetrievePropertiesEx', pc, wrap('specSet', spec + objectSet) + wrap('options', ''));
  const [o] = arr(child(r, 'objects'));
  if (o === undefined) throw new VimFault('ManagedObjectNotFound', `The ${obj.type} ${obj.value} no longer exists in vCenter`, { object: obj });
  const props = new Map<string, XmlValue>();
  for (const p of arr(child(o, 'propSet'))) {
    const name = str(p, 'name');
    if (name) props.set(name, child(p, 'val'));
  }
  return props;
}

function parseDisks(devices: XmlValue): CbtDisk[] {
  const out: CbtDisk[] = [];
  for (const d of arr(child(devices, 'VirtualDevice'))) {
    if (xsiType(d) !== 'VirtualDisk') continue;
    const key = num(d, 'key') ?? 0;
    const backing = child(d, 'backing');
    const bytes = num(d, 'capacityInBytes');
    const changeId = str(backing, 'changeId');
    out.push({
      deviceKey: key,
      label: str(child(d, 'deviceInfo'), 'label') ?? `Hard disk ${key}`,
      capacityBytes: bytes !== undefined && bytes > 0 ? bytes : (num(d, 'capacityInKB') ?? 0) * 1024,
      fileName: str(backing, 'fileName') ?? '',
      ...(changeId ? { changeId } : {}),
      hasParent: child(backing, 'parent') !== undefined,
      backingType: xsiType(backing) ?? 'unknown',
    });
  }
  return out.sort((a, b) => a.deviceKey - b.deviceKey);
}

/** The VM's virtual disks as configured now. */
export async function vmDisks(vc: Vim25Client, vmId: string): Promise<CbtDisk[]> {
  const props = await objectProps(vc, vmRef(vmId), ['config.hardware.device']);
  return parseDisks(props.get('config.hardware.device'));
}

/** The disks as frozen by a snapshot: the backing file holding the snapshot's state and its change id. */
export async function snapshotDisks(vc: Vim25Client, snapshot: string | MoRef): Promise<CbtDisk[]> {
  const props = await objectProps(vc, snapshotRef(snapshot), ['config.hardware.device']);
  return parseDisks(props.get('config.hardware.device'));
}

export async function changeTrackingEnabled(vc: Vim25Client, vmId: string): Promise<boolean> {
  const props = await objectProps(vc, vmRef(vmId), ['config.changeTrackingEnabled']);
  return text(props.get('config.changeTrackingEnabled')) === 'true';
}

/** ReconfigVM_Task with changeTrackingEnabled (privilege VirtualMachine.Config.ChangeTracking). */
export async function setChangeTracking(vc: Vim25Client, vmId: string, enabled: boolean): Promise<void> {
  const task = toMoRef(await vc.invoke('ReconfigVM_Task', vmRef(vmId), wrap('spec', el('changeTrackingEnabled', enabled))));
  if (!task) throw new Error(`vCenter did not return a reconfigure task for ${vmId}`);
  await vc.waitForTask(task);
}

/**
 * QueryChangedDiskAreas from `changeId` ('*': every allocated area) up to the snapshot, looping over
 * DiskChangeInfo windows until the disk's capacity. Areas come back sorted and clipped to the capacity.
 * A change id vCenter refuses (FileFault, or InvalidArgument for the id) is a ChangeIdRejectedError.
 */
export async function queryChangedAreas(
  vc: Vim25Client,
  vmId: string,
  snapshot: string | MoRef,
  deviceKey: number,
  capacityBytes: number,
  changeId: string,
): Promise<ChangedArea[]> {
  const vm = vmRef(vmId);
  const snap = snapshotRef(snapshot);
  const areas: ChangedArea[] = [];
  let offset = 0;
  while (offset < capacityBytes) {
    let r: XmlValue;
    try {
      r = await vc.invoke(
        'QueryChangedDiskAreas',
        vm,
        moRefXml('snapshot', snap) + el('deviceKey', deviceKey) + el('startOffset', offset) + el('changeId', changeId),
      );
    } catch (err) {
      if (changeId !== '*' && err instanceof VimFault && (err.faultType === 'FileFault' || err.faultType === 'InvalidArgument')) {
        throw new ChangeIdRejectedError(deviceKey, changeId, { cause: err });
      }
      throw err;
    }
    const start = num(r, 'startOffset');
    const length = num(r, 'length');
    if (start === undefined || length === undefined || start !== offset || length < 0) {
      throw new Error(`vCenter answered QueryChangedDiskAreas for disk ${deviceKey} at offset ${offset} with an unusable window (${start}, ${length})`);
    }
    for (const a of arr(child(r, 'changedArea'))) {
      const s = num(a, 'start');
      const l = num(a, 'length');
      if (s === undefined || l === undefined || s < 0 || l <= 0) continue;
      const end = Math.min(s + l, capacityBytes);
      if (end > s) areas.push({ start: s, length: end - s });
    }
    // A zero-length window would loop forever: the rest of the disk has no changes.
    if (length === 0) break;
    offset = start + length;
  }
  return areas.sort((a, b) => a.start - b.start);
}

export type PowerState = 'poweredOn' | 'poweredOff' | 'suspended';

export async function powerState(vc: Vim25Client, vmId: string): Promise<PowerState> {
  const props = await objectProps(vc, vmRef(vmId), ['runtime.powerState']);
  const s = text(props.get('runtime.powerState'));
  return s === 'poweredOn' || s === 'suspended' ? s : 'poweredOff';
}

/** ShutdownGuest through VMware Tools (returns at once; poll powerState). */
export async function shutdownGuest(vc: Vim25Client, vmId: string): Promise<void> {
  await vc.invoke('ShutdownGuest', vmRef(vmId));
}

export async function powerOff(vc: Vim25Client, vmId: string): Promise<void> {
  const task = toMoRef(await vc.invoke('PowerOffVM_Task', vmRef(vmId)));
  if (task) await vc.waitForTask(task);
}

/** PowerOnVM_Task on the VM's current host (roll back a cutover). */
export async function powerOn(vc: Vim25Client, vmId: string): Promise<void> {
  const task = toMoRef(await vc.invoke('PowerOnVM_Task', vmRef(vmId)));
  if (task) await vc.waitForTask(task);
}

/** RemoveSnapshot_Task(removeChildren=false, consolidate=true); an already removed snapshot is fine. */
export async function removeSnapshotIfPresent(vc: Vim25Client, snapshot: string | MoRef): Promise<boolean> {
  try {
    await vc.removeSnapshot(snapshotRef(snapshot));
    return true;
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') return false;
    throw err;
  }
}

/**
 * The inventory path of the VM's datacenter (`dcPath` of datastore file URLs) and the datacenter's name:
 * the folders between the root folder and the datacenter, joined by `/`.
 */
export async function datacenterPathOf(vc: Vim25Client, vmId: string): Promise<string> {
  let ref: MoRef | undefined = vmRef(vmId);
  let dc: string | undefined;
  const above: string[] = [];
  const root = vc.serviceContent.rootFolder?.value;
  for (let depth = 0; ref && depth < 64; depth++) {
    const props = await objectProps(vc, ref, ['name', 'parent']);
    if (ref.type === 'Datacenter') dc = text(props.get('name'));
    else if (dc !== undefined && ref.value !== root) above.unshift(text(props.get('name')) ?? '');
    ref = toMoRef(props.get('parent'));
    if (ref?.value === root) break;
  }
  if (dc === undefined) throw new Error(`vCenter did not report a datacenter above the virtual machine ${vmId}`);
  return [...above, dc].join('/');
}
