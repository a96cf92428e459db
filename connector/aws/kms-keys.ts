// The KMS keys an import may encrypt with, and why a key cannot be used (issue 18). Read with the connector's
// AWS identity in the environment's region; "usable" also means the VM Import service role may use the key.
import { DescribeKeyCommand, GetKeyPolicyCommand, paginateListAliases, paginateListKeys, type KeyMetadata } from '@aws-sdk/client-kms';
import type { KmsKeyOption } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { awsErrorName, toAwsAppError } from './errors.ts';
import type { AwsGateway, ImportRoleFacts } from './gateway.ts';
import { keyUsableByRole } from './vmimport-role.ts';

const EBS_ALIAS = 'alias/aws/ebs';

/** Why the key cannot encrypt imported volumes, judged from DescribeKey alone; undefined when it can. */
export function keyMetadataProblem(meta: KeyMetadata, aliases: readonly string[]): string | undefined {
  const state = meta.KeyState ?? 'Unknown';
  if (state === 'PendingDeletion') {
    const when = meta.DeletionDate ? ` on ${meta.DeletionDate.toISOString().slice(0, 10)}` : '';
    return `The key is scheduled for deletion${when}. Cancel its deletion in AWS KMS, or choose another key.`;
  }
  if (state === 'Disabled') return 'The key is disabled. Enable it in AWS KMS, or choose another key.';
  if (state !== 'Enabled') return `The key is ${state}, not Enabled. Choose an enabled key.`;
  const spec = meta.KeySpec ?? 'SYMMETRIC_DEFAULT';
  if (spec !== 'SYMMETRIC_DEFAULT') return `The key is asymmetric (${spec}); EBS encrypts volumes only with symmetric keys. Choose a symmetric key.`;
  if ((meta.KeyUsage ?? 'ENCRYPT_DECRYPT') !== 'ENCRYPT_DECRYPT') return `The key is for ${meta.KeyUsage}, not for encryption. Choose an encryption key.`;
  if (meta.KeyManager === 'AWS' && !aliases.includes(EBS_ALIAS)) {
    return `This AWS managed key belongs to ${aliases[0]?.replace(/^alias\/aws\//, '') ?? 'another service'}; only aws/ebs encrypts EBS volumes. Choose aws/ebs or a customer managed key.`;
  }
  return undefined;
}

/** Whether the import role may use the key, in words; undefined when it may. */
export async function keyPolicyProblem(aws: AwsGateway, region: string, keyId: string, role: ImportRoleFacts): Promise<{ problem?: string; unreadable?: string }> {
  if (!role.exists) return { problem: `The VM Import service role "${role.roleName}" does not exist. Create it (npx vm2ec2 doctor --fix), then choose the key.` };
  if (!role.arn) return { unreadable: `The connector may not read the VM Import service role "${role.roleName}", so it cannot check that the role may use the key.` };
  let policy: unknown;
  try {
    const out = await aws.kms(region).send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    policy = JSON.parse(out.Policy ?? '{}');
  } catch (err) {
    const e = toAwsAppError(err, { action: 'kms:GetKeyPolicy', where: `KMS in ${region}` });
    if (e.code === 'AWS_ACCESS_DENIED') return { unreadable: `The connector may not read the key policy (kms:GetKeyPolicy), so it cannot check that the VM Import service role "${role.roleName}" may use the key.` };
    throw e;
  }
  const verdict = keyUsableByRole(policy, role.arn, role.policies);
  if (!verdict) return {};
  return verdict.where === 'key-policy'
    ? { problem: `The key policy does not let the VM Import service role "${role.roleName}" use the key (${verdict.missing.join(', ')}). Add the role to the key policy, or choose another key.` }
    : { problem: `The key policy leaves the key's use to IAM, and the IAM policy of the VM Import service role "${role.roleName}" does not allow ${verdict.missing.join(', ')}. Add them to the role's policy, or choose another key.` };
}

/** Every key in the region with its aliases, each marked usable or not with the reason. */
export async function listImportKmsKeys(aws: AwsGateway, region: string, role: ImportRoleFacts): Promise<KmsKeyOption[]> {
  const kms = aws.kms(region);
  const where = `KMS in ${region}`;
  const aliases = new Map<string, string[]>();
  const keyIds: string[] = [];
  try {
    for await (const page of paginateListAliases({ client: kms }, {})) {
      for (const a of page.Aliases ?? []) {
        if (!a.TargetKeyId || !a.AliasName) continue;
        aliases.set(a.TargetKeyId, [...(aliases.get(a.TargetKeyId) ?? []), a.AliasName]);
      }
    }
    for await (const page of paginateListKeys({ client: kms }, {})) for (const k of page.Keys ?? []) if (k.KeyId) keyIds.push(k.KeyId);
  } catch (err) {
    throw toAwsAppError(err, { action: 'kms:ListKeys', where });
  }
  const options = await Promise.all(
    keyIds.map(async (keyId): Promise<KmsKeyOption | undefined> => {
      let meta: KeyMetadata | undefined;
      try {
        meta = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
      } catch (err) {
        if (awsErrorName(err) === 'NotFoundException') return undefined;
        throw toAwsAppError(err, { action: 'kms:DescribeKey', where });
      }
      if (!meta) return undefined;
      const names = (aliases.get(keyId) ?? []).sort();
      const base = { keyId, arn: meta.Arn ?? keyId, aliases: names, description: meta.Description ?? '' };
      const problem = keyMetadataProblem(meta, names) ?? (await keyPolicyProblem(aws, region, keyId, role));
      if (typeof problem === 'string') return { ...base, usable: false, reason: problem };
      if (problem.problem) return { ...base, usable: false, reason: problem.problem };
      return { ...base, usable: true, ...(problem.unreadable ? { reason: problem.unreadable } : {}) };
    }),
  );
  // Usable first, then by alias (keys without an alias last), as a picker lists them.
  const label = (k: KmsKeyOption) => k.aliases[0] ?? `~${k.keyId}`;
  return options.filter((o): o is KmsKeyOption => o !== undefined).sort((a, b) => Number(b.usable) - Number(a.usable) || label(a).localeCompare(label(b)));
}

export type KeyAssessment =
  | { found: false; message: string }
  | { found: true; arn: string; aliases: string[]; problem?: string; policyProblem?: string; unreadable?: string };

/** One key by id, ARN, alias or alias ARN, as ImportImage's KmsKeyId takes it. */
export async function assessImportKey(aws: AwsGateway, region: string, ref: string, role: ImportRoleFacts): Promise<KeyAssessment> {
  let meta: KeyMetadata | undefined;
  try {
    meta = (await aws.kms(region).send(new DescribeKeyCommand({ KeyId: ref }))).KeyMetadata;
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'NotFoundException' || name === 'InvalidArnException') {
      return { found: false, message: `There is no KMS key ${ref} in ${region}.` };
    }
    throw toAwsAppError(err, { action: 'kms:DescribeKey', where: `KMS in ${region}` });
  }
  if (!meta?.KeyId) return { found: false, message: `There is no KMS key ${ref} in ${region}.` };
  const names: string[] = [];
  if (ref.includes('alias/')) names.push(ref.slice(ref.indexOf('alias/')));
  if (meta.KeyManager === 'AWS' && names.length === 0) {
    // An AWS managed key named by id: its alias says which service it belongs to.
    try {
      for await (const page of paginateListAliases({ client: aws.kms(region) }, { KeyId: meta.KeyId })) for (const a of page.Aliases ?? []) if (a.AliasName) names.push(a.AliasName);
    } catch (err) {
      throw toAwsAppError(err, { action: 'kms:ListAliases', where: `KMS in ${region}` });
    }
  }
  const problem = keyMetadataProblem(meta, names);
  const arn = meta.Arn ?? meta.KeyId;
  if (problem) return { found: true, arn, aliases: names, problem };
  const policy = await keyPolicyProblem(aws, region, meta.KeyId, role);
  return { found: true, arn, aliases: names, ...(policy.problem ? { policyProblem: policy.problem } : {}), ...(policy.unreadable ? { unreadable: policy.unreadable } : {}) };
}

/** The import role's facts; a connector that may not read IAM still lists keys (each says the role was not checked). */
export async function importRoleOrUnknown(aws: AwsGateway): Promise<ImportRoleFacts> {
  try {
    return await aws.importRole();
  } catch (err) {
    if (err instanceof AppError && err.code === 'AWS_ACCESS_DENIED') return { roleName: aws.importRoleName, exists: true, policies: [] };
    throw err;
  }
}
