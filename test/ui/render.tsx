import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { ApiContext } from '../../ui/api/ApiContext.tsx';
import { createApi } from '../../ui/api/client.ts';
import { createHttp } from '../../ui/api/http.ts';
import type { Host } from '../../ui/host/host.ts';
import { HostContext } from '../../ui/host/HostContext.tsx';

// Same origin as the page, as behind the vSphere Client's plug-in proxy (jsdom refuses cross-origin answers without CORS).
export const API = `${window.location.origin}/vm2ec2/api/v1`;

/** A vSphere Client host as the plugin sees it, with the VM the action was invoked on. */
export function fakeHost(vmId?: string): Host & { closed: number } {
  const host = {
    closed: 0,
    contextObjects: () => (vmId ? [{ type: 'VirtualMachine', id: vmId, vcGuid: '00000000-0000-0000-0000-000000000001' }] : []),
    sessionToken: async () => 'session-token',
    backendBaseUrl: async () => API,
    locale: () => 'en-US',
    theme: () => 'light' as const,
    onThemeChanged: () => {},
    onGlobalRefresh: () => {},
    closeModal: () => {
      host.closed++;
    },
    navigateTo: () => {},
    navigationData: () => null,
    refreshPluginItems: () => {},
    confirm: () => {},
  };
  return host;
}

/** Fresh query client per test (no retries, so errors show at once); real axios client against MSW. */
export function renderWithProviders(ui: ReactNode, host: Host = fakeHost()) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const api = createApi(createHttp(host));
  const view = render(
    <HostContext.Provider value={host}>
      <ApiContext.Provider value={api}>
        <QueryClientProvider client={queryClient}>{ui}</QueryClientProvider>
      </ApiContext.Provider>
    </HostContext.Provider>,
  );
  return { ...view, queryClient, host };
}
