// Issue 18: the migration form's Advanced choices merged over the environment's defaults, and the combinations AWS
// refuses as pre-flight blockers (so they never become a failed task after the copy). Pure: the facts come in.
import type { AwsTag, BootMode, EffectiveImportOptions, EnvironmentImportDefaults, GuestPlatform, ImportOptions, LicenseType, PreflightCheck, VmFirmware } from '../contract/index.ts';
import type { KeyAssessment } from '../aws/kms-keys.ts';

/** Tags vm2ec2 sets itself on every resource; a user tag may not take these keys. */
const RESERVED_TAG = /^(vm2ec2:|aws-management-portal\/)/i;
/** What the contract allows per list; our own tags come on top within EC2's 50. */
export const MAX_USER_TAGS = 40;

export interface MergedOptions {
  options: EffectiveImportOptions;
  /** Whether the licence type was chosen in the request (not the environment's default). */
  licenseFromRequest: boolean;
}

/** The request over the environment's defaults; the same tag key in the request replaces the default's value. */
export function mergeImportOptions(defaults: EnvironmentImportDefaults, request: ImportOptions | undefined, bootMode?: BootMode): MergedOptions {
  const enc = request?.encryption ?? defaults.encryption;
  // A request that encrypts without naming a key takes the environment's default key.
  const kmsKeyId = enc.encrypted ? (enc.kmsKeyId ?? (request?.encryption ? defaults.encryption.kmsKeyId : undefined)) : undefined;
  const requested = request?.tags ?? [];
  const keys = new Set(requested.map((t) => t.key));
  const tags: AwsTag[] = [...defaults.tags.filter((t) => !keys.has(t.key)), ...requested];
  return {
    options: {
      licenseType: request?.licenseType ?? defaults.licenseType,
      encrypted: enc.encrypted,
      ...(kmsKeyId ? { kmsKeyId } : {}),
      tags,
      ...(bootMode ? { bootMode } : {}),
    },
    licenseFromRequest: request?.licenseType !== undefined,
  };
}

/** Windows Server or Windows client (Windows 7–11), from the vSphere guest id; undefined when not Windows or not known. */
export function windowsEdition(guestId: string): 'server' | 'client' | undefined {
  if (!/^win/i.test(guestId)) return undefined;
  if (/srv|server|winNet|winLonghorn/i.test(guestId)) return 'server';
  if (/^windows(7|8|9|11|12)(_64)?Guest$/i.test(guestId)) return 'client';
  return undefined;
}

/** The EC2 boot mode of a firmware: EFI (with or without secure boot) imports as uefi. */
export const bootModeOf = (firmware: 'bios' | 'efi'): BootMode => (firmware === 'efi' ? 'uefi' : 'legacy-bios');

/**
 * VM Import's licence rules (VM Import/Export user guide, "Licensing options"): Linux and Windows client guests take
 * only BYOL; Windows Server takes AWS or BYOL, and a Windows Server licence brought to AWS must run on Dedicated
 * Hosts, which the connector does not launch on. An environment default that does not fit the guest is replaced by the
 * one AWS allows (said as info); a choice in the request that does not fit is a blocker.
 */
export function licenseChecks(
  licenseType: LicenseType,
  fromRequest: boolean,
  platform: GuestPlatform | undefined,
  guestId: string,
): { licenseType: LicenseType; checks: PreflightCheck[] } {
  const edition = platform === 'Linux' ? undefined : windowsEdition(guestId);
  const byolOnly = platform === 'Linux' ? 'Linux' : edition === 'client' ? 'Windows client (such as Windows 10 or 11)' : undefined;
  if (byolOnly && licenseType === 'AWS') {
    if (!fromRequest) {
      return {
        licenseType: 'BYOL',
        checks: [
          {
            code: 'LICENSE_TYPE_ADJUSTED',
            severity: 'info',
            message: `${byolOnly} guests are imported with their own license (BYOL): AWS provides no license for them. The environment's default, AWS-provided license, does not apply to this VM.`,
            details: { licenseType: 'BYOL' },
          },
        ],
      };
    }
    return {
      licenseType,
      checks: [
        {
          code: 'LICENSE_TYPE_NOT_ALLOWED',
          severity: 'blocker',
          message: `AWS imports ${byolOnly} guests only with their own license (BYOL); it refuses an AWS-provided license for them.`,
          fix: 'Under Advanced, choose Bring your own license (BYOL) as the license type.',
        },
      ],
    };
  }
  if (licenseType === 'BYOL' && platform !== 'Linux' && edition === 'server') {
    return {
      licenseType,
      checks: [
        {
          code: 'BYOL_NEEDS_DEDICATED_HOST',
          severity: 'blocker',
          message:
            'A Windows Server license you bring to AWS (BYOL) may run only on Dedicated Hosts, and the connector launches the instance on shared tenancy.',
          fix: fromRequest
            ? 'Under Advanced, choose AWS-provided license as the license type, or import this VM with AWS VM Import/Export yourself and launch it on a Dedicated Host.'
            : "The environment's default license type is BYOL: under Advanced, choose AWS-provided license for this VM.",
        },
      ],
    };
  }
  return { licenseType, checks: [] };
}

/** The merged tags: none with a key vm2ec2 sets itself, and at most MAX_USER_TAGS (EC2 allows 50 per resource). */
export function tagChecks(tags: readonly AwsTag[]): PreflightCheck[] {
  const out: PreflightCheck[] = [];
  const reserved = tags.filter((t) => RESERVED_TAG.test(t.key)).map((t) => t.key);
  if (reserved.length > 0) {
    out.push({
      code: 'TAG_KEY_RESERVED',
      severity: 'blocker',
      message: `The tag key${reserved.length > 1 ? 's' : ''} ${reserved.join(', ')} ${reserved.length > 1 ? 'are' : 'is'} set by the connector itself on every migrated resource.`,
      fix: 'Use another tag key (keys starting with vm2ec2: or aws-management-portal/ are reserved).',
      details: { keys: reserved },
    });
  }
  if (tags.length > MAX_USER_TAGS) {
    out.push({
      code: 'TOO_MANY_TAGS',
      severity: 'blocker',
      message: `The environment's default tags and this migration's tags make ${tags.length} tags; at most ${MAX_USER_TAGS} fit, because EC2 allows 50 per resource and the connector adds its own.`,
      fix: 'Remove tags under Advanced, or ask your administrator to shorten the environment’s default tags.',
      details: { count: tags.length, max: MAX_USER_TAGS },
    });
  }
  return out;
}

/** The KMS key exists in the region, is enabled, symmetric and for encryption, and the import role may use it. */
export function kmsChecks(ref: string, region: string, assessment: KeyAssessment): PreflightCheck[] {
  if (!assessment.found) {
    return [
      {
        code: 'KMS_KEY_NOT_FOUND',
        severity: 'blocker',
        message: `${assessment.message} Imported volumes can be encrypted only with a key in the environment's region.`,
        fix: 'Under Advanced, choose a key from the list, or ask your administrator to correct the environment’s default key.',
        details: { kmsKeyId: ref, region },
      },
    ];
  }
  const name = assessment.aliases[0] ?? ref;
  if (assessment.problem) {
    return [{ code: 'KMS_KEY_NOT_USABLE', severity: 'blocker', message: `The KMS key ${name}: ${assessment.problem}`, fix: 'Under Advanced, choose a key the list marks usable.', details: { kmsKeyId: assessment.arn } }];
  }
  if (assessment.policyProblem) {
    return [
      {
        code: 'KMS_KEY_NOT_ALLOWED_FOR_IMPORT_ROLE',
        severity: 'blocker',
        message: `The KMS key ${name} cannot be used for the import. ${assessment.policyProblem}`,
        fix: 'Ask your AWS administrator to allow the VM Import service role kms:CreateGrant, kms:Decrypt, kms:DescribeKey, kms:Encrypt, kms:GenerateDataKey* and kms:ReEncrypt* on the key, or choose another key.',
        details: { kmsKeyId: assessment.arn },
      },
    ];
  }
  if (assessment.unreadable) {
    return [{ code: 'KMS_KEY_UNREADABLE', severity: 'warning', message: assessment.unreadable, fix: 'Allow the connector kms:GetKeyPolicy and iam:GetRole, or make sure yourself that the VM Import service role may use the key.', details: { kmsKeyId: assessment.arn } }];
  }
  return [];
}

/** A UEFI guest boots only on an instance type that supports UEFI (Nitro types; DescribeInstanceTypes SupportedBootModes). */
export function uefiChecks(firmware: VmFirmware | undefined, instanceType: string | undefined, supported: string[] | undefined): PreflightCheck[] {
  if (firmware?.bootMode !== 'uefi' || !instanceType || !supported || supported.includes('uefi')) return [];
  return [
    {
      code: 'INSTANCE_TYPE_NO_UEFI',
      severity: 'blocker',
      message: `The VM boots with UEFI${firmware.secureBoot ? ' (secure boot)' : ''}, and the instance type ${instanceType} supports only ${supported.join(', ') || 'legacy BIOS'} boot.`,
      fix: 'Select an instance type built on the Nitro System (for example m5.large); the list offers only types that support UEFI for this VM.',
      details: { instanceType, supportedBootModes: supported },
    },
  ];
}
