// Changed Block Tracking on the lab vCenter (lab/vcsim), through the connector's own vim25 client, as the warm
// migration path uses it, and the privileges it needs. The /folder reads and lab disk writes: vcsim-datastore.test.ts.
// The lab and the shared calls: test/support/cbt-lab.ts.
import { describe, expect, it } from 'vitest';
import { Vim25Client, VimFault, type MoRef } from '../../connector/vsphere/vim25.ts';
import { arr, child, el, moRefXml, num, text, type XmlValue } from '../../connector/vsphere/soap.ts';
import { GRAIN_BYTES } from '../support/lab-disk-content.ts';
import { BIG, bigKey, client, disksOf, folderGet, MiB, OPERATOR, READONLY, SMALL, smallKey, snapshotDisk, task, useCbtLab, vc, vm } from '../support/cbt-lab.ts';

const GiB = 1024 * MiB;

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

async function fault(p: Promise<unknown>): Promise<VimFault> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VimFault) return err;
    throw err;
  }
  throw new Error('expected a vSphere fault');
}

useCbtLab();

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
