import { createHashRouter, Navigate } from 'react-router';
import { useT } from '../i18n/i18n.ts';
import { Spinner } from '../kit/Spinner.tsx';
import { ROUTES } from './routes.ts';

/** Shown while a lazily loaded page's code arrives on first load (the data router renders nothing without it). */
function PageLoading() {
  const t = useT();
  return <Spinner label={t('app.loading')} />;
}

/** One route per manifest entry point; pages load lazily so each iframe fetches only its own view. */
export const router = createHashRouter([
  {
    path: ROUTES.migrateVm,
    HydrateFallback: PageLoading,
    lazy: async () => ({ Component: (await import('../features/migrate/MigrateVmPage.tsx')).MigrateVmPage }),
  },
  { path: ROUTES.portal, HydrateFallback: PageLoading, lazy: async () => ({ Component: (await import('../features/portal/PortalPage.tsx')).PortalPage }) },
  {
    path: ROUTES.vmMonitor,
    HydrateFallback: PageLoading,
    lazy: async () => ({ Component: (await import('../features/vm-monitor/VmMonitorPage.tsx')).VmMonitorPage }),
  },
  { path: '*', element: <Navigate to={ROUTES.portal} replace /> },
]);
