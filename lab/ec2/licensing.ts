// VM Import licensing (VM Import/Export user guide, "Licensing options"; EC2 user guide, "AMI billing information
// fields"): which LicenseType / UsageOperation an imported OS accepts, and the billing codes the AMI then carries.
import type { ImportTask } from './state.ts';

/** What VM Import detects on the disk. The lab cannot look inside its generated disks, so it is configured. */
export type GuestOs = 'windows-server' | 'windows-client' | 'linux';

export interface GuestOsRule {
  /** A predicate on the task, or a pattern tested against every disk's S3 key, URL and source snapshot id. */
  match: RegExp | ((task: Readonly<ImportTask>) => boolean);
  os: GuestOs;
}

export interface Billing {
  licenseType: 'AWS' | 'BYOL';
  usageOperation: string;
  platformDetails: string;
}

/** The UsageOperation values ImportImage accepts, with the family of OS each one bills. */
export const USAGE_OPERATIONS: Record<string, { platformDetails: string; family: 'windows' | 'linux'; licenseType: 'AWS' | 'BYOL' }> = {
  'RunInstances:0002': { platformDetails: 'Windows', family: 'windows', licenseType: 'AWS' },
  'RunInstances:0006': { platformDetails: 'Windows with SQL Server Standard', family: 'windows', licenseType: 'AWS' },
  'RunInstances:0102': { platformDetails: 'Windows with SQL Server Enterprise', family: 'windows', licenseType: 'AWS' },
  'RunInstances:0202': { platformDetails: 'Windows with SQL Server Web', family: 'windows', licenseType: 'AWS' },
  'RunInstances:0800': { platformDetails: 'Windows BYOL', family: 'windows', licenseType: 'BYOL' },
  RunInstances: { platformDetails: 'Linux/UNIX', family: 'linux', licenseType: 'BYOL' },
  'RunInstances:0004': { platformDetails: 'Linux with SQL Server Standard', family: 'linux', licenseType: 'BYOL' },
  'RunInstances:0100': { platformDetails: 'Linux with SQL Server Enterprise', family: 'linux', licenseType: 'BYOL' },
  'RunInstances:0200': { platformDetails: 'Linux with SQL Server Web', family: 'linux', licenseType: 'BYOL' },
};

const OS_NAMES: Record<GuestOs, string> = { 'windows-server': 'Windows Server', 'windows-client': 'Windows client', linux: 'Linux' };

/**
 * The billing an import of `os` gets, or the StatusMessage of the failed task: AWS fails the import task (not the
 * call) when the licence does not fit the VM. Left unset: AWS for Windows Server, BYOL for Windows client and Linux.
 */
export function billingFor(os: GuestOs, licenseType: string | undefined, usageOperation: string | undefined): Billing | { error: string } {
  const family = os === 'linux' ? 'linux' : 'windows';
  if (usageOperation !== undefined) {
    const op = USAGE_OPERATIONS[usageOperation];
    if (!op) return { error: `ClientError: Unsupported usage operation ${usageOperation}.` };
    if (op.family !== family || (os === 'windows-client' && op.licenseType !== 'BYOL')) {
      return { error: `ClientError: Usage operation ${usageOperation} (${op.platformDetails}) is not supported for the detected operating system (${OS_NAMES[os]}).` };
    }
    return { licenseType: op.licenseType, usageOperation, platformDetails: op.platformDetails };
  }
  const license = licenseType ?? (os === 'windows-server' ? 'AWS' : 'BYOL');
  if (license === 'AWS' && os !== 'windows-server') {
    return { error: `ClientError: License type AWS is not supported for the detected operating system (${OS_NAMES[os]}); it supports BYOL only.` };
  }
  if (family === 'linux') return { licenseType: 'BYOL', usageOperation: 'RunInstances', platformDetails: 'Linux/UNIX' };
  return license === 'AWS'
    ? { licenseType: 'AWS', usageOperation: 'RunInstances:0002', platformDetails: 'Windows' }
    : { licenseType: 'BYOL', usageOperation: 'RunInstances:0800', platformDetails: 'Windows BYOL' };
}

/** What VM Import finds on the task's disks: a configured rule, else what the Platform parameter says. */
export function detectGuestOs(rules: readonly GuestOsRule[], task: Readonly<ImportTask>): GuestOs | undefined {
  for (const rule of rules) {
    const hit =
      typeof rule.match === 'function'
        ? rule.match(task)
        : task.disks.some((d) => [d.key, d.url, d.sourceSnapshotId].some((s) => s !== undefined && (rule.match as RegExp).test(s)));
    if (hit) return rule.os;
  }
  if (task.platform === 'Windows') return 'windows-server';
  if (task.platform === 'Linux') return 'linux';
  return undefined;
}
