// Datastore byte-range reads (/folder) of frozen disks on the lab vCenter (lab/vcsim), directly and through the
// vSphere Client stand-in, and the lab's disk writes, through plain HTTPS and the connector's own vim25 client, as the
// warm migration path uses them. Changed Block Tracking: vcsim-cbt.test.ts. The lab: test/support/cbt-lab.ts.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startVsphereClient } from '../../lab/vsphere-client/index.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { el } from '../../connector/vsphere/soap.ts';
import { decodeStreamOptimizedVmdk } from '../support/vmdk.ts';
import { expectedRawGrain, expectedRawSha256, GRAIN_BYTES } from '../support/lab-disk-content.ts';
import { ADMIN, client, COLD, coldVm, disksOf, folderGet, MiB, READONLY, SMALL, smallKey, snapshotDisk, task, useCbtLab, vc, vm } from '../support/cbt-lab.ts';

/** Grain g after a lab write with seed w: for j = 0..2047 SHA-256("vcsim-write-<w>-<g>-<j>") (inventory.json "diskContent"). */
function writtenGrain(w: number, g: number): Buffer {
  const b = Buffer.alloc(GRAIN_BYTES);
  for (let j = 0; j < 2048; j++) createHash('sha256').update(`vcsim-write-${w}-${g}-${j}`, 'ascii').digest().copy(b, j * 32);
  return b;
}

useCbtLab();

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
