/** Stable test ids (`data-test`), shared by the UI and the Playwright journeys. */
export const testIds = {
  shell: { loading: 'shell-loading', error: 'shell-error' },
  migrate: {
    page: 'migrate-page',
    vmName: 'migrate-vm-name',
    guestOs: 'migrate-guest-os',
    powerState: 'migrate-power-state',
    disks: 'migrate-disks',
    close: 'migrate-close',
  },
  portal: { page: 'portal-page', user: 'portal-user' },
  vmMonitor: { page: 'vm-monitor-page' },
  apiError: 'api-error',
} as const;
