// The connector's vim25 client against the lab vCenter (lab/vcsim): inventory, NFC export of generated
// stream-optimized disks, snapshots and OVF descriptors. Sessions, privileges, extensions and TLS trust:
// vcsim-sessions.test.ts. The lab and the shared helpers: test/support/vim25-lab.ts.
import { describe, expect, it } from 'vitest';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { decodeStreamOptimizedVmdk } from '../support/vmdk.ts';
import { expectedRawGrain, expectedRawSha256, GRAIN_BYTES } from '../support/lab-disk-content.ts';
import { admin, expectFault, inventory, invVm, MiB, operator, rejection, useVim25Lab, vc, vmId, vmsByName } from '../support/vim25-lab.ts';

useVim25Lab();

describe('inventory', () => {
  it('lists exactly the inventory VMs with guest, power state, CPU, memory and disk capacities in bytes', async () => {
    const vms = await admin.listVirtualMachines();
    expect(vms.map((v) => v.name).sort()).toEqual(inventory.vms.map((v) => v.name).sort());
    const folders = new Map((await admin.vmFolderTree()).flatMap((dc) => dc.children.map((f) => [f.id, f.name] as const)));
    for (const v of vms) {
      const want = invVm(v.name);
      expect(v).toMatchObject({
        guestId: want.guestId,
        guestFullName: want.guestFullName,
        powerState: want.powerState,
        numCpu: want.numCpu,
        memoryMB: want.memoryMB,
        snapshotCount: 0,
      });
      expect(v.id).toMatch(/^vm-\d+$/);
      expect(v.disks.map((d) => d.capacityBytes)).toEqual(want.disks.map((d) => d.capacityMiB * MiB));
      for (const d of v.disks) {
        expect(d.backingType).toMatch(/^VirtualDisk.*BackingInfo$/);
        expect(d.label).not.toBe('');
      }
      expect(v.nics.length).toBeGreaterThanOrEqual(1);
      expect(v.folderId && folders.get(v.folderId)).toBe(want.folder);
      expect(v.hostName).toBeTruthy();
    }
  });

  it('reads one VM by id and reports ManagedObjectNotFound for an unknown id', async () => {
    const listed = vmsByName.get('app-multidisk-01');
    const one = await admin.getVirtualMachine(vmId('app-multidisk-01'));
    expect(one).toEqual(listed);
    expect(one.disks).toHaveLength(3);
    await expectFault(admin.getVirtualMachine('vm-999999'), 'ManagedObjectNotFound');
  });

  it('builds the VMs and Templates tree with the Production and Migration folders', async () => {
    const tree = await admin.vmFolderTree();
    expect(tree.map((t) => t.name)).toEqual([inventory.datacenter]);
    const dc = tree[0]!;
    expect(dc.children.map((f) => f.name)).toEqual([...inventory.folders].sort());
    for (const folder of dc.children) {
      const want = inventory.vms.filter((v) => v.folder === folder.name);
      expect(folder.vms.map((v) => v.name)).toEqual(want.map((v) => v.name).sort());
      for (const v of folder.vms) {
        expect(v.id).toBe(vmId(v.name));
        expect(v.powerState).toBe(invVm(v.name).powerState);
        expect(v.guestFullName).toBe(invVm(v.name).guestFullName);
      }
    }
  });
});

describe('export', () => {
  it('exports ubuntu-web-01 (1 GiB): valid stream-optimized VMDK whose raw content is the lab pattern; 404 after complete', async () => {
    const want = invVm('ubuntu-web-01');
    const lease = await operator.exportVm(vmId('ubuntu-web-01'));
    expect(lease.type).toBe('HttpNfcLease');
    const info = await operator.waitForLease(lease);
    expect(info.totalDiskCapacityInKB).toBe(want.disks[0]!.capacityMiB * 1024);
    expect(info.leaseTimeout).toBeGreaterThan(0);
    const disks = info.deviceUrl.filter((d) => d.disk);
    expect(disks).toHaveLength(1);
    const disk = disks[0]!;
    expect(disk.sslThumbprint).toBe(vc.thumbprintSha1);
    expect(new URL(disk.url).protocol).toBe('https:');

    const { stream, contentLength } = await openNfcDownload(disk.url, {
      thumbprint: disk.sslThumbprint!,
      cookie: operator.sessionCookie!,
    });
    await operator.leaseProgress(lease, 10);
    const report = await decodeStreamOptimizedVmdk(stream, { hashRaw: true });
    expect(report.createType).toBe('streamOptimized');
    expect(report.capacityBytes).toBe(want.disks[0]!.capacityMiB * MiB);
    expect(report.grainBytes).toBe(GRAIN_BYTES);
    expect(report.grains).toBe(report.capacityBytes / GRAIN_BYTES);
    expect(report.streamBytes).toBe(disk.fileSize);
    expect(contentLength).toBe(disk.fileSize);
    expect(report.rawSha256).toBe(expectedRawSha256(want.disks[0]!.seed, report.capacityBytes));

    await operator.leaseProgress(lease, 100);
    await operator.leaseComplete(lease);
    const gone = await rejection(openNfcDownload(disk.url, { thumbprint: disk.sslThumbprint! }));
    expect(gone.message).toMatch(/HTTP 404/);
    expect(gone.message).not.toContain(new URL(disk.url).pathname);
  });

  it('decodes the 64 MiB disk of bsd-firewall-01 byte for byte; 404 after abort', async () => {
    const want = invVm('bsd-firewall-01');
    const lease = await admin.exportVm(vmId('bsd-firewall-01'));
    const info = await admin.waitForLease(lease, { timeoutMs: 30_000 });
    const disk = info.deviceUrl.find((d) => d.disk)!;
    const { stream } = await openNfcDownload(disk.url, { thumbprint: disk.sslThumbprint!, cookie: admin.sessionCookie! });
    const raw = Buffer.alloc(want.disks[0]!.capacityMiB * MiB);
    let filled = 0;
    const report = await decodeStreamOptimizedVmdk(stream, {
      onRaw: (chunk, offset) => {
        expect(offset).toBe(filled);
        chunk.copy(raw, offset);
        filled += chunk.length;
      },
    });
    expect(filled).toBe(raw.length);
    expect(report.grainTables).toBe(Math.ceil(raw.length / GRAIN_BYTES / 512));
    const expected = Buffer.concat(
      Array.from({ length: raw.length / GRAIN_BYTES }, (_, g) => expectedRawGrain(want.disks[0]!.seed, g)),
    );
    expect(raw.equals(expected)).toBe(true);

    await admin.leaseAbort(lease, 'integration test abort');
    const gone = await rejection(openNfcDownload(disk.url, { thumbprint: disk.sslThumbprint! }));
    expect(gone.message).toMatch(/HTTP 404/);
  });

  it('lists one disk URL per disk of a multi-disk VM and describes them in an OVF descriptor', async () => {
    const want = invVm('app-multidisk-01');
    const lease = await operator.exportVm(vmId('app-multidisk-01'));
    try {
      const info = await operator.waitForLease(lease);
      const disks = info.deviceUrl.filter((d) => d.disk);
      expect(disks).toHaveLength(want.disks.length);
      expect(new Set(disks.map((d) => d.url)).size).toBe(want.disks.length);
      expect(new Set(disks.map((d) => d.key)).size).toBe(want.disks.length);
      expect(info.totalDiskCapacityInKB).toBe(want.disks.reduce((s, d) => s + d.capacityMiB * 1024, 0));

      // As after a real export: one OVF file per downloaded disk, keyed by the lease device key.
      const files = disks.map((d, i) => ({ deviceId: d.key, path: `app-multidisk-01-disk${i + 1}.vmdk`, size: d.fileSize ?? 0 }));
      const ovf = await operator.createDescriptor(vmId('app-multidisk-01'), { name: 'app-multidisk-01 & co', ovfFiles: files });
      expect(ovf).toMatch(/<(\w+:)?Envelope[\s>]/);
      for (const f of files) expect(ovf).toContain(`"${f.path}"`);
      expect(ovf.match(/<(\w+:)?Disk\s/g)).toHaveLength(want.disks.length);
      for (const d of want.disks) expect(ovf).toContain(`"${d.capacityMiB * MiB}"`);
      expect(ovf).toContain(want.guestId);
      expect(ovf).toContain('app-multidisk-01 &amp; co');
    } finally {
      await operator.leaseAbort(lease);
    }
  });

  it('lets the operator export a Migration VM', async () => {
    const lease = await operator.exportVm(vmId('bsd-firewall-01'));
    const info = await operator.waitForLease(lease);
    expect(info.deviceUrl.filter((d) => d.disk)).toHaveLength(1);
    await operator.leaseAbort(lease);
  });

  it('exports a powered-on VM through a snapshot: InvalidPowerState, snapshot, lease, download, remove', async () => {
    const want = invVm('rhel-db-01');
    expect(want.powerState).toBe('poweredOn');
    const id = vmId('rhel-db-01');
    const e = await expectFault(operator.exportVm(id), 'InvalidPowerState');
    expect(e.faultString).not.toBe('');

    const snapshot = await operator.createSnapshot(id, 'ec2-migration <test> & "quotes"', 'created by the vim25 integration test');
    expect(snapshot.type).toBe('VirtualMachineSnapshot');
    expect((await operator.getVirtualMachine(id)).snapshotCount).toBe(1);
    try {
      const lease = await operator.exportSnapshot(snapshot);
      const info = await operator.waitForLease(lease);
      const disk = info.deviceUrl.find((d) => d.disk)!;
      const { stream } = await openNfcDownload(disk.url, { thumbprint: disk.sslThumbprint!, cookie: operator.sessionCookie! });
      const report = await decodeStreamOptimizedVmdk(stream, { hashRaw: true });
      expect(report.capacityBytes).toBe(want.disks[0]!.capacityMiB * MiB);
      expect(report.rawSha256).toBe(expectedRawSha256(want.disks[0]!.seed, report.capacityBytes));
      await operator.leaseComplete(lease);
    } finally {
      await operator.removeSnapshot(snapshot);
    }
    expect((await operator.getVirtualMachine(id)).snapshotCount).toBe(0);
  });
});
