import { z } from 'zod';

// Issue 18: what enterprises must choose for an import — licence model, encryption with their KMS key, tags — and
// what AWS actually applied (read back from AWS, never echoed from the request). Boot mode is not a choice: it
// follows the VM's firmware in vCenter.

/**
 * ImportImage LicenseType: AWS replaces the source licence with an AWS-provided one; BYOL keeps the guest's own.
 * Left unset, AWS picks AWS for Windows Server and BYOL for Windows client and Linux guests.
 */
export const LicenseType = z.enum(['AWS', 'BYOL']);
export type LicenseType = z.infer<typeof LicenseType>;

/** EC2 BootMode values of an imported image. */
export const BootMode = z.enum(['legacy-bios', 'uefi']);
export type BootMode = z.infer<typeof BootMode>;

/** A KMS key as ImportImage's KmsKeyId accepts it: key id, key ARN, alias name or alias ARN. */
export const KmsKeyRef = z
  .string()
  .max(2048)
  .regex(
    /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias\/[A-Za-z0-9/_-]{1,250}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/[A-Za-z0-9-]+|alias\/[A-Za-z0-9/_-]{1,250}))$/,
    'A KMS key is a key ID (1234abcd-12ab-34cd-56ef-1234567890ab), a key ARN, an alias (alias/my-key) or an alias ARN.',
  );

/** Tag rules as EC2 validates them (user-defined tags: 1–128 character key, 0–256 character value, no aws: prefix). */
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const AwsTag = z.strictObject({
  key: z
    .string()
    .min(1, 'A tag needs a key.')
    .max(128, 'A tag key has at most 128 characters.')
    .regex(TAG_CHARS, 'A tag key may use letters, numbers, spaces and _ . : / = + - @.')
    .refine((k) => !k.toLowerCase().startsWith('aws:'), 'Tag keys starting with aws: are reserved for AWS.'),
  value: z.string().max(256, 'A tag value has at most 256 characters.').regex(TAG_CHARS, 'A tag value may use letters, numbers, spaces and _ . : / = + - @.'),
}).meta({ id: 'AwsTag' });
export type AwsTag = z.infer<typeof AwsTag>;

/** At most 50 tags per resource (EC2); our own vm2ec2:* tags come on top and are not counted here. */
export const AwsTagList = z
  .array(AwsTag)
  .max(40, 'Use at most 40 tags: EC2 allows 50 per resource and vm2ec2 adds its own.')
  .refine((tags) => new Set(tags.map((t) => t.key)).size === tags.length, 'Each tag key may appear only once.');

export const ImportEncryption = z.strictObject({
  encrypted: z.boolean(),
  /** Absent with encrypted=true: the environment's default key, else the account's aws/ebs key. */
  kmsKeyId: KmsKeyRef.optional(),
}).refine((e) => e.encrypted || e.kmsKeyId === undefined, { message: 'A KMS key applies only when the volumes are encrypted.', path: ['kmsKeyId'] })
  .meta({ id: 'ImportEncryption' });
export type ImportEncryption = z.infer<typeof ImportEncryption>;

/** The migration form's "Advanced" section. Anything left out takes the environment's default. */
export const ImportOptions = z.strictObject({
  licenseType: LicenseType.optional(),
  encryption: ImportEncryption.optional(),
  /** Added to the environment's default tags; the same key here replaces the default's value. */
  tags: AwsTagList.optional(),
}).meta({ id: 'ImportOptions' });
export type ImportOptions = z.infer<typeof ImportOptions>;

/** What an administrator sets per environment (Administration → Environments). */
export const EnvironmentImportDefaults = z.strictObject({
  licenseType: LicenseType.default('AWS'),
  encryption: ImportEncryption.default({ encrypted: false }),
  tags: AwsTagList.default([]),
}).meta({ id: 'EnvironmentImportDefaults' });
export type EnvironmentImportDefaults = z.infer<typeof EnvironmentImportDefaults>;
/** The same defaults as an environment returns them (every field present): its own schema, so the API document does not need an input and an output variant of one id. */
export const EnvironmentImportDefaultsView = z.object({
  licenseType: LicenseType,
  encryption: ImportEncryption,
  tags: z.array(AwsTag),
}).meta({ id: 'EnvironmentImportDefaultsView' });

/** Read back from AWS after the import/launch (DescribeImportImageTasks, DescribeImages, DescribeVolumes). */
export const AppliedImportOptions = z.object({
  licenseType: z.string().optional(),
  usageOperation: z.string().optional(),
  bootMode: BootMode.optional(),
  encrypted: z.boolean().optional(),
  /** The key ARN AWS reports on the volumes. */
  kmsKeyId: z.string().optional(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
}).meta({ id: 'AppliedImportOptions' });
export type AppliedImportOptions = z.infer<typeof AppliedImportOptions>;

/** GET /environments/{id}/kms-keys: the keys an import in this environment may use. */
export const KmsKeyOption = z.object({
  keyId: z.string(),
  arn: z.string(),
  aliases: z.array(z.string()),
  description: z.string(),
  /** Enabled, symmetric ENCRYPT_DECRYPT and usable by the vmimport role. */
  usable: z.boolean(),
  /** Why not, in words the user can act on. */
  reason: z.string().optional(),
}).meta({ id: 'KmsKeyOption' });
export type KmsKeyOption = z.infer<typeof KmsKeyOption>;
export const KmsKeyList = z.object({ keys: z.array(KmsKeyOption) }).meta({ id: 'KmsKeyList' });
export type KmsKeyList = z.infer<typeof KmsKeyList>;

/** The options a task runs with: the request merged over the environment's defaults, boot mode from the VM's firmware. */
export const EffectiveImportOptions = z.object({
  licenseType: LicenseType,
  encrypted: z.boolean(),
  kmsKeyId: z.string().optional(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })),
  bootMode: BootMode.optional(),
}).meta({ id: 'EffectiveImportOptions' });
export type EffectiveImportOptions = z.infer<typeof EffectiveImportOptions>;
