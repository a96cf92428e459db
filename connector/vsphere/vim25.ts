// Typed vim25 client for the few vCenter operations the connector needs (inventory, privileges, snapshots, NFC
// export leases, OVF descriptors, extension registration), on the session and property collector of vim25-session.ts.
import { arr, bool, child, el, els, faultFromLocalized, isObj, moRefXml, str, text, toMoRef, VimFault, wrap, xsiType, type XmlValue } from './soap.ts';
import type { ExtensionSpec, HttpNfcLeaseInfo, InventoryFolder, MoRef, Vim25ConnectOptions, VmInfo } from './types.ts';
import { extensionXml, parseExtension } from './extension-xml.ts';
import { flattenSnapshots, parseDevices, parseLeaseInfo, parsePowerState, VM_PATHS } from './vm-xml.ts';
import { openSession, Vim25Session, type ObjectContent } from './vim25-session.ts';

export type * from './types.ts';
export { VimFault } from './soap.ts';
export { VcenterNetworkError } from './soap-transport.ts';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

function checkId(kind: string, id: string): string {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new Error(`Invalid ${kind} id ${JSON.stringify(id)}: expected a managed object id such as vm-57`);
  }
  return id;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Vim25Client extends Vim25Session {
  /** Opens a client: verifies TLS and reads ServiceContent (no login). */
  static async connect(opts: Vim25ConnectOptions): Promise<Vim25Client> {
    const { transport, about, content } = await openSession(opts);
    return new Vim25Client(transport, about, content);
  }

  // ---------- inventory ----------

  private toVmInfo(c: ObjectContent, hostNames: Map<string, string>, networkNames: Map<string, string>): VmInfo {
    const p = (k: string): XmlValue => c.props.get(k);
    const { disks, nics } = parseDevices(p('config.hardware.device'), networkNames);
    const host = toMoRef(p('runtime.host'));
    const parent = toMoRef(p('parent'));
    const instanceUuid = text(p('config.instanceUuid'));
    const hostName = host ? hostNames.get(host.value) : undefined;
    const snapshots = flattenSnapshots(child(p('snapshot'), 'rootSnapshotList'));
    return {
      id: c.obj.value,
      name: text(p('name')) ?? '',
      guestId: text(p('config.guestId')) ?? '',
      guestFullName: text(p('config.guestFullName')) ?? '',
      powerState: parsePowerState(text(p('runtime.powerState'))),
      numCpu: Number(text(p('config.hardware.numCPU')) ?? 0),
      memoryMB: Number(text(p('config.hardware.memoryMB')) ?? 0),
      ...(instanceUuid ? { instanceUuid } : {}),
      ...(parent ? { folderId: parent.value } : {}),
      ...(hostName ? { hostName } : {}),
      disks,
      nics,
      snapshotCount: snapshots.length,
      snapshots,
    };
  }

  async listVirtualMachines(): Promise<VmInfo[]> {
    const contents = await this.retrieveView(this.ref('rootFolder'), [
      { type: 'VirtualMachine', paths: VM_PATHS },
      { type: 'HostSystem', paths: ['name'] },
      { type: 'Network', paths: ['name'] },
    ]);
    const names = (type: (t: string) => boolean): Map<string, string> =>
      new Map(contents.filter((c) => type(c.obj.type)).map((c) => [c.obj.value, text(c.props.get('name')) ?? c.obj.value]));
    const hostNames = names((t) => t === 'HostSystem');
    const networkNames = names((t) => t !== 'HostSystem' && t !== 'VirtualMachine');
    return contents
      .filter((c) => c.obj.type === 'VirtualMachine')
      .map((c) => this.toVmInfo(c, hostNames, networkNames))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async getVirtualMachine(id: string): Promise<VmInfo> {
    const ref: MoRef = { type: 'VirtualMachine', value: checkId('virtual machine', id) };
    const [c] = await this.retrieveObjects([ref], 'VirtualMachine', VM_PATHS);
    if (!c || c.obj.type !== 'VirtualMachine' || c.props.get('name') === undefined) {
      throw new VimFault('ManagedObjectNotFound', `The virtual machine ${id} no longer exists in vCenter`, { object: ref });
    }
    const hostNames = new Map<string, string>();
    const networkNames = new Map<string, string>();
    const host = toMoRef(c.props.get('runtime.host'));
    const netRefs: MoRef[] = [];
    for (const d of arr(child(c.props.get('config.hardware.device'), 'VirtualDevice'))) {
      const n = toMoRef(child(child(d, 'backing'), 'network'));
      if (n) netRefs.push(n);
      const pg = str(child(child(d, 'backing'), 'port'), 'portgroupKey');
      if (pg) netRefs.push({ type: 'DistributedVirtualPortgroup', value: pg });
    }
    const lookups = [...(host ? [host] : []), ...netRefs];
    if (lookups.length) {
      const objectSet = lookups.map((o) => wrap('objectSet', moRefXml('obj', o) + el('skip', false))).join('');
      const spec = wrap('propSet', el('type', 'ManagedEntity') + el('all', false) + el('pathSet', 'name'));
      // Name lookups are cosmetic: report missing objects instead of failing (host removed meanwhile, …).
      const r = await this.invoke(
        'RetrievePropertiesEx',
        this.ref('propertyCollector'),
        wrap('specSet', spec + objectSet + el('reportMissingObjectsInResults', true)) + wrap('options', ''),
      ).catch(() => undefined);
      for (const o of arr(child(r, 'objects'))) {
        const oc = this.objectContent(o);
        const name = text(oc.props.get('name'));
        if (!name) continue;
        (oc.obj.type === 'HostSystem' ? hostNames : networkNames).set(oc.obj.value, name);
      }
    }
    return this.toVmInfo(c, hostNames, networkNames);
  }

  /** "VMs and Templates": one root per datacenter (its VM folder, named after the datacenter) with sub-folders and VMs. */
  async vmFolderTree(): Promise<InventoryFolder[]> {
    const contents = await this.retrieveView(this.ref('rootFolder'), [
      { type: 'Datacenter', paths: ['name', 'vmFolder'] },
      { type: 'Folder', paths: ['name', 'parent'] },
      { type: 'VirtualMachine', paths: ['name', 'parent', 'runtime.powerState', 'summary.config.guestFullName'] },
    ]);
    const folders = new Map<string, InventoryFolder & { parent?: string }>();
    for (const c of contents.filter((x) => x.obj.type === 'Folder')) {
      const parent = toMoRef(c.props.get('parent'))?.value;
      folders.set(c.obj.value, {
        id: c.obj.value,
        name: text(c.props.get('name')) ?? c.obj.value,
        children: [],
        vms: [],
        ...(parent ? { parent } : {}),
      });
    }
    for (const c of contents.filter((x) => x.obj.type === 'VirtualMachine')) {
      const parent = toMoRef(c.props.get('parent'))?.value;
      const folder = parent ? folders.get(parent) : undefined;
      folder?.vms.push({
        id: c.obj.value,
        name: text(c.props.get('name')) ?? c.obj.value,
        powerState: text(c.props.get('runtime.powerState')) ?? '',
        guestFullName: text(c.props.get('summary.config.guestFullName')) ?? '',
      });
    }
    for (const f of folders.values()) {
      if (f.parent) folders.get(f.parent)?.children.push(f);
    }
    const strip = (f: InventoryFolder): InventoryFolder => ({
      id: f.id,
      name: f.name,
      children: f.children.map(strip).sort((a, b) => a.name.localeCompare(b.name)),
      vms: [...f.vms].sort((a, b) => a.name.localeCompare(b.name)),
    });
    const roots: InventoryFolder[] = [];
    for (const dc of contents.filter((x) => x.obj.type === 'Datacenter')) {
      const vmFolder = toMoRef(dc.props.get('vmFolder'));
      const f = vmFolder ? folders.get(vmFolder.value) : undefined;
      if (f) roots.push({ ...strip(f), name: text(dc.props.get('name')) ?? f.name });
    }
    return roots.sort((a, b) => a.name.localeCompare(b.name));
  }

  // ---------- privileges ----------

  async hasPrivilegeOnEntities(
    entities: MoRef[],
    sessionKey: string,
    privIds: string[],
  ): Promise<Map<string, Record<string, boolean>>> {
    const r = await this.invoke(
      'HasPrivilegeOnEntities',
      this.ref('authorizationManager'),
      entities.map((e) => moRefXml('entity', e)).join('') + el('sessionId', sessionKey) + els('privId', privIds),
    );
    const out = new Map<string, Record<string, boolean>>();
    for (const e of entities) out.set(e.value, Object.fromEntries(privIds.map((p) => [p, false])));
    for (const ep of arr(r)) {
      const entity = toMoRef(child(ep, 'entity'));
      if (!entity) continue;
      const rec = out.get(entity.value) ?? {};
      for (const pa of arr(child(ep, 'privAvailability'))) {
        const id = str(pa, 'privId');
        if (id) rec[id] = bool(pa, 'isGranted') ?? false;
      }
      out.set(entity.value, rec);
    }
    return out;
  }

  async fetchUserPrivilegeOnEntities(entities: MoRef[], userName: string): Promise<Map<string, string[]>> {
    const r = await this.invoke(
      'FetchUserPrivilegeOnEntities',
      this.ref('authorizationManager'),
      entities.map((e) => moRefXml('entities', e)).join('') + el('userName', userName),
    );
    const out = new Map<string, string[]>();
    for (const e of entities) out.set(e.value, []);
    for (const up of arr(r)) {
      const entity = toMoRef(child(up, 'entity'));
      if (!entity) continue;
      out.set(
        entity.value,
        arr(child(up, 'privileges'))
          .map((p) => text(p) ?? '')
          .filter((p) => p !== ''),
      );
    }
    return out;
  }

  // ---------- tasks, snapshots, export leases ----------

  /** Polls a Task until it succeeds (returns info.result, a MoRef when the result is one) or fails (throws VimFault). */
  async waitForTask(task: MoRef, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
    let delay = 100;
    for (;;) {
      const [c] = await this.retrieveObjects([task], 'Task', ['info.state', 'info.error', 'info.result']);
      const state = text(c?.props.get('info.state'));
      if (state === 'success') {
        const result = c?.props.get('info.result');
        return xsiType(result) === 'ManagedObjectReference' ? toMoRef(result) : result;
      }
      if (state === 'error') throw faultFromLocalized(c?.props.get('info.error'));
      if (Date.now() > deadline) {
        throw new Error(`vCenter task ${task.value} did not finish within ${Math.round((opts.timeoutMs ?? 1_800_000) / 1000)} s`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }

  async exportVm(vmId: string): Promise<MoRef> {
    const lease = toMoRef(await this.invoke('ExportVm', { type: 'VirtualMachine', value: checkId('virtual machine', vmId) }));
    if (!lease) throw new Error(`vCenter did not return an export lease for ${vmId}`);
    return lease;
  }

  async createSnapshot(vmId: string, name: string, description?: string): Promise<MoRef> {
    const task = toMoRef(
      await this.invoke(
        'CreateSnapshot_Task',
        { type: 'VirtualMachine', value: checkId('virtual machine', vmId) },
        el('name', name) + el('description', description) + el('memory', false) + el('quiesce', false),
      ),
    );
    if (!task) throw new Error(`vCenter did not return a snapshot task for ${vmId}`);
    const snapshot = await this.waitForTask(task);
    if (!snapshot || typeof snapshot !== 'object' || !('type' in snapshot)) {
      throw new Error(`vCenter snapshot task ${task.value} finished without a snapshot reference`);
    }
    return snapshot as MoRef;
  }

  async exportSnapshot(snapshot: MoRef): Promise<MoRef> {
    const lease = toMoRef(await this.invoke('ExportSnapshot', snapshot));
    if (!lease) throw new Error(`vCenter did not return an export lease for snapshot ${snapshot.value}`);
    return lease;
  }

  async removeSnapshot(snapshot: MoRef): Promise<void> {
    const task = toMoRef(
      await this.invoke('RemoveSnapshot_Task', snapshot, el('removeChildren', false) + el('consolidate', true)),
    );
    if (task) await this.waitForTask(task);
  }

  /** Waits until the lease is ready and returns its info; an `error` lease throws its fault as VimFault. */
  async waitForLease(lease: MoRef, opts: { timeoutMs?: number } = {}): Promise<HttpNfcLeaseInfo> {
    const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
    const deadline = Date.now() + timeoutMs;
    let delay = 100;
    for (;;) {
      const [c] = await this.retrieveObjects([lease], 'HttpNfcLease', ['state', 'error', 'info']);
      const state = text(c?.props.get('state'));
      if (state === 'ready') return parseLeaseInfo(c?.props.get('info'));
      if (state === 'error') throw faultFromLocalized(c?.props.get('error'));
      if (state === 'done') throw new VimFault('InvalidState', `The export lease ${lease.value} is already complete`);
      if (Date.now() > deadline) {
        throw new Error(`vCenter export lease ${lease.value} was not ready within ${Math.round(timeoutMs / 1000)} s (state ${state ?? 'unknown'})`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }

  /** The lease's state, with its fault when the state is `error` (undefined state: the lease is gone). */
  async leaseState(lease: MoRef): Promise<{ state?: string; error?: VimFault }> {
    const [c] = await this.retrieveObjects([lease], 'HttpNfcLease', ['state', 'error']);
    const state = text(c?.props.get('state'));
    const error = c?.props.get('error');
    return { ...(state ? { state } : {}), ...(state === 'error' && error !== undefined ? { error: faultFromLocalized(error) } : {}) };
  }

  async leaseProgress(lease: MoRef, percent: number): Promise<void> {
    const p = Math.max(0, Math.min(100, Math.round(Number.isFinite(percent) ? percent : 0)));
    await this.invoke('HttpNfcLeaseProgress', lease, el('percent', p));
  }

  async leaseComplete(lease: MoRef): Promise<void> {
    await this.invoke('HttpNfcLeaseComplete', lease);
  }

  async leaseAbort(lease: MoRef, message?: string): Promise<void> {
    const fault = message
      ? wrap('fault', wrap('fault', el('reason', message), 'SystemError') + el('localizedMessage', message))
      : '';
    await this.invoke('HttpNfcLeaseAbort', lease, fault);
  }

  /** OvfManager.CreateDescriptor for a VM; returns the OVF XML. */
  async createDescriptor(
    vmId: string,
    params: { name: string; ovfFiles?: { deviceId: string; path: string; size: number }[] },
  ): Promise<string> {
    const files = (params.ovfFiles ?? [])
      .map((f) => wrap('ovfFiles', el('deviceId', f.deviceId) + el('path', f.path) + el('size', Math.trunc(f.size))))
      .join('');
    const r = await this.invoke(
      'CreateDescriptor',
      this.ref('ovfManager'),
      moRefXml('obj', { type: 'VirtualMachine', value: checkId('virtual machine', vmId) }) +
        wrap('cdp', files + el('name', params.name)),
    );
    const errors = arr(child(r, 'error'));
    if (errors[0] !== undefined) throw faultFromLocalized(errors[0]);
    const ovf = str(r, 'ovfDescriptor');
    if (!ovf) throw new Error(`vCenter returned an empty OVF descriptor for ${vmId}`);
    return ovf;
  }

  // ---------- extensions ----------

  async registerExtension(ext: ExtensionSpec): Promise<void> {
    await this.invoke('RegisterExtension', this.ref('extensionManager'), extensionXml(ext));
  }

  async updateExtension(ext: ExtensionSpec): Promise<void> {
    await this.invoke('UpdateExtension', this.ref('extensionManager'), extensionXml(ext));
  }

  async findExtension(key: string): Promise<ExtensionSpec | null> {
    const r = await this.invoke('FindExtension', this.ref('extensionManager'), el('extensionKey', key));
    return isObj(r) && str(r, 'key') ? parseExtension(r) : null;
  }

  async unregisterExtension(key: string): Promise<void> {
    await this.invoke('UnregisterExtension', this.ref('extensionManager'), el('extensionKey', key));
  }
}
