// The connector's vim25 client against the lab vCenter (lab/vcsim): sessions, privileges, extensions and TLS trust.
// Inventory and NFC export: vcsim-export.test.ts. The lab and the shared helpers: test/support/vim25-lab.ts.
import { createServer } from 'node:net';
import { generate } from 'selfsigned';
import { afterAll, describe, expect, it } from 'vitest';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { Vim25Client, type ExtensionSpec } from '../../connector/vsphere/vim25.ts';
import { admin, ADMIN, connect, expectFault, operator, OPERATOR, readonly, rejection, useVim25Lab, vc, vmId, vmRef } from '../support/vim25-lab.ts';

useVim25Lab();

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
