// The lab's vSphere Client stand-in, driven over HTTPS like the browser and the connector drive it:
// the shell, login against the real lab vcsim, the clone-ticket exchange and the /sdk proxy. Plugins (manifest
// validation, the /plugins proxy, dynamic items, htmlClientSdk.js): vsphere-client-plugins.test.ts.
// The lab: test/support/vsphere-client-lab.ts.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InventoryDto, SessionDto } from '../../lab/vsphere-client/api-types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { call, client, login, useStandInLab, vcsim } from '../support/vsphere-client-lab.ts';

useStandInLab();

describe('vSphere Client stand-in', () => {
  it('serves the shell and htmlClientSdk.js on its origin', async () => {
    const shell = await call('/ui/');
    expect(shell.status).toBe(200);
    expect(shell.headers['content-type']).toMatch(/text\/html/);
    expect(shell.text).toContain('<div id="root">');
    expect(shell.headers['x-frame-options']).toBe('DENY');
    // The page is revalidated every time; its content-hashed assets are cached for good.
    expect(shell.headers['cache-control']).toBe('no-cache');
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(shell.text)?.[1];
    expect(script).toBeDefined();
    const asset = await call(script ?? '');
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');

    const sdk = await call('/api/ui/htmlClientSdk.js');
    expect(sdk.status).toBe(200);
    expect(sdk.headers['content-type']).toMatch(/javascript/);
    expect(sdk.text).toContain('htmlClientSdk');
  });

  it('logs in with vCenter credentials and keeps the vCenter session on the server', async () => {
    const { cookie, session, setCookie } = await login('administrator@vsphere.local', 'Admin!23');
    expect(setCookie).toMatch(/^VSPHERE-UI-JSESSIONID=[\w-]{40,};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Secure/);
    expect(session.userName).toBe('administrator@vsphere.local');
    expect(session.pluginSessionToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(session.vcenter.instanceUuid).toBe(vcsim.instanceUuid);
    expect(JSON.stringify(session)).not.toMatch(/vmware_soap_session/);

    const again = await call('/ui/api/session', { headers: { cookie } });
    expect((again.json as { session: SessionDto }).session.pluginSessionToken).toBe(session.pluginSessionToken);

    const inv = await call('/ui/api/inventory', { headers: { cookie } });
    expect(inv.status, inv.text).toBe(200);
    const dc = (inv.json as InventoryDto).datacenters[0];
    expect(dc?.name).toBe('DC0');
    const folders = Object.fromEntries((dc?.vmFolder.children ?? []).map((f) => [f.name, f.vms.map((v) => v.name)]));
    expect(folders.Migration).toContain('ubuntu-web-01');
    expect(folders.Production).toContain('win2019-app-01');
    const rhel = dc?.vmFolder.children.flatMap((f) => f.vms).find((v) => v.name === 'rhel-db-01');
    expect(rhel?.powerState).toBe('poweredOn');

    const vmInfo = await call(`/ui/api/vms/${rhel?.id ?? ''}`, { headers: { cookie } });
    expect(vmInfo.status).toBe(200);
    expect(vmInfo.json).toMatchObject({ name: 'rhel-db-01', numCpu: 4, memoryMB: 8192, disks: [{ capacityBytes: 512 * 1024 * 1024 }] });
  });

  it('rejects a wrong password with the vCenter message and answers nothing without a session', async () => {
    const bad = await call('/ui/api/login', { method: 'POST', body: { username: 'administrator@vsphere.local', password: 'wrong' } });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ error: 'InvalidLogin', message: 'Cannot complete login due to an incorrect user name or password.' });
    expect(bad.headers['set-cookie']).toBeUndefined();

    expect((await call('/ui/api/session')).json).toEqual({ session: null });
    expect((await call('/ui/api/inventory')).status).toBe(401);
    expect((await call('/ui/api/inventory', { headers: { cookie: 'VSPHERE-UI-JSESSIONID=forged' } })).status).toBe(401);
  });

  it('exchanges the plugin session token for a clone ticket that clones that user session through /sdk', async () => {
    const { session } = await login('operator@vsphere.local', 'Operator!23');
    const r = await call('/api/ui/vcenter/session/clone-ticket', {
      method: 'POST',
      headers: { 'vmware-api-session-id': session.pluginSessionToken },
      body: { vc_guid: vcsim.instanceUuid },
    });
    expect(r.status, r.text).toBe(200);
    const ticket = (r.json as { session_clone_ticket: string }).session_clone_ticket;
    expect(ticket).toBeTruthy();

    // The connector's view: one vCenter URL (this origin), its certificate, RetrieveServiceContent + CloneSession.
    const second = await Vim25Client.connect({ sdkUrl: `${client.origin}/sdk`, ca: client.certPem });
    try {
      expect(second.about.instanceUuid).toBe(vcsim.instanceUuid);
      const cloned = await second.cloneSession(ticket);
      expect(cloned.userName).toBe('operator@vsphere.local');
      expect((await second.currentSession())?.userName).toBe('operator@vsphere.local');
    } finally {
      await second.logout();
    }

    // The documented spelling "vc-guid" works too.
    const alt = await call('/api/ui/vcenter/session/clone-ticket', {
      method: 'POST',
      headers: { 'vmware-api-session-id': session.pluginSessionToken },
      body: { 'vc-guid': vcsim.instanceUuid },
    });
    expect(alt.status).toBe(200);
  });

  it('refuses unknown plugin session tokens and unknown vCenter GUIDs', async () => {
    const unknown = await call('/api/ui/vcenter/session/clone-ticket', {
      method: 'POST',
      headers: { 'vmware-api-session-id': randomUUID() },
      body: { vc_guid: vcsim.instanceUuid },
    });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toMatchObject({ error: 'Unauthenticated' });

    const missing = await call('/api/ui/vcenter/session/clone-ticket', { method: 'POST', body: { vc_guid: vcsim.instanceUuid } });
    expect(missing.status).toBe(401);

    const { session } = await login('readonly@vsphere.local', 'ReadOnly!23');
    const otherVc = await call('/api/ui/vcenter/session/clone-ticket', {
      method: 'POST',
      headers: { 'vmware-api-session-id': session.pluginSessionToken },
      body: { vc_guid: randomUUID() },
    });
    expect(otherVc.status).toBe(404);
  });

  it('ends the plugin session token at logout', async () => {
    const { cookie, session } = await login('readonly@vsphere.local', 'ReadOnly!23');
    const out = await call('/ui/api/logout', { method: 'POST', headers: { cookie }, body: {} });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    expect((await call('/ui/api/session', { headers: { cookie } })).json).toEqual({ session: null });
    const r = await call('/api/ui/vcenter/session/clone-ticket', {
      method: 'POST',
      headers: { 'vmware-api-session-id': session.pluginSessionToken },
      body: { vc_guid: vcsim.instanceUuid },
    });
    expect(r.status).toBe(401);
  });

  it('proxies raw SOAP on /sdk to vCenter', async () => {
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:vim25="urn:vim25">' +
      '<soapenv:Body><vim25:RetrieveServiceContent><vim25:_this type="ServiceInstance">ServiceInstance</vim25:_this></vim25:RetrieveServiceContent></soapenv:Body></soapenv:Envelope>';
    const r = await call('/sdk', { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: 'urn:vim25/7.0.3.0' }, body: envelope });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain(`<instanceUuid>${vcsim.instanceUuid}</instanceUuid>`);
  });
});
