// @vitest-environment jsdom
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ROUTES } from '../../ui/app/routes.ts';

afterEach(cleanup);

// The page modules would call the vSphere Client; these tests are about which page the hash shows.
vi.mock('../../ui/features/vm-monitor/VmMonitorPage.tsx', () => ({ VmMonitorPage: () => <p>VM page</p> }));
vi.mock('../../ui/features/portal/PortalPage.tsx', () => ({ PortalPage: () => <p>Portal page</p> }));
vi.mock('../../ui/features/migrate/MigrateVmPage.tsx', () => ({ MigrateVmPage: () => <p>Migrate page</p> }));

describe('plugin router', () => {
  it('renders a loading state while the first page loads, then the page of the hash', async () => {
    window.location.hash = `#${ROUTES.vmMonitor}`;
    const { HashRoutes } = await import('../../ui/app/HashRoutes.tsx');
    render(<HashRoutes />);
    expect(screen.getByRole('status').textContent).toContain('Loading');
    expect(await screen.findByText('VM page')).toBeTruthy();
  });

  it('follows a hash change in the same document (the vSphere Client re-pointing the iframe)', async () => {
    window.location.hash = `#${ROUTES.vmMonitor}`;
    const { HashRoutes } = await import('../../ui/app/HashRoutes.tsx');
    render(<HashRoutes />);
    expect(await screen.findByText('VM page')).toBeTruthy();
    await act(async () => {
      window.location.hash = `#${ROUTES.migrateVm}`;
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(await screen.findByText('Migrate page')).toBeTruthy();
    expect(screen.queryByText('VM page')).toBeNull();
  });

  it('renders a page whose chunk has arrived at once, without a loading state for React to hold it behind', async () => {
    window.location.hash = `#${ROUTES.portal}`;
    const { loadPage, routeOf } = await import('../../ui/app/router.tsx');
    const { HashRoutes } = await import('../../ui/app/HashRoutes.tsx');
    await loadPage(routeOf(window.location.hash));
    render(<HashRoutes />);
    // Synchronously: behind Suspense the first render would be the fallback, and React 19 delays the reveal.
    expect(screen.getByText('Portal page')).toBeTruthy();
    expect(screen.queryByRole('status')).toBeNull();
  });

  it('maps each manifest route to its own page and anything else to the portal', async () => {
    const { routeOf } = await import('../../ui/app/router.tsx');
    expect(routeOf(`#${ROUTES.migrateVm}`).path).toBe(ROUTES.migrateVm);
    expect(routeOf(`#${ROUTES.vmMonitor}?x=1`).path).toBe(ROUTES.vmMonitor);
    expect(routeOf('#/nowhere').path).toBe(ROUTES.portal);
    expect(routeOf('').path).toBe(ROUTES.portal);
  });

  it('starts the migrate modal’s first requests before its page renders, with the page’s own query keys', async () => {
    const { routeOf } = await import('../../ui/app/router.tsx');
    const { createQueryClient } = await import('../../ui/app/queryClient.ts');
    const { vmQueries, environmentQueries } = await import('../../ui/features/migrate/migrate.queries.ts');
    const { fakeHost } = await import('./render.tsx');
    const calls: string[] = [];
    const api = {
      vm: async (id: string) => (calls.push(`vm ${id}`), { id }),
      migrateAccess: async (id: string) => (calls.push(`access ${id}`), { canMigrate: true }),
      environments: async () => (calls.push('environments'), { environments: [] }),
    } as unknown as import('../../ui/api/client.ts').Api;
    const queryClient = createQueryClient();
    routeOf(`#${ROUTES.migrateVm}`).prefetch?.(fakeHost('vm-42'), api, queryClient);
    expect(calls.sort()).toEqual(['access vm-42', 'environments', 'vm vm-42']);
    await vi.waitFor(() => expect(queryClient.getQueryData(vmQueries.detail(api, 'vm-42').queryKey)).toEqual({ id: 'vm-42' }));
    expect(queryClient.getQueryData(vmQueries.migrateAccess(api, 'vm-42').queryKey)).toEqual({ canMigrate: true });
    expect(queryClient.getQueryData(environmentQueries.list(api).queryKey)).toEqual({ environments: [] });
  });
});
