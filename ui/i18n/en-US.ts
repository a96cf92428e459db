// English strings. Labels a user meets follow the words of the AWS Connector for vCenter migration guide.
export const enUS = {
  'app.loading': 'Loading…',
  'app.unexpected': 'Something went wrong in the plugin.',
  'app.retry': 'Try again',
  'common.close': 'Close',
  'common.cancel': 'Cancel',
  'error.code': 'Error code: {code}',
  'migrate.title': 'Migrate VM to EC2',
  'migrate.sourceVm': 'Virtual machine',
  'migrate.vmName': 'Name',
  'migrate.guestOs': 'Guest OS',
  'migrate.powerState': 'Power state',
  'migrate.disks': 'Disks',
  'migrate.diskSummary': '{count} disk(s), {size} in total',
  'migrate.noVm': 'Select a virtual machine in the inventory, then choose Migrate VM to EC2.',
  'power.poweredOn': 'Powered on',
  'power.poweredOff': 'Powered off',
  'power.suspended': 'Suspended',
  'portal.title': 'AWS Management Portal',
  'portal.signedInAs': 'Signed in to vCenter as {user}',
  'vmMonitor.title': 'EC2 Migration',
  'vmMonitor.none': 'This virtual machine has not been migrated to Amazon EC2.',
} as const;

export type MessageKey = keyof typeof enUS;
export type Catalogue = Record<MessageKey, string>;
