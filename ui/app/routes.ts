/** Every manifest entry point's hash route (`index.html#<route>`). The manifest test checks they match. */
export const ROUTES = {
  migrateVm: '/vm/migrate',
  migrateWave: '/vms/migrate',
  portal: '/portal',
  vmMonitor: '/vm/monitor',
} as const;
export type RouteName = keyof typeof ROUTES;
