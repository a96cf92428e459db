// The lab's vSphere Client stand-in hosting remote plugins, driven over HTTPS like the browser drives it: manifest
// validation, the /plugins reverse proxy, dynamic items, and the htmlClientSdk.js protocol. The shell, login and
// sessions: vsphere-client.test.ts. The lab (vcsim, the fixture plugin server): test/support/vsphere-client-lab.ts.
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { PluginsDto } from '../../lab/vsphere-client/api-types.ts';
import { SDK_CHANNEL } from '../../lab/vsphere-client/web/protocol.ts';
import { call, client, fixture, FIXTURE_KEY, fixtureId, login, useStandInLab, vcsim } from '../support/vsphere-client-lab.ts';

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

useStandInLab();

describe('vSphere Client stand-in', () => {
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
