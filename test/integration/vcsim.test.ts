// The connector's vim25 client against the lab vCenter (lab/vcsim): sessions, inventory, privileges,
// NFC export of generated stream-optimized disks, snapshots, OVF descriptors, extensions and TLS trust.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { Vim25Client, VimFault, type ExtensionSpec, type MoRef, type VmInfo } from '../../connector/vsphere/vim25.ts';
import { decodeStreamOptimizedVmdk, expectedRawGrain, expectedRawSha256, GRAIN_BYTES } from '../support/vmdk.ts';

interface InventoryVm {
  name: string;
  folder: string;
  guestId: string;
  guestFullName: string;
  powerState: string;
  numCpu: number;
  memoryMB: number;
  disks: { capacityMiB: number; seed: number }[];
}
interface Inventory {
  datacenter: string;
  folders: string[];
  users: { name: string; password: string }[];
  vms: InventoryVm[];
}

const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
const MiB = 1024 * 1024;

function user(prefix: string): { name: string; password: string } {
  const u = inventory.users.find((x) => x.name.startsWith(prefix));
  if (!u) throw new Error(`lab/inventory.json has no ${prefix} user`);
  return u;
}
const ADMIN = user('administrator@');
const OPERATOR = user('operator@');
const READONLY = user('readonly@');

function invVm(name: string): InventoryVm {
  const v = inventory.vms.find((x) => x.name === name);
  if (!v) throw new Error(`lab/inventory.json has no VM ${name}`);
  return v;
}

/** Resolves with the rejection of `p` (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

async function expectFault(p: Promise<unknown>, faultType: string): Promise<VimFault> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(VimFault);
  expect((err as VimFault).faultType).toBe(faultType);
  return err as VimFault;
}

let vc: VcsimHandle;
const clients: Vim25Client[] = [];
let admin: Vim25Client;
let operator: Vim25Client;
let readonly: Vim25Client;
let vmsByName: Map<string, VmInfo>;

async function connect(opts: { ca?: string; thumbprint?: string } = { ca: '' }): Promise<Vim25Client> {
  const c = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ...(opts.ca === '' ? { ca: vc.certPem } : opts) });
  clients.push(c);
  return c;
}

async function loggedIn(u: { name: string; password: string }): Promise<Vim25Client> {
  const c = await connect();
  await c.login(u.name, u.password);
  return c;
}

function vmId(name: string): string {
  const v = vmsByName.get(name);
  if (!v) throw new Error(`VM ${name} not listed by the lab vCenter`);
  return v.id;
}

const vmRef = (name: string): MoRef => ({ type: 'VirtualMachine', value: vmId(name) });

beforeAll(async () => {
  vc = await startVcsim();
  admin = await loggedIn(ADMIN);
  operator = await loggedIn(OPERATOR);
  readonly = await loggedIn(READONLY);
  vmsByName = new Map((await admin.listVirtualMachines()).map((v) => [v.name, v]));
});

afterAll(async () => {
  for (const c of clients) {
    await c.logout().catch(() => undefined);
    c.close();
  }
  await vc?.stop();
});

describe('sessions', () => {
  it('reads the service content of a vCenter 7.0.3 with the lab instance UUID', () => {
    expect(admin.about.apiVersion).toBe('7.0.3.0');
    expect(admin.about.version).toBe('7.0.3');
    expect(admin.about.instanceUuid).toBe(vc.instanceUuid);
    expect(admin.sdkUrl).toBe(vc.sdkUrl);
  });

  it('logs in with the lab password and reports the session user', async () => {
    const c = await connect();
    expect(await c.currentSession()).toBeNull();
    const s = await c.login(OPERATOR.name, OPERATOR.password);
    expect(s.userName).toBe(OPERATOR.name);
    expect(s.key).not.toBe('');
    expect(await c.currentSession()).toMatchObject({ key: s.key, userName: OPERATOR.name });
    await c.logout();
    expect(await c.currentSession()).toBeNull();
  });

  it('rejects a wrong password or an unknown user with InvalidLogin, without echoing the password', async () => {
    const c = await connect();
    const wrong = 'Wrong-Pa55word!';
    const e1 = await expectFault(c.login(ADMIN.name, wrong), 'InvalidLogin');
    expect(e1.message).not.toContain(wrong);
    await expectFault(c.login('nobody@vsphere.local', ADMIN.password), 'InvalidLogin');
    expect(await c.currentSession()).toBeNull();
  });

  it('refuses inventory calls without a session (NotAuthenticated)', async () => {
    const c = await connect();
    await expectFault(c.exportVm(vmId('bsd-firewall-01')), 'NotAuthenticated');
  });

  it('clones a session from a single-use ticket on a second connection', async () => {
    const ticket = await operator.acquireCloneTicket();
    expect(ticket.length).toBeGreaterThan(8);
    const second = await connect({ thumbprint: vc.thumbprintSha256 });
    const cloned = await second.cloneSession(ticket);
    expect(cloned.userName).toBe(OPERATOR.name);
    expect((await second.currentSession())?.userName).toBe(OPERATOR.name);
    // The clone carries the user's own rights: the operator may not export a Production VM.
    await expectFault(second.exportVm(vmId('win2019-app-01')), 'NoPermission');
    const third = await connect({ thumbprint: vc.thumbprintSha1 });
    await expectFault(third.cloneSession(ticket), 'InvalidLogin');
    expect(await third.currentSession()).toBeNull();
  });
});

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

describe('privileges', () => {
  const privs = ['VApp.Export', 'System.View', 'VirtualMachine.State.CreateSnapshot'];

  it('reports the operator: everything on a Migration VM, only read on a Production VM', async () => {
    const session = await operator.currentSession();
    const m = await operator.hasPrivilegeOnEntities([vmRef('bsd-firewall-01'), vmRef('win2019-app-01')], session!.key, privs);
    expect(m.get(vmId('bsd-firewall-01'))).toEqual({
      'VApp.Export': true,
      'System.View': true,
      'VirtualMachine.State.CreateSnapshot': true,
    });
    expect(m.get(vmId('win2019-app-01'))).toEqual({
      'VApp.Export': false,
      'System.View': true,
      'VirtualMachine.State.CreateSnapshot': false,
    });
  });

  it('reports the read-only user as read-only everywhere, also when asked by the administrator', async () => {
    const session = await readonly.currentSession();
    const entities = [vmRef('ubuntu-web-01'), vmRef('debian-tools-01')];
    for (const asker of [readonly, admin]) {
      const m = await asker.hasPrivilegeOnEntities(entities, session!.key, privs);
      for (const e of entities) {
        expect(m.get(e.value)).toEqual({ 'VApp.Export': false, 'System.View': true, 'VirtualMachine.State.CreateSnapshot': false });
      }
    }
  });

  it('lists the privileges a user holds per entity', async () => {
    const m = await admin.fetchUserPrivilegeOnEntities([vmRef('ubuntu-web-01'), vmRef('win2016-dc-01')], OPERATOR.name);
    expect(m.get(vmId('ubuntu-web-01'))).toEqual(expect.arrayContaining(['VApp.Export', 'System.Read']));
    expect(m.get(vmId('win2016-dc-01'))).toEqual(expect.arrayContaining(['System.Read']));
    expect(m.get(vmId('win2016-dc-01'))).not.toContain('VApp.Export');
  });

  it('refuses ExportVm for the read-only user and for the operator on a Production VM', async () => {
    const e1 = await expectFault(readonly.exportVm(vmId('ubuntu-web-01')), 'NoPermission');
    expect(e1.privilegeId).toBe('VApp.Export');
    const e2 = await expectFault(operator.exportVm(vmId('win2019-app-01')), 'NoPermission');
    expect(e2.privilegeId).toBe('VApp.Export');
    expect(e2.message).toContain('VApp.Export');
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

describe('extensions', () => {
  const key = `com.example.vim25test.${process.pid}`;
  const spec = (version: string): ExtensionSpec => ({
    key,
    version,
    company: 'Example & Co',
    label: 'EC2 migration <test>',
    summary: 'Registered by the vim25 integration test',
    client: [{ type: 'vsphere-client-remote', url: 'https://127.0.0.1:8443/ec2mig/plugin.json', version }],
    server: [
      {
        type: 'MANIFEST_SERVER',
        url: 'https://127.0.0.1:8443/ec2mig/plugin.json',
        serverThumbprint: vc.thumbprintSha256,
        serverCertificate: vc.certPem,
        adminEmail: ['admin@example.com'],
      },
    ],
    privileges: [{ privId: `${key}.Migrate`, privGroupName: key }],
  });

  afterAll(async () => {
    // Leave no registration behind when an assertion failed half-way.
    if (await admin.findExtension(key)) await admin.unregisterExtension(key);
  });

  it('registers, finds, updates and unregisters an extension', async () => {
    expect(await admin.findExtension(key)).toBeNull();
    await admin.registerExtension(spec('1.0.0'));
    const found = await admin.findExtension(key);
    expect(found).toMatchObject({ key, version: '1.0.0', label: 'EC2 migration <test>', company: 'Example & Co' });
    expect(found!.client[0]).toMatchObject({ type: 'vsphere-client-remote', url: 'https://127.0.0.1:8443/ec2mig/plugin.json' });
    expect(found!.server[0]).toMatchObject({ serverThumbprint: vc.thumbprintSha256 });
    expect(found!.server[0]).toMatchObject({ adminEmail: ['admin@example.com'] });
    expect(found!.privileges).toEqual([{ privId: `${key}.Migrate`, privGroupName: key }]);

    await admin.updateExtension(spec('1.0.1'));
    const updated = await admin.findExtension(key);
    expect(updated?.version).toBe('1.0.1');
    expect(updated?.client[0]?.version).toBe('1.0.1');

    await admin.unregisterExtension(key);
    expect(await admin.findExtension(key)).toBeNull();
    await expectFault(admin.unregisterExtension(key), 'NotFound');
  });

  it('round-trips the PEM server certificate (vCenter 8.0U2+ field)', async () => {
    await admin.registerExtension(spec('2.0.0'));
    const found = await admin.findExtension(key);
    await admin.unregisterExtension(key);
    expect(found?.server[0]?.serverCertificate?.trim()).toBe(vc.certPem.trim());
  });

  it('refuses registration by the read-only user', async () => {
    const e = await expectFault(readonly.registerExtension(spec('1.0.0')), 'NoPermission');
    expect(e.privilegeId).toBe('Extension.Register');
    expect(await admin.findExtension(key)).toBeNull();
  });
});

describe('TLS trust and reachability', () => {
  it('refuses a vCenter whose certificate does not match the pinned thumbprint', async () => {
    const wrong = vc.thumbprintSha256.split(':').reverse().join(':');
    const err = await rejection(Vim25Client.connect({ sdkUrl: vc.sdkUrl, thumbprint: wrong }));
    expect(err.message).toContain(`Connector refused the TLS certificate of vCenter ${vc.sdkUrl}`);
    expect(err.message).toMatch(/thumbprint/);
  });

  it('refuses the self-signed lab certificate without a CA or thumbprint', async () => {
    const err = await rejection(Vim25Client.connect({ sdkUrl: vc.sdkUrl }));
    expect(err.message).toContain(`Connector refused the TLS certificate of vCenter ${vc.sdkUrl}`);
    expect(err.message).toMatch(/CA certificate|thumbprint/);
  });

  it('refuses a CA that did not issue the certificate, even with a matching host', async () => {
    const other = await generate([{ name: 'commonName', value: 'another-ca.test' }], { keyType: 'ec', curve: 'P-256' });
    const err = await rejection(Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: other.cert }));
    expect(err.message).toContain('Connector refused the TLS certificate');
  });

  it('refuses a disk server whose certificate does not match the lease thumbprint', async () => {
    const lease = await admin.exportVm(vmId('bsd-firewall-01'));
    try {
      const disk = (await admin.waitForLease(lease)).deviceUrl.find((d) => d.disk)!;
      const err = await rejection(openNfcDownload(disk.url, { thumbprint: '00:'.repeat(19) + '00', cookie: admin.sessionCookie! }));
      expect(err.message).toContain('Connector refused the TLS certificate of the disk server');
      expect(err.message).not.toContain(new URL(disk.url).pathname);
    } finally {
      await admin.leaseAbort(lease);
    }
  });

  it('names the vCenter it cannot reach', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const url = `https://127.0.0.1:${port}/sdk`;
    const err = await rejection(Vim25Client.connect({ sdkUrl: url, ca: vc.certPem }));
    expect(err.message).toContain(`Connector is unable to reach vCenter ${url}: ECONNREFUSED`);
  });
});
