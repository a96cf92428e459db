// The import side of NFC on the lab vCenter, through our vim25 client: CreateImportSpec for the OVF the lab EC2's
// VM Export writes, ImportVApp (VApp.Import checked), a stream-optimized VMDK uploaded to the lease, and a new VM
// whose disk holds exactly what was uploaded; an aborted lease leaves no VM; bad uploads are refused with a reason.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { ovfDescriptor } from '../../lab/ec2/ova.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { createImportSpec, importVApp, uploadLeaseDisk, uploadTargets, type ImportSpec } from '../../connector/vsphere/import-lease.ts';
import { el } from '../../connector/vsphere/soap.ts';
import { decodeStreamOptimizedVmdk } from '../support/vmdk.ts';
import { Vim25Client, VimFault, type MoRef } from '../../connector/vsphere/vim25.ts';

interface Inventory {
  users: { name: string; password: string }[];
}
const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
const admin = inventory.users.find((u) => u.name.startsWith('administrator@'))!;
const operator = inventory.users.find((u) => u.name.startsWith('operator@'))!;
const SOURCE = 'bsd-firewall-01'; // one 64 MiB disk

let vc: VcsimHandle;
let client: Vim25Client;
let sourceVmdk: Buffer; // the source VM's disk as the lab vCenter exports it
let randomVmdk: Buffer; // random content, made by qemu-img: no lab disk's generated content can match it
let randomSha: string;
let capacity: number;
let pool: MoRef;
let datastore: MoRef;
let migrationFolder: MoRef;

async function find(c: Vim25Client, path: string): Promise<MoRef> {
  const ref = (await c.invoke('FindByInventoryPath', c.serviceContent.searchIndex!, el('inventoryPath', path))) as { '#text': string; '@_type': string } | undefined;
  if (!ref) throw new Error(`no ${path} in the lab inventory`);
  return { type: ref['@_type'], value: ref['#text'] };
}

async function spec(c: Vim25Client, name: string, vmdkBytes: number): Promise<ImportSpec> {
  const ovf = ovfDescriptor({ id: name, instanceType: 'm5.large' }, `${name}-disk1.vmdk`, 'vmdk', capacity, vmdkBytes);
  return createImportSpec(c, { ovfDescriptor: ovf, resourcePool: pool, datastore, entityName: name, diskProvisioning: 'thin' });
}

async function chunks(b: Buffer): Promise<AsyncIterable<Buffer>> {
  return Readable.from((function* () {
    for (let i = 0; i < b.length; i += 1 << 20) yield b.subarray(i, i + (1 << 20));
  })());
}

async function vmNamed(name: string) {
  return (await client.listVirtualMachines()).find((v) => v.name === name);
}

beforeAll(async () => {
  vc = await startVcsim();
  client = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  await client.login(admin.name, admin.password);
  const vm = (await client.listVirtualMachines()).find((v) => v.name === SOURCE)!;
  capacity = vm.disks[0]!.capacityBytes;
  const dir = mkdtempSync(join(tmpdir(), 'vcsim-import-'));
  try {
    const raw = join(dir, 'disk.raw');
    const fd = openSync(raw, 'w');
    ftruncateSync(fd, capacity);
    for (const at of [0, 7 * 65536 + 512, capacity - 65536]) writeSync(fd, randomBytes(65536), 0, 65536, at);
    closeSync(fd);
    randomSha = createHash('sha256').update(readFileSync(raw)).digest('hex');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, join(dir, 'disk.vmdk')]);
    randomVmdk = readFileSync(join(dir, 'disk.vmdk'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lease = await client.exportVm(vm.id);
  const device = (await client.waitForLease(lease)).deviceUrl.find((d) => d.disk)!;
  const { stream } = await openNfcDownload(device.url, { thumbprint: device.sslThumbprint!, cookie: client.sessionCookie! });
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  sourceVmdk = Buffer.concat(parts);
  await client.leaseComplete(lease);
  pool = await find(client, 'DC0/host/DC0_C0/Resources');
  datastore = await find(client, 'DC0/datastore/LocalDS_0');
  migrationFolder = await find(client, 'DC0/vm/Migration');
});

afterAll(async () => {
  if (client) {
    await client.logout().catch(() => undefined);
    client.close();
  }
  await vc?.stop();
});

describe('ImportVApp with an NFC import lease', () => {
  it("creates the VM from the exported OVA's descriptor, and its disk holds exactly the uploaded VMDK's content", async () => {
    const s = await spec(client, 'brought-back-01', randomVmdk.length);
    expect(s.fileItems).toEqual([{ deviceId: '/brought-back-01/disk:0', path: 'brought-back-01-disk1.vmdk', size: randomVmdk.length }]);
    const lease = await importVApp(client, { resourcePool: pool, spec: s, folder: migrationFolder });
    const info = await client.waitForLease(lease);
    const [target] = uploadTargets(s, info);
    expect(target!.device.url).toMatch(/^https:\/\/\*\/nfc\//); // the client puts vCenter's address in
    expect(target!.device.sslThumbprint).toBe(vc.thumbprintSha1);
    expect(info.totalDiskCapacityInKB).toBe(capacity / 1024);

    // The VM exists (powered off) while the lease is open, as in vCenter.
    expect((await vmNamed('brought-back-01'))?.powerState).toBe('poweredOff');
    expect((await vc.faultStatus()).openImportLeases).toBe(1);
    const sent = await uploadLeaseDisk(client, target!.device, await chunks(randomVmdk), { contentLength: randomVmdk.length });
    expect(sent).toBe(randomVmdk.length);
    await client.leaseProgress(lease, 100);
    await client.leaseComplete(lease);
    expect((await client.leaseState(lease)).state).toBe('done');
    expect((await vc.faultStatus()).openImportLeases).toBe(0);

    const vm = (await vmNamed('brought-back-01'))!;
    expect(vm.folderId).toBe(migrationFolder.value);
    expect(vm.disks.map((d) => d.capacityBytes)).toEqual([capacity]);
    expect(vm.nics).toHaveLength(1);
    expect(await vc.diskSha256(vm.id, vm.disks[0]!.key)).toBe(randomSha);

    // The imported disk is a disk like the others: exporting the new VM serves the same content.
    const out = await client.exportVm(vm.id);
    const device = (await client.waitForLease(out)).deviceUrl.find((d) => d.disk)!;
    const { stream } = await openNfcDownload(device.url, { thumbprint: device.sslThumbprint!, cookie: client.sessionCookie! });
    const report = await decodeStreamOptimizedVmdk(stream, { hashRaw: true });
    await client.leaseComplete(out);
    expect(report.rawSha256).toBe(randomSha);
  });

  it('removes the half-made VM when the lease is aborted after a refused upload, and refuses bad uploads saying why', async () => {
    const s = await spec(client, 'aborted-01', sourceVmdk.length);
    const lease = await importVApp(client, { resourcePool: pool, spec: s });
    const [target] = uploadTargets(s, await client.waitForLease(lease));
    expect(await vmNamed('aborted-01')).toBeDefined();
    const url = client.resolveDeviceUrl(target!.device.url);

    // Half a VMDK: the disk server answers 400 naming the cut.
    const half = sourceVmdk.subarray(0, Math.floor(sourceVmdk.length / 2) + 100);
    await expect(uploadLeaseDisk(client, target!.device, await chunks(half), { contentLength: half.length })).rejects.toThrow(
      /refused the upload .*HTTP 400.*ended inside/,
    );
    // Not a VMDK at all.
    const junk = Buffer.alloc(4096, 7);
    await expect(uploadLeaseDisk(client, target!.device, await chunks(junk), { contentLength: junk.length })).rejects.toThrow(/not a VMDK/);
    // The URL takes uploads only.
    const status = await new Promise<{ code?: number; allow?: string }>((resolve, reject) => {
      https.get(url, { ca: vc.certPem }, (res) => {
        res.resume();
        resolve({ code: res.statusCode, allow: String(res.headers.allow) });
      }).on('error', reject);
    });
    expect(status).toEqual({ code: 405, allow: 'PUT, POST' });

    await client.leaseAbort(lease, 'Bring back to vCenter cancelled');
    expect(await vmNamed('aborted-01')).toBeUndefined();
    const state = await client.leaseState(lease);
    expect(state.state).toBe('error');
    expect((await vc.faultStatus()).openImportLeases).toBe(0);
    // The lease's URLs are gone with it (a small body, so the answer is read before the server closes).
    await expect(uploadLeaseDisk(client, target!.device, await chunks(junk), { contentLength: junk.length })).rejects.toThrow(/HTTP 404/);
  });

  it('refuses ImportVApp to a user without VApp.Import on the resource pool', async () => {
    const op = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    try {
      await op.login(operator.name, operator.password);
      const s = await spec(op, 'not-allowed-01', sourceVmdk.length);
      const err = await importVApp(op, { resourcePool: pool, spec: s, folder: migrationFolder }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VimFault);
      expect(err).toMatchObject({ faultType: 'NoPermission', privilegeId: 'VApp.Import' });
      expect(await vmNamed('not-allowed-01')).toBeUndefined();
    } finally {
      await op.logout().catch(() => undefined);
      op.close();
    }
  });
});
