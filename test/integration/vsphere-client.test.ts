// The lab's vSphere Client stand-in, driven over HTTPS like the browser and the connector drive it:
// login against the real lab vcsim, the clone-ticket exchange, /sdk and /plugins proxies, manifest
// validation, dynamic items, and the htmlClientSdk.js protocol.
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { startVsphereClient, type VsphereClientHandle } from '../../lab/vsphere-client/index.ts';
import type { InventoryDto, PluginsDto, SessionDto } from '../../lab/vsphere-client/api-types.ts';
import { SDK_CHANNEL } from '../../lab/vsphere-client/web/protocol.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { startFixturePluginServer, type FixturePluginServer } from '../fixtures/vsphere-client/plugin-server.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** The part of window.htmlClientSdk this test exercises. */
interface SdkUnderTest {
  initialize(cb: () => void): void;
  isInitialized(): boolean;
  getProxiedPluginServerOrigin(): string | null;
  app: {
    getContextObjects(): unknown;
    getTheme(): unknown;
    getNavigationData(): unknown;
    getSessionInfo(cb: (s: unknown) => void): void;
  };
  modal: {
    getCustomData(): unknown;
    open(config: { url: string; title?: string; customData?: unknown; onClosed?: (r: unknown) => void }): void;
  };
}

let vcsim: VcsimHandle;
let fixture: FixturePluginServer;
let client: VsphereClientHandle;

/** An HTTPS request to the stand-in, trusting only its certificate. */
function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(body !== undefined && typeof opts.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, client.origin), { method: opts.method ?? 'GET', headers, ca: client.certPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function login(username: string, password: string): Promise<{ cookie: string; session: SessionDto; setCookie: string }> {
  const r = await call('/ui/api/login', { method: 'POST', body: { username, password } });
  expect(r.status, r.text).toBe(200);
  const setCookie = String(r.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0] ?? '', session: r.json as SessionDto, setCookie };
}

const FIXTURE_KEY = 'org.example.fixture';
const fixtureId = `${FIXTURE_KEY}~1.0.0`;

beforeAll(async () => {
  vcsim = await startVcsim();
  fixture = await startFixturePluginServer();
  const port = new URL(fixture.origin).port;
  client = await startVsphereClient({
    vcenter: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid },
    plugins: [
      { key: FIXTURE_KEY, version: '1.0.0', manifestUrl: fixture.manifestUrl, serverCertPem: fixture.certPem, serverThumbprint: fixture.thumbprintSha256 },
      { key: 'org.example.broken', version: '2.0.0', manifestUrl: fixture.brokenManifestUrl, serverThumbprint: fixture.thumbprintSha256 },
      // Registered with another server's thumbprint: the stand-in must refuse to talk to it.
      { key: 'org.example.untrusted', version: '1.0.0', manifestUrl: fixture.manifestUrl, serverThumbprint: vcsim.thumbprintSha256 },
      { key: 'org.example.missing', version: '1.0.0', manifestUrl: `https://127.0.0.1:${port}/fixture/missing.json`, serverCertPem: fixture.certPem },
      { key: 'org.example.unpinned', version: '1.0.0', manifestUrl: fixture.manifestUrl },
    ],
  });
});

afterAll(async () => {
  await client?.stop();
  await fixture?.stop();
  await vcsim?.stop();
});

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

  it('loads a valid manifest and says precisely what is wrong with broken or untrusted ones', async () => {
    const { cookie } = await login('administrator@vsphere.local', 'Admin!23');
    const r = await call('/ui/api/plugins', { headers: { cookie } });
    expect(r.status).toBe(200);
    const plugins = Object.fromEntries((r.json as PluginsDto).plugins.map((p) => [p.key, p]));
    const port = new URL(fixture.origin).port;

    const ok = plugins[FIXTURE_KEY];
    expect(ok?.status).toBe('ready');
    expect(ok?.errors).toEqual([]);
    expect(ok?.name).toBe('Fixture Plugin');
    expect(ok?.proxiedBaseUrl).toBe(`/plugins/${fixtureId}/127.0.0.1-${port}`);
    expect(ok?.proxiedManifestDir).toBe(`/plugins/${fixtureId}/127.0.0.1-${port}/fixture/`);
    expect(ok?.backendServers).toEqual([
      { proxiedUrl: `/plugins/${fixtureId}/127.0.0.1-${port}/fixture`, proxiedBaseUrl: `/plugins/${fixtureId}/127.0.0.1-${port}`, type: 'MANIFEST_SERVER' },
    ]);
    expect(ok?.manifest?.objects?.VirtualMachine?.menu?.actions).toHaveLength(3);

    expect(plugins['org.example.broken']?.status).toBe('error');
    expect(plugins['org.example.broken']?.manifest).toBeUndefined();
    expect(plugins['org.example.broken']?.errors).toEqual([
      'manifestVersion: Invalid option: expected one of "1.0.0"|"1.0.1"|"1.1.0"|"1.2.0"',
      'requirements["vsphere.client"].version: must be a version range such as "[7.0.2,)" or "8.0"',
      'objects.VirtualMachine.menu.actions[0].trigger.size.width: must be an integer number of pixels',
      'objects.VirtualMachine.menu.actions[0]: Unrecognized key: "acceptMultipleTargets"',
      'definitions.i18n.definitions["broken.name"].en_US: invalid key: locale key must look like "en-US"',
      '(root): Unrecognized key: "extra"',
    ]);

    const untrusted = plugins['org.example.untrusted'];
    expect(untrusted?.status).toBe('error');
    expect(untrusted?.errors.join('\n')).toMatch(/TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted: THUMBPRINT_MISMATCH.*serverThumbprint/);

    expect(plugins['org.example.missing']?.errors).toEqual([
      `The plugin server answered HTTP 404 for the manifest https://127.0.0.1:${port}/fixture/missing.json. Check the manifest URL the plugin is registered with.`,
    ]);

    expect(plugins['org.example.unpinned']?.errors).toEqual([
      'The plugin is registered without a server certificate or thumbprint, so its server cannot be trusted. Register it again with serverCertificate and serverThumbprint.',
    ]);

    // The global refresh re-downloads the manifests.
    const before = fixture.manifestRequests;
    const reloaded = await call('/ui/api/plugins?reload=1', { headers: { cookie } });
    expect((reloaded.json as PluginsDto).plugins.map((p) => p.status)).toEqual(['ready', 'error', 'error', 'error', 'error']);
    expect(fixture.manifestRequests).toBeGreaterThan(before);
  });

  it('reverse-proxies the plugin server under /plugins/<id>/<host>-<port>/ with its pinned certificate', async () => {
    const base = `/plugins/${fixtureId}/127.0.0.1-${new URL(fixture.origin).port}`;
    const page = await call(`${base}/fixture/index.html`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<script src="/api/ui/htmlClientSdk.js"></script>');

    const echo = await call(`${base}/fixture/api/echo?x=1`, {
      method: 'POST',
      headers: { cookie: 'VSPHERE-UI-JSESSIONID=secret; theme=dark', 'vmware-api-session-id': 'token-1' },
      body: { hello: 'plugin' },
    });
    expect(echo.status).toBe(200);
    const seen = echo.json as { method: string; url: string; headers: Record<string, string>; body: unknown };
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/fixture/api/echo?x=1');
    expect(seen.body).toEqual({ hello: 'plugin' });
    expect(seen.headers.cookie).toBe('theme=dark'); // the stand-in's own session cookie never leaves it
    expect(seen.headers['vmware-api-session-id']).toBe('token-1');
    expect(seen.headers.host).toBe(new URL(fixture.origin).host);
    expect(seen.headers['x-forwarded-host']).toBe(new URL(client.origin).host);

    const redirect = await call(`${base}/fixture/redirect`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe(`${base}/fixture/index.html`);

    expect((await call(`/plugins/${fixtureId}/127.0.0.1-1/fixture/index.html`)).status).toBe(404);
    expect((await call(`/plugins/org.example.nope~1/127.0.0.1-${new URL(fixture.origin).port}/fixture/index.html`)).status).toBe(404);
    // The untrusted registration points at the same server but pins another certificate.
    const refused = await call(`/plugins/org.example.untrusted~1.0.0/127.0.0.1-${new URL(fixture.origin).port}/fixture/index.html`);
    expect(refused.status).toBe(502);
    expect((refused.json as { message: string }).message).toMatch(/THUMBPRINT_MISMATCH/);
  });

  it('calls the dynamic-items endpoint with the user plugin session token and maps visible/relevant', async () => {
    const { cookie, session } = await login('operator@vsphere.local', 'Operator!23');
    const urn = `urn:vmomi:VirtualMachine:vm-42:${vcsim.instanceUuid}`;
    const ask = () =>
      call(`/ui/api/plugins/${encodeURIComponent(fixtureId)}/dynamic-items`, {
        method: 'POST',
        headers: { cookie },
        body: { objectType: 'VirtualMachine', container: 'menu', objectIds: [urn] },
      });

    fixture.dynamicAnswer = { status: 200, body: { apiVersion: '1.0.0', dynamicItems: [{ id: 'fixtureAction', visible: true }] } };
    const before = fixture.dynamicCalls.length;
    const r = await ask();
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ items: { fixtureAction: { visible: true, relevant: true } } });
    const received = fixture.dynamicCalls[before];
    expect(received?.headers['vmware-api-session-id']).toBe(session.pluginSessionToken);
    expect(received?.headers.cookie).toBeUndefined();
    expect(received?.body).toEqual({ apiVersion: '1.0.0', objectIds: [urn], locale: 'en-US' });

    fixture.dynamicAnswer = { status: 200, body: { apiVersion: '1.0.0', dynamicItems: [{ id: 'fixtureAction', visible: false, relevant: false }] } };
    expect((await ask()).json).toEqual({ items: { fixtureAction: { visible: false, relevant: false } } });

    fixture.dynamicAnswer = { status: 500, body: { error: 'boom' } };
    const failed = (await ask()).json as { items: object; error: string };
    expect(failed.items).toEqual({});
    expect(failed.error).toMatch(/answered HTTP 500/);

    expect((await call(`/ui/api/plugins/${encodeURIComponent(fixtureId)}/dynamic-items`, { method: 'POST', body: { objectType: 'VirtualMachine', container: 'menu', objectIds: [urn] } })).status).toBe(401);
  });

  it('htmlClientSdk.js talks to the shell only by origin-checked postMessage and keeps callbacks in the frame', async () => {
    const code = (await call('/api/ui/htmlClientSdk.js')).text;
    const origin = client.origin;
    const proxied = `/plugins/${fixtureId}/127.0.0.1-9443`;
    const posted: { msg: { id: number; method: string; params: Record<string, unknown> }; targetOrigin: string }[] = [];
    const listeners: ((e: { origin: string; source: unknown; data: unknown }) => void)[] = [];
    const parent = { postMessage: (msg: never, targetOrigin: string) => posted.push({ msg, targetOrigin }) };
    const frame = {
      location: { origin, pathname: `${proxied}/fixture/index.html` },
      parent,
      addEventListener: (_type: string, l: (typeof listeners)[number]) => listeners.push(l),
    };
    const context = { window: frame, document: { baseURI: `${origin}${proxied}/fixture/` }, console, URL };
    vm.runInNewContext(code, context);
    const sdk = (frame as unknown as { htmlClientSdk: SdkUnderTest }).htmlClientSdk;
    const deliver = (data: unknown, from = origin, source: unknown = parent) => listeners.forEach((l) => l({ origin: from, source, data }));
    const settle = () => new Promise((r) => setImmediate(r));

    expect(sdk.getProxiedPluginServerOrigin()).toBe(`${origin}${proxied}`);
    expect(sdk.isInitialized()).toBe(false);
    let initialized = 0;
    sdk.initialize(() => initialized++);
    expect(posted).toHaveLength(1);
    expect(posted[0]?.targetOrigin).toBe(origin);
    expect(posted[0]?.msg.method).toBe('initialize');
    const initData = {
      pluginId: FIXTURE_KEY,
      contextObjects: [{ id: `urn:vmomi:VirtualMachine:vm-1:${vcsim.instanceUuid}` }],
      theme: 'dark',
      locale: 'en-US',
      navigationData: { job: 7 },
      modalCustomData: null,
      clientInfo: { type: 'HTML', version: '7.0.3' },
      apiEndpoints: { uiApiEndpoint: { origin, pathname: '/api/ui', queryParams: [], fullUrl: `${origin}/api/ui` } },
    };
    const response = { channel: SDK_CHANNEL, kind: 'response', id: posted[0]?.msg.id, ok: true, result: initData };
    deliver(response, 'https://evil.example'); // wrong origin: ignored
    deliver(response, origin, {}); // not from the parent window: ignored
    await settle();
    expect(initialized).toBe(0);
    deliver(response);
    await settle();
    expect(initialized).toBe(1);
    expect(sdk.app.getContextObjects()).toEqual(initData.contextObjects);
    expect(sdk.app.getTheme()).toEqual({ name: 'dark' });
    expect(sdk.app.getNavigationData()).toEqual({ job: 7 });
    expect(sdk.modal.getCustomData()).toBeNull();

    let closedWith: unknown;
    sdk.modal.open({ url: 'index.html#/child', title: 'Child', customData: { at: new Date(0) }, onClosed: (r: unknown) => (closedWith = r) });
    const open = posted[posted.length - 1];
    expect(open?.msg.method).toBe('modal.open');
    expect(open?.msg.params.url).toBe(`${origin}${proxied}/fixture/index.html#/child`);
    expect(open?.msg.params.customData).toEqual({ at: '1970-01-01T00:00:00.000Z' }); // JSON-sanitised by default
    expect(() => structuredClone(open?.msg)).not.toThrow(); // no functions cross the frame boundary
    deliver({ channel: SDK_CHANNEL, kind: 'event', event: 'callback', callbackId: open?.msg.params.onClosedCallbackId, args: [{ done: true }] });
    expect(closedWith).toEqual({ done: true });

    let session: unknown = 'pending';
    sdk.app.getSessionInfo((s) => (session = s));
    const ask = posted[posted.length - 1];
    deliver({ channel: SDK_CHANNEL, kind: 'response', id: ask?.msg.id, ok: false, error: 'no session' });
    await settle();
    expect(session).toBeNull(); // documented: null when the client cannot answer
  });
});
