import type { ComponentType } from 'react';
import type { QueryClient } from '@tanstack/react-query';
import type { Api } from '../api/client.ts';
import { contextVm, contextVms, type Host } from '../host/host.ts';
import { environmentQueries, regionQueries, vmQueries } from '../features/migrate/migrate.queries.ts';
import { ROUTES } from './routes.ts';

// No React here: the entry imports this to start the page's chunk before React itself has arrived.

export interface RouteDef {
  path: string;
  /** The page's own chunk: each iframe fetches only its view (the modal never loads the portal or administration). */
  load: () => Promise<ComponentType>;
  /** The page's first requests, started while its chunk downloads (same query options as the page, so no second call). */
  prefetch?: (host: Host, api: Api, queryClient: QueryClient) => void;
}

/** One route per manifest entry point (`index.html#<path>`). */
export const routes: RouteDef[] = [
  {
    path: ROUTES.migrateVm,
    load: async () => (await import('../features/migrate/MigrateVmPage.tsx')).MigrateVmPage,
    prefetch: (host, api, queryClient) => {
      const vm = contextVm(host);
      if (!('vmId' in vm)) return; // the page shows the host problem
      void queryClient.prefetchQuery(vmQueries.detail(api, vm.vmId));
      void queryClient.prefetchQuery(vmQueries.migrateAccess(api, vm.vmId));
      void queryClient.prefetchQuery(environmentQueries.list(api));
    },
  },
  {
    path: ROUTES.migrateWave,
    load: async () => (await import('../features/wave/WavePage.tsx')).WavePage,
    prefetch: (host, api, queryClient) => {
      const vms = contextVms(host);
      if (!('vmIds' in vms)) return;
      for (const id of vms.vmIds) void queryClient.prefetchQuery(vmQueries.detail(api, id));
      void queryClient.prefetchQuery(environmentQueries.list(api));
    },
  },
  {
    path: ROUTES.portal,
    load: async () => (await import('../features/portal/PortalPage.tsx')).PortalPage,
    prefetch: (_host, api, queryClient) => {
      void import('../features/portal/portal.queries.ts').then(({ meQuery }) => queryClient.prefetchQuery(meQuery(api)));
      void queryClient.prefetchQuery(environmentQueries.list(api));
      void queryClient.prefetchQuery(regionQueries.list(api));
    },
  },
  { path: ROUTES.vmMonitor, load: async () => (await import('../features/vm-monitor/VmMonitorPage.tsx')).VmMonitorPage },
];
const fallback = routes.find((r) => r.path === ROUTES.portal)!;

/** The route of a location hash (`#/vm/migrate?x` → the migrate route); anything else is the portal. */
export function routeOf(hash: string): RouteDef {
  const path = hash.replace(/^#/, '').split('?')[0];
  return routes.find((r) => r.path === path) ?? fallback;
}

const loading = new Map<RouteDef, Promise<ComponentType>>();
const loaded = new Map<RouteDef, ComponentType>();
/** The route's page, its chunk requested once however often this is called. */
export function loadPage(route: RouteDef): Promise<ComponentType> {
  let page = loading.get(route);
  if (!page) {
    page = route.load().then((Component) => (loaded.set(route, Component), Component));
    loading.set(route, page);
  }
  return page;
}
/** The page once its chunk has arrived: rendered directly, it never suspends. */
export const loadedPage = (route: RouteDef): ComponentType | undefined => loaded.get(route);
