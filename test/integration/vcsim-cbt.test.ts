// Changed Block Tracking, lab disk writes and datastore byte-range reads on the lab vCenter (lab/vcsim),
// through the connector's own vim25 client and plain HTTPS, as the warm migration path uses them.
import { createHash } from 'node:crypto';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { startVsphereClient } from '../../lab/vsphere-client/index.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { Vim25Client, VimFault, type MoRef } from '../../connector/vsphere/vim25.ts';
import { arr, child, el, moRefXml, num, str, text, xsiType, type XmlValue } from '../../connector/vsphere/soap.ts';
import { decodeStreamOptimizedVmdk, expectedRawGrain, expectedRawSha256, GRAIN_BYTES } from '../support/vmdk.ts';

interface Inventory {
  datacenter: string;
  users: { name: string; password: string }[];
}
const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
const user = (prefix: string) => inventory.users.find((u) => u.name.startsWith(prefix))!;
const ADMIN = user('administrator@');
const READONLY = user('readonly@');
const OPERATOR = user('operator@');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// A running VM with a disk bigger than one QueryChangedDiskAreas page (1 GiB) and a small one, and a VM to export.
const BIG = { capacityMiB: 1280, seed: 3 };
const SMALL = { capacityMiB: 64, seed: 5 };
const COLD = { capacityMiB: 32, seed: 6 };

let vc: VcsimHandle;
let client: Vim25Client;
let vm: MoRef;
let coldVm: MoRef;
let bigKey: number;
let smallKey: number;

/** Grain g after a lab write with seed w: for j = 0..2047 SHA-256("vcsim-write-<w>-<g>-<j>") (inventory.json "diskContent"). */
function writtenGrain(w: number, g: number): Buffer {
  const b = Buffer.alloc(GRAIN_BYTES);
  for (let j = 0; j < 2048; j++) createHash('sha256').update(`vcsim-write-${w}-${g}-${j}`, 'ascii').digest().copy(b, j * 32);
  return b;
}

interface Disk {
  key: number;
  fileName: string;
  changeId?: string;
}

/** The VirtualDisk devices of a VM or snapshot `config.hardware.device`. */
async function disksOf(obj: MoRef): Promise<Disk[]> {
  const r = await client.invoke(
    'RetrievePropertiesEx',
    { type: 'PropertyCollector', value: 'propertyCollector' },
    `<specSet><propSet><type>${obj.type}</type><all>false</all><pathSet>config.hardware.device</pathSet></propSet>` +
      `<objectSet>${moRefXml('obj', obj)}<skip>false</skip></objectSet></specSet><options></options>`,
  );
  const val = child(child(child(r, 'objects'), 'propSet'), 'val');
  return arr(child(val, 'VirtualDevice'))
    .filter((d) => xsiType(d) === 'VirtualDisk')
    .map((d) => ({ key: num(d, 'key')!, fileName: str(child(d, 'backing'), 'fileName')!, changeId: str(child(d, 'backing'), 'changeId') }));
}

async function task(method: string, obj: MoRef, body = ''): Promise<unknown> {
  const t = await client.invoke(method, obj, body);
  return client.waitForTask({ type: 'Task', value: text(t)! });
}

async function snapshotDisk(name: string, key: number): Promise<{ snap: MoRef; disk: Disk }> {
  const snap = await client.createSnapshot(vm.value, name);
  const disk = (await disksOf(snap)).find((d) => d.key === key)!;
  return { snap, disk };
}

interface Extent {
  start: number;
  length: number;
}

/** One QueryChangedDiskAreas call. */
async function changedAreas(snap: MoRef, key: number, startOffset: number, changeId: string): Promise<{ startOffset: number; length: number; areas: Extent[] }> {
  const r: XmlValue = await client.invoke('QueryChangedDiskAreas', vm, moRefXml('snapshot', snap) + el('deviceKey', key) + el('startOffset', startOffset) + el('changeId', changeId));
  return {
    startOffset: num(r, 'startOffset')!,
    length: num(r, 'length')!,
    areas: arr(child(r, 'changedArea')).map((a) => ({ start: num(a, 'start')!, length: num(a, 'length')! })),
  };
}

/** Every changed area, looping on startOffset + length as callers of vCenter must. */
async function allChangedAreas(snap: MoRef, key: number, capacity: number, changeId: string): Promise<{ calls: number; areas: Extent[] }> {
  const areas: Extent[] = [];
  let calls = 0;
  for (let off = 0; off < capacity; ) {
    const page = await changedAreas(snap, key, off, changeId);
    calls += 1;
    expect(page.startOffset).toBe(off);
    expect(page.length).toBeGreaterThan(0);
    areas.push(...page.areas);
    off = page.startOffset + page.length;
  }
  return { calls, areas };
}

/** GET /folder/<dir>/<name>-flat.vmdk for a disk's "[ds] dir/name.vmdk", optionally a byte range (cookie: `name=value`). */
function folderGet(
  fileName: string,
  opts: { range?: [number, number]; cookie?: string | null; origin?: string; ca?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; sha256: string }> {
  const m = /^\[([^\]]+)\] (.+)\.vmdk$/.exec(fileName);
  if (!m) throw new Error(`not a datastore path: ${fileName}`);
  const url = new URL(`/folder/${m[2]}-flat.vmdk`, opts.origin ?? vc.origin);
  url.searchParams.set('dcPath', inventory.datacenter);
  url.searchParams.set('dsName', m[1]!);
  const cookie = opts.cookie === undefined ? client.sessionCookie : opts.cookie;
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: opts.ca ?? vc.certPem,
        agent: false,
        headers: { ...(cookie ? { cookie } : {}), ...(opts.range ? { range: `bytes=${opts.range[0]}-${opts.range[1]}` } : {}) },
      },
      (res) => {
        const h = createHash('sha256');
        const parts: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          h.update(c);
          if (kept < 8 * MiB) {
            parts.push(c);
            kept += c.length;
          }
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), sha256: h.digest('hex') }));
      },
    );
    req.on('error', reject);
  });
}

async function fault(p: Promise<unknown>): Promise<VimFault> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VimFault) return err;
    throw err;
  }
  throw new Error('expected a vSphere fault');
}

beforeAll(async () => {
  vc = await startVcsim({
    vms: [
      { name: 'cbt-db-01', powerState: 'poweredOn', disks: [BIG, SMALL] },
      { name: 'cbt-cold-01', powerState: 'poweredOn', disks: [COLD] },
    ],
  });
  client = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  await client.login(ADMIN.name, ADMIN.password);
  const vms = await client.listVirtualMachines();
  vm = { type: 'VirtualMachine', value: vms.find((v) => v.name === 'cbt-db-01')!.id };
  coldVm = { type: 'VirtualMachine', value: vms.find((v) => v.name === 'cbt-cold-01')!.id };
  const disks = await disksOf(vm);
  bigKey = disks[0]!.key;
  smallKey = disks[1]!.key;
}, 120_000);

afterAll(async () => {
  if (client) {
    await client.logout().catch(() => undefined);
    client.close();
  }
  await vc?.stop();
});

describe('Changed Block Tracking', () => {
  let snap1: MoRef;
  let changeId1: string;

  it('ReconfigVM_Task enables it, and a snapshot then carries a changeId per disk naming the base disk', async () => {
    const before = await snapshotDisk('before-cbt', bigKey);
    expect(before.disk.changeId ?? '').toBe(''); // off: no changeId
    await task('RemoveSnapshot_Task', before.snap, el('removeChildren', false) + el('consolidate', true));

    await task('ReconfigVM_Task', vm, '<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>');
    const r = await client.invoke(
      'RetrievePropertiesEx',
      { type: 'PropertyCollector', value: 'propertyCollector' },
      `<specSet><propSet><type>VirtualMachine</type><all>false</all><pathSet>config.changeTrackingEnabled</pathSet></propSet><objectSet>${moRefXml('obj', vm)}<skip>false</skip></objectSet></specSet><options></options>`,
    );
    expect(text(child(child(child(r, 'objects'), 'propSet'), 'val'))).toBe('true');

    const s = await snapshotDisk('cycle-1', bigKey);
    snap1 = s.snap;
    expect(s.disk.fileName).toMatch(/^\[LocalDS_0\] cbt-db-01\/cbt-db-01\.vmdk$/);
    expect(s.disk.changeId).toMatch(/^52( [0-9a-f]{2}){7}-[0-9a-f]{2}( [0-9a-f]{2}){7}\/\d+$/);
    changeId1 = s.disk.changeId!;
    // The snapshot has its own copy of the devices: the VM's live disk did not take the changeId.
    expect((await disksOf(vm)).find((d) => d.key === bigKey)!.changeId ?? '').toBe('');
  });

  it('"*" reports the whole (fully allocated) disk, one page of at most 1 GiB per call', async () => {
    const capacity = BIG.capacityMiB * MiB;
    const first = await changedAreas(snap1, bigKey, 0, '*');
    expect(first).toEqual({ startOffset: 0, length: GiB, areas: [{ start: 0, length: GiB }] });
    const all = await allChangedAreas(snap1, bigKey, capacity, '*');
    expect(all.calls).toBe(2);
    expect(all.areas).toEqual([
      { start: 0, length: GiB },
      { start: GiB, length: capacity - GiB },
    ]);
  });

  it('reports exactly the grains written between two snapshots, merged into runs, across pages', async () => {
    // grains 3..5 and 4 again (one run), grain 100, the two grains straddling the 1 GiB page boundary
    await vc.writeDisk(vm.value, bigKey, { offset: 3 * GRAIN_BYTES, length: 3 * GRAIN_BYTES, seed: 11 });
    await vc.writeDisk(vm.value, bigKey, { offset: 4 * GRAIN_BYTES, length: GRAIN_BYTES, seed: 12 });
    await vc.writeDisk(vm.value, bigKey, { offset: 100 * GRAIN_BYTES, length: GRAIN_BYTES, seed: 13 });
    await vc.writeDisk(vm.value, bigKey, { offset: GiB - GRAIN_BYTES, length: 2 * GRAIN_BYTES, seed: 14 });
    const { snap: snap2, disk } = await snapshotDisk('cycle-2', bigKey);
    try {
      const { calls, areas } = await allChangedAreas(snap2, bigKey, BIG.capacityMiB * MiB, changeId1);
      expect(calls).toBe(2);
      expect(areas).toEqual([
        { start: 3 * GRAIN_BYTES, length: 3 * GRAIN_BYTES },
        { start: 100 * GRAIN_BYTES, length: GRAIN_BYTES },
        { start: GiB - GRAIN_BYTES, length: GRAIN_BYTES }, // clipped to the first page
        { start: GiB, length: GRAIN_BYTES },
      ]);
      // Nothing changed between a snapshot and itself; the next cycle starts from snapshot 2's changeId.
      expect((await allChangedAreas(snap2, bigKey, BIG.capacityMiB * MiB, disk.changeId!)).areas).toEqual([]);
      // Other disk untouched.
      const small1 = (await disksOf(snap1)).find((d) => d.key === smallKey)!.changeId!;
      expect((await changedAreas(snap2, smallKey, 0, small1)).areas).toEqual([]);
    } finally {
      await task('RemoveSnapshot_Task', snap2, el('removeChildren', false) + el('consolidate', true));
    }
  });

  it('refuses a changeId it never issued and one of a later snapshot with FileFault', async () => {
    const bogus = await fault(changedAreas(snap1, bigKey, 0, '52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/1'));
    expect(bogus.faultType).toBe('FileFault');
    expect(bogus.message).toMatch(/changeId .* is not valid/);
    const [id] = changeId1.split('/');
    expect((await fault(changedAreas(snap1, bigKey, 0, `${id}/999`))).faultType).toBe('FileFault');
    expect((await fault(changedAreas(snap1, 4242, 0, '*'))).faultType).toBe('InvalidArgument');
  });

  it('after a CBT reset the old changeIds are refused and a new snapshot starts a new identity', async () => {
    await vc.resetChangeTracking(vm.value);
    const { snap, disk } = await snapshotDisk('after-reset', bigKey);
    try {
      const f = await fault(changedAreas(snap, bigKey, 0, changeId1));
      expect(f.faultType).toBe('FileFault');
      expect(disk.changeId!.split('/')[0]).not.toBe(changeId1.split('/')[0]);
      expect((await changedAreas(snap, bigKey, 0, '*')).areas).toEqual([{ start: 0, length: GiB }]);
      // Disabling and enabling CBT resets it too.
      await task('ReconfigVM_Task', vm, '<spec><changeTrackingEnabled>false</changeTrackingEnabled></spec>');
      expect((await fault(changedAreas(snap, bigKey, 0, disk.changeId!))).faultType).toBe('FileFault');
      await task('ReconfigVM_Task', vm, '<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>');
      expect((await fault(changedAreas(snap, bigKey, 0, disk.changeId!))).faultType).toBe('FileFault');
    } finally {
      await task('RemoveSnapshot_Task', snap, el('removeChildren', false) + el('consolidate', true));
      await task('RemoveSnapshot_Task', snap1, el('removeChildren', false) + el('consolidate', true));
    }
  });
});

describe('datastore file access (/folder) to the frozen disk', () => {
  it('serves the disk as of the snapshot: a Range read of written grains, a write after the snapshot invisible', async () => {
    await vc.writeDisk(vm.value, smallKey, { offset: 2 * GRAIN_BYTES, length: 2 * GRAIN_BYTES, seed: 21 });
    const { snap, disk } = await snapshotDisk('read', smallKey);
    try {
      await vc.writeDisk(vm.value, smallKey, { offset: 3 * GRAIN_BYTES, length: GRAIN_BYTES, seed: 22 }); // after the snapshot
      const live = await vc.diskSha256(vm.value, smallKey);
      const frozen = await vc.diskSha256(vm.value, smallKey, { snapshot: snap.value });
      expect(frozen).not.toBe(live);

      const readBefore = await vc.folderReadBytes();
      const r = await folderGet(disk.fileName, { range: [GRAIN_BYTES, 4 * GRAIN_BYTES - 1] });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${GRAIN_BYTES}-${4 * GRAIN_BYTES - 1}/${SMALL.capacityMiB * MiB}`);
      expect(r.body.equals(Buffer.concat([expectedRawGrain(SMALL.seed, 1), writtenGrain(21, 2), writtenGrain(21, 3)]))).toBe(true);
      expect((await vc.folderReadBytes()) - readBefore).toBe(3 * GRAIN_BYTES);

      // An unaligned range inside a written grain.
      const part = await folderGet(disk.fileName, { range: [2 * GRAIN_BYTES + 100, 2 * GRAIN_BYTES + 199] });
      expect(part.status).toBe(206);
      expect(part.body.equals(writtenGrain(21, 2).subarray(100, 200))).toBe(true);

      const full = await folderGet(disk.fileName);
      expect(full.status).toBe(200);
      expect(full.sha256).toBe(frozen);
      expect(full.headers['content-length']).toBe(String(SMALL.capacityMiB * MiB));

      const beyond = await folderGet(disk.fileName, { range: [SMALL.capacityMiB * MiB, SMALL.capacityMiB * MiB + 10] });
      expect(beyond.status).toBe(416);
    } finally {
      await task('RemoveSnapshot_Task', snap, el('removeChildren', false) + el('consolidate', true));
    }
    // Without a snapshot the base disk is live.
    expect((await folderGet((await disksOf(vm)).find((d) => d.key === smallKey)!.fileName)).sha256).toBe(await vc.diskSha256(vm.value, smallKey));
  });

  it('keeps the base disk as of the oldest snapshot while several exist (later writes go to delta disks)', async () => {
    const { snap: a, disk } = await snapshotDisk('user-snapshot', smallKey);
    await vc.writeDisk(vm.value, smallKey, { offset: 0, length: GRAIN_BYTES, seed: 31 });
    const { snap: b } = await snapshotDisk('cycle', smallKey);
    try {
      const asOfA = await vc.diskSha256(vm.value, smallKey, { snapshot: a.value });
      expect(await vc.diskSha256(vm.value, smallKey, { snapshot: b.value })).not.toBe(asOfA);
      expect((await folderGet(disk.fileName)).sha256).toBe(asOfA);
      await task('RemoveSnapshot_Task', a, el('removeChildren', false) + el('consolidate', true));
      expect((await folderGet(disk.fileName)).sha256).toBe(await vc.diskSha256(vm.value, smallKey, { snapshot: b.value }));
    } finally {
      await task('RemoveSnapshot_Task', b, el('removeChildren', false) + el('consolidate', true));
    }
  });

  it('answers 401 without a session, 403 without Datastore.Browse, 404 for an unknown datastore', async () => {
    const { fileName } = (await disksOf(vm))[0]!;
    const anon = await folderGet(fileName, { cookie: null, range: [0, 9] });
    expect(anon.status).toBe(401);
    expect(anon.body.toString()).toMatch(/vmware_soap_session/);
    expect((await folderGet(fileName, { cookie: 'vmware_soap_session=not-a-session', range: [0, 9] })).status).toBe(401);

    const ro = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    try {
      await ro.login(READONLY.name, READONLY.password);
      const denied = await folderGet(fileName, { cookie: ro.sessionCookie!, range: [0, 9] });
      expect(denied.status).toBe(403);
      expect(denied.body.toString()).toContain('Datastore.Browse');
    } finally {
      await ro.logout().catch(() => undefined);
      ro.close();
    }
    expect((await folderGet(fileName.replace('LocalDS_0', 'NoSuchDS'), { range: [0, 9] })).status).toBe(404);
  });
});

describe('through the vSphere Client stand-in (the lab\'s vCenter front door)', () => {
  it('forwards /folder with the session cookie exactly as /sdk, Range and 401 included', async () => {
    const front = await startVsphereClient({ vcenter: { sdkUrl: vc.sdkUrl, certPem: vc.certPem, instanceUuid: vc.instanceUuid }, plugins: [] });
    const viaFront = await Vim25Client.connect({ sdkUrl: `${front.origin}/sdk`, ca: front.certPem });
    try {
      await viaFront.login(ADMIN.name, ADMIN.password);
      const { fileName } = (await disksOf(vm)).find((d) => d.key === smallKey)!;
      const range: [number, number] = [GRAIN_BYTES - 10, GRAIN_BYTES + 9];
      const through = await folderGet(fileName, { origin: front.origin, ca: front.certPem, cookie: viaFront.sessionCookie!, range });
      const direct = await folderGet(fileName, { range });
      expect(through.status).toBe(206);
      expect(through.headers['content-range']).toBe(direct.headers['content-range']);
      expect(through.body.equals(direct.body)).toBe(true);
      expect((await folderGet(fileName, { origin: front.origin, ca: front.certPem, cookie: null, range })).status).toBe(401);
    } finally {
      await viaFront.logout().catch(() => undefined);
      viaFront.close();
      await front.stop();
    }
  });
});

describe('lab disk writes', () => {
  it('refuses unaligned and out-of-range writes, and writes to a powered-off VM, saying what to fix', async () => {
    await expect(vc.writeDisk(vm.value, smallKey, { offset: 1000, length: GRAIN_BYTES, seed: 1 })).rejects.toThrow(/offset 1000 is not .*multiple of 65536.*use 0/);
    await expect(vc.writeDisk(vm.value, smallKey, { offset: 0, length: 100, seed: 1 })).rejects.toThrow(/length 100/);
    await expect(vc.writeDisk(vm.value, smallKey, { offset: SMALL.capacityMiB * MiB, length: GRAIN_BYTES, seed: 1 })).rejects.toThrow(/beyond the disk's capacity/);
    await expect(vc.writeDisk(vm.value, 4242, { offset: 0, length: GRAIN_BYTES, seed: 1 })).rejects.toThrow(/no virtual disk with device key 4242/);
  });

  it('ExportVm after writes serves the written content in the stream-optimized VMDK', async () => {
    const [disk] = await disksOf(coldVm);
    await vc.writeDisk(coldVm.value, disk!.key, { offset: 5 * GRAIN_BYTES, length: 2 * GRAIN_BYTES, seed: 41 });
    await task('PowerOffVM_Task', coldVm);
    await expect(vc.writeDisk(coldVm.value, disk!.key, { offset: 0, length: GRAIN_BYTES, seed: 1 })).rejects.toThrow(/powered ?Off.*power it on/i);

    const live = await vc.diskSha256(coldVm.value, disk!.key);
    expect(live).not.toBe(expectedRawSha256(COLD.seed, COLD.capacityMiB * MiB));
    const lease = await client.exportVm(coldVm.value);
    try {
      const url = (await client.waitForLease(lease)).deviceUrl.find((d) => d.disk)!;
      const { stream } = await openNfcDownload(url.url, { thumbprint: url.sslThumbprint!, cookie: client.sessionCookie! });
      const report = await decodeStreamOptimizedVmdk(Readable.from(stream), { hashRaw: true });
      expect(report.rawSha256).toBe(live);
      // The expected content, recomputed from the rule.
      const h = createHash('sha256');
      for (let g = 0; g < (COLD.capacityMiB * MiB) / GRAIN_BYTES; g++) h.update(g === 5 || g === 6 ? writtenGrain(41, g) : expectedRawGrain(COLD.seed, g));
      expect(report.rawSha256).toBe(h.digest('hex'));
      await client.leaseComplete(lease);
    } catch (err) {
      await client.leaseAbort(lease).catch(() => undefined);
      throw err;
    }
  });
});

describe('privileges', () => {
  it('QueryChangedDiskAreas needs VirtualMachine.Provisioning.DiskRandomRead; switching CBT needs VirtualMachine.Config.ChangeTracking', async () => {
    const ro = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    try {
      await ro.login(READONLY.name, READONLY.password);
      const snap = (await client.createSnapshot(vm.value, 'priv')) as MoRef;
      try {
        const q = await fault(ro.invoke('QueryChangedDiskAreas', vm, moRefXml('snapshot', snap) + el('deviceKey', bigKey) + el('startOffset', 0) + el('changeId', '*')));
        expect(q.faultType).toBe('NoPermission');
        expect(q.privilegeId).toBe('VirtualMachine.Provisioning.DiskRandomRead');
      } finally {
        await task('RemoveSnapshot_Task', snap, el('removeChildren', false) + el('consolidate', true));
      }
      const r = await fault(ro.invoke('ReconfigVM_Task', vm, '<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>'));
      expect(r.privilegeId).toBe('VirtualMachine.Config.ChangeTracking');
      const s = await fault(ro.invoke('ReconfigVM_Task', vm, '<spec><annotation>x</annotation><changeTrackingEnabled>true</changeTrackingEnabled></spec>'));
      expect(s.privilegeId).toBe('VirtualMachine.Config.Settings');
    } finally {
      await ro.logout().catch(() => undefined);
      ro.close();
    }
  });

  it('the lab operator holds what a warm migration of a VM in Migration needs (CBT, snapshots, changed areas, Datastore.Browse)', async () => {
    const op = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    try {
      await op.login(OPERATOR.name, OPERATOR.password);
      const t = await op.invoke('ReconfigVM_Task', vm, '<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>');
      await op.waitForTask({ type: 'Task', value: text(t)! });
      const snap = await op.createSnapshot(vm.value, 'operator-cycle');
      try {
        const r = await op.invoke('QueryChangedDiskAreas', vm, moRefXml('snapshot', snap) + el('deviceKey', smallKey) + el('startOffset', 0) + el('changeId', '*'));
        expect(num(r, 'length')).toBe(SMALL.capacityMiB * MiB);
        const { fileName } = (await disksOf(snap)).find((d) => d.key === smallKey)!;
        const read = await folderGet(fileName, { cookie: op.sessionCookie!, range: [0, GRAIN_BYTES - 1] });
        expect(read.status).toBe(206);
        expect(read.body.length).toBe(GRAIN_BYTES);
      } finally {
        await op.removeSnapshot(snap);
      }
    } finally {
      await op.logout().catch(() => undefined);
      op.close();
    }
  });
});


