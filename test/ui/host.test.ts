// @vitest-environment jsdom
// ui/host: every htmlClientSdk failure becomes a HostProblem naming the call and how it failed (issue 12 item 8).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectHost, contextVm, createHost, HostProblem, SDK_TIMEOUT_MS } from '../../ui/host/host.ts';
import type { HtmlClientSdk } from '../../ui/host/sdk-types.ts';

const SERVER = { type: 'MANIFEST_SERVER', proxiedUrl: 'https://vc/plugins/p/h', proxiedBaseUrl: '/plugins/p/h' };

function sdk(app: Partial<HtmlClientSdk['app']> = {}, initialize: HtmlClientSdk['initialize'] = (cb) => cb?.()): HtmlClientSdk {
  return {
    initialize,
    isInitialized: () => true,
    getProxiedPluginServerOrigin: () => null,
    app: {
      getClientLocale: () => 'en-US',
      getContextObjects: () => [{ id: 'urn:vmomi:VirtualMachine:vm-42:00000000-0000-0000-0000-000000000001' }],
      getNavigationData: () => null,
      getPluginBackendInfo: (cb) => cb({ allPluginBackendServers: [SERVER], backendServersPerVc: {} }),
      getSessionInfo: (cb) => cb({ sessionToken: 't', nodeId: 'n' }),
      getTheme: () => ({ name: 'dark' }),
      navigateTo: () => {},
      refreshPluginItemsState: () => {},
      formatDateTime: () => '',
      ...app,
    },
    event: { onGlobalRefresh: () => {}, onThemeChanged: () => {} },
    modal: { close: () => {}, setOptions: () => {}, open: () => {}, getCustomData: () => null, openConfirmationModal: () => {} },
  } as HtmlClientSdk;
}

const problemOf = async (p: Promise<unknown>) => {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(HostProblem);
  return err as HostProblem;
};

afterEach(() => {
  vi.useRealTimers();
  delete window.htmlClientSdk;
});

describe('the host over a failing htmlClientSdk', () => {
  it('connects when the SDK works', async () => {
    window.htmlClientSdk = sdk();
    const host = await connectHost('/vm2ec2/api/v1');
    expect(await host.backendBaseUrl()).toBe(`${window.location.origin}/plugins/p/h/vm2ec2/api/v1`);
    expect(host.theme()).toBe('dark');
    expect(contextVm(host)).toEqual({ vmId: 'vm-42' });
  });

  it('names the call that threw, returned nothing or never answered', async () => {
    expect(await problemOf(connectHost('/api'))).toMatchObject({ kind: 'noSdk' });
    window.htmlClientSdk = sdk({ getSessionInfo: () => { throw new TypeError('boom'); } });
    expect(await problemOf(connectHost('/api'))).toMatchObject({ kind: 'session', detail: 'htmlClientSdk getSessionInfo failed: TypeError: boom' });
    window.htmlClientSdk = sdk({ getSessionInfo: (cb) => cb(null) });
    expect(await problemOf(connectHost('/api'))).toMatchObject({ kind: 'session', detail: 'htmlClientSdk getSessionInfo returned nothing' });
    window.htmlClientSdk = sdk({ getPluginBackendInfo: (cb) => cb({ allPluginBackendServers: [], backendServersPerVc: {} }) });
    expect(await problemOf(connectHost('/api'))).toMatchObject({ kind: 'backend', detail: 'htmlClientSdk getPluginBackendInfo returned no plugin server' });

    vi.useFakeTimers();
    window.htmlClientSdk = sdk({}, () => {});
    const silent = problemOf(connectHost('/api'));
    await vi.advanceTimersByTimeAsync(SDK_TIMEOUT_MS);
    expect(await silent).toMatchObject({ kind: 'initialize', detail: 'htmlClientSdk initialize did not answer within 10 s' });
  });

  it('falls back for cosmetic calls and reports a missing context object', () => {
    const host = createHost(sdk({ getTheme: () => { throw new Error('x'); }, getClientLocale: () => undefined as unknown as string, getContextObjects: () => undefined as unknown as { id: string }[] }), '/api');
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(host.theme()).toBe('light');
    expect(host.locale()).toBe('en-US');
    const vm = contextVm(host);
    expect('problem' in vm && vm.problem).toMatchObject({ kind: 'context', detail: 'htmlClientSdk getContextObjects returned nothing' });
    expect(contextVm(createHost(sdk({ getContextObjects: () => [] }), '/api'))).toMatchObject({ problem: { detail: 'htmlClientSdk getContextObjects returned no virtual machine' } });
  });
});
