// The migrate modal's part of the test-id registry (ui/testIds.ts, which everything else imports): the modal's code
// imports this module alone, so its chunks carry no other screen's ids.

const shell = { loading: 'shell-loading', error: 'shell-error', hostProblem: 'shell-host-problem' } as const;

const migrate = {
  page: 'migrate-page',
  vmName: 'migrate-vm-name',
  guestOs: 'migrate-guest-os',
  powerState: 'migrate-power-state',
  disks: 'migrate-disks',
  close: 'migrate-close',
  form: 'migrate-form',
  os: 'migrate-os',
  region: 'migrate-region',
  environment: 'migrate-environment',
  subnet: 'migrate-subnet',
  instanceType: 'migrate-instance-type',
  securityGroup: 'migrate-security-group',
  privateIp: 'migrate-private-ip',
  checks: 'migrate-checks',
  check: (severity: string) => `migrate-check-${severity}`,
  begin: 'migrate-begin',
  result: 'migrate-result',
  taskId: 'migrate-task-id',
  noPermission: 'migrate-no-permission',
  accessMissing: 'migrate-access-missing',
  accessGap: (code: string) => `migrate-access-${code}`,
  updating: 'migrate-updating',
  firstProblem: 'migrate-first-problem',
  mode: (mode: string) => `migrate-mode-${mode}`,
  interval: 'migrate-interval',
  cutoverShutdown: (how: string) => `migrate-cutover-${how}`,
  imagePath: (path: string) => `migrate-image-${path}`,
  advanced: 'migrate-advanced',
  advancedBite: (code: string) => `migrate-advanced-check-${code}`,
  license: (type: string) => `migrate-license-${type}`,
  licenseRule: 'migrate-license-rule',
  encrypted: 'migrate-encrypted',
  kmsKey: 'migrate-kms-key',
  bootMode: 'migrate-boot-mode',
  tags: 'migrate-tags',
} as const;

const apiError = 'api-error';

export const modalTestIds = { shell, migrate, apiError } as const;
