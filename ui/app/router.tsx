import { createHashRouter, Navigate } from 'react-router';
import { ROUTES } from './routes.ts';

/** One route per manifest entry point; pages load lazily so each iframe fetches only its own view. */
export const router = createHashRouter([
  { path: ROUTES.migrateVm, lazy: async () => ({ Component: (await import('../features/migrate/MigrateVmPage.tsx')).MigrateVmPage }) },
  { path: ROUTES.portal, lazy: async () => ({ Component: (await import('../features/portal/PortalPage.tsx')).PortalPage }) },
  { path: ROUTES.vmMonitor, lazy: async () => ({ Component: (await import('../features/vm-monitor/VmMonitorPage.tsx')).VmMonitorPage }) },
  { path: '*', element: <Navigate to={ROUTES.portal} replace /> },
]);
