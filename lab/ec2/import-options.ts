// ImportImage's licence, encryption and boot mode parameters: what the call itself refuses, and what AWS only
// finds out while the task runs (the KMS key is parsed asynchronously; the OS is detected during conversion).
import { identityPoliciesAllow, keyPolicyVerdict } from '../kms/policy.ts';
import { KmsError, VMIMPORT_KMS_ACTIONS, type KmsKey } from '../kms/store.ts';
import { Ec2Error } from './errors.ts';
import { USAGE_OPERATIONS } from './licensing.ts';
import type { Params } from './query.ts';
import type { Core, ImportTask, RegionState } from './state.ts';

export interface RequestedImportOptions {
  licenseType?: 'AWS' | 'BYOL';
  usageOperation?: string;
  encrypted: boolean;
  kmsKeyId?: string;
  bootMode?: 'legacy-bios' | 'uefi';
}

/** The refusals AWS documents for the call itself. */
export function readImportOptions(p: Params, snapshotDisks: boolean): RequestedImportOptions {
  const licenseType = p.str('LicenseType');
  if (licenseType !== undefined && licenseType !== 'AWS' && licenseType !== 'BYOL') {
    throw new Ec2Error('InvalidParameterValue', `Value (${licenseType}) for parameter LicenseType is invalid. Valid values: AWS | BYOL.`);
  }
  const usageOperation = p.str('UsageOperation');
  if (usageOperation !== undefined && licenseType !== undefined) {
    throw new Ec2Error('InvalidParameterCombination', 'Specify either LicenseType or UsageOperation, not both.');
  }
  if (usageOperation !== undefined && !(usageOperation in USAGE_OPERATIONS)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${usageOperation}) for parameter UsageOperation is invalid. Valid values: ${Object.keys(USAGE_OPERATIONS).join(' | ')}.`);
  }
  const encrypted = p.bool('Encrypted') ?? false;
  const kmsKeyId = p.str('KmsKeyId');
  if (kmsKeyId !== undefined && !encrypted) {
    throw new Ec2Error('InvalidParameterCombination', 'KmsKeyId can be specified only when Encrypted is true.');
  }
  const bootMode = p.str('BootMode');
  if (bootMode === 'uefi-preferred') {
    throw new Ec2Error('InvalidParameterValue', "The uefi-preferred boot mode isn't supported for importing images. Specify legacy-bios or uefi.");
  }
  if (bootMode !== undefined && bootMode !== 'legacy-bios' && bootMode !== 'uefi') {
    throw new Ec2Error('InvalidParameterValue', `Value (${bootMode}) for parameter BootMode is invalid. Valid values: legacy-bios | uefi.`);
  }
  if (bootMode === 'uefi' && snapshotDisks && p.str('Platform') === undefined) {
    throw new Ec2Error('MissingParameter', 'Importing a UEFI VM from an EBS snapshot requires the parameter Platform (Windows | Linux).');
  }
  return {
    ...(licenseType !== undefined ? { licenseType } : {}),
    ...(usageOperation !== undefined ? { usageOperation } : {}),
    encrypted,
    ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
    ...(bootMode !== undefined ? { bootMode } : {}),
  };
}

/** Whether a role may use a key for EBS encryption: the key policy allows it, or delegates to IAM and the role's policies allow it. */
export function roleMayUseKey(core: Core, roleName: string, key: KmsKey): boolean {
  const roleArn = `arn:aws:iam::${core.accountId}:role/${roleName}`;
  const policies = core.iam.roles.get(roleName)?.inlinePolicies.values() ?? [];
  const docs = [...policies];
  return VMIMPORT_KMS_ACTIONS.every((action) => {
    const verdict = keyPolicyVerdict(key.policy, core.accountId, roleArn, action);
    return verdict === 'allow' || (verdict === 'iam' && identityPoliciesAllow(docs, action));
  });
}

/**
 * The key an encrypted import uses (the account's aws/ebs key when none is given), or the StatusMessage the task
 * fails with: a missing, disabled, pending-deletion or asymmetric key, or one the import role may not use.
 */
export function resolveImportKey(core: Core, region: RegionState, task: Readonly<ImportTask>): { arn: string } | { error: string } {
  const ref = task.kmsKeyId ?? 'alias/aws/ebs';
  let key: KmsKey;
  try {
    key = core.kms.resolve(region.name, ref);
  } catch (err) {
    if (err instanceof KmsError) return { error: `ClientError: The KMS key ${ref} was not found in ${region.name}.` };
    throw err;
  }
  if (key.state === 'Disabled') return { error: `ClientError: The KMS key ${key.arn} is disabled.` };
  if (key.state === 'PendingDeletion') return { error: `ClientError: The KMS key ${key.arn} is pending deletion.` };
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.keyUsage !== 'ENCRYPT_DECRYPT') {
    return { error: `ClientError: The KMS key ${key.arn} is asymmetric (${key.keySpec}); Amazon EBS supports only symmetric encryption keys.` };
  }
  if (!roleMayUseKey(core, task.roleName, key)) {
    return { error: `ClientError: The service role ${task.roleName} is not allowed to use the KMS key ${key.arn}; allow it in the key policy (${VMIMPORT_KMS_ACTIONS.join(', ')}).` };
  }
  return { arn: key.arn };
}

/** The instance cannot start with a volume whose key is not usable (EC2 ends the launch with this state reason). */
export function launchKeyProblem(core: Core, region: string, keyArns: (string | undefined)[]): { code: string; message: string } | undefined {
  for (const arn of keyArns) {
    if (arn === undefined) continue;
    let state: string;
    try {
      state = core.kms.resolve(region, arn).state;
    } catch {
      return { code: 'Client.InvalidKMSKey.InvalidState', message: 'Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state' };
    }
    if (state !== 'Enabled') return { code: 'Client.InvalidKMSKey.InvalidState', message: 'Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state' };
  }
  return undefined;
}
