// The VM Import service role (`vmimport`) and the permissions the connector's imports need from it
// (seed prerequisite: "Attach the VMImportExportRoleForAWSConnector policy to the vmimport role").

/** The policy name the seed uses; a later `doctor --fix` attaches it under this name. */
export const IMPORT_ROLE_POLICY_NAME = 'VMImportExportRoleForAWSConnector';

/** What VM Import/Export does with the role while importing (EC2 user guide, "Required service role"). */
export const IMPORT_ROLE_ACTIONS = [
  's3:GetBucketLocation',
  's3:GetObject',
  's3:ListBucket',
  'ec2:ModifySnapshotAttribute',
  'ec2:CopySnapshot',
  'ec2:RegisterImage',
  'ec2:Describe*',
] as const;

/** The trust and permissions policy documents the role should have. */
export function importRolePolicies(bucketArns: readonly string[] = ['arn:aws:s3:::*']) {
  return {
    trust: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'vmie.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:Externalid': 'vmimport' } },
        },
      ],
    },
    permissions: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetBucketLocation', 's3:GetObject', 's3:ListBucket'],
          Resource: [...bucketArns, ...bucketArns.map((a) => `${a}/*`)],
        },
        { Effect: 'Allow', Action: ['ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:RegisterImage', 'ec2:Describe*'], Resource: '*' },
        // Encrypted imports (issue 18), for keys whose policy leaves their use to IAM; the key policy still decides.
        { Effect: 'Allow', Action: ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'], Resource: '*' },
      ],
    },
  };
}

interface Statement {
  Effect?: unknown;
  Action?: unknown;
  Principal?: unknown;
}

const asList = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function statements(doc: unknown): Statement[] {
  const s = (doc as { Statement?: unknown } | null)?.Statement;
  if (Array.isArray(s)) return s.filter((x): x is Statement => typeof x === 'object' && x !== null);
  return typeof s === 'object' && s !== null ? [s as Statement] : [];
}

/** IAM action patterns are case-insensitive globs with `*` and `?`. */
function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(action);
}

/**
 * Which of the required actions the role's policies do not allow. A deliberate simplification of IAM evaluation:
 * Allow/Deny by action only (resources and conditions are not evaluated), which is what a missing or partial
 * policy looks like in practice.
 */
export function missingImportActions(policyDocuments: readonly unknown[]): string[] {
  const all = policyDocuments.flatMap(statements);
  const allows = (effect: string, action: string) =>
    all.some((st) => st.Effect === effect && asList(st.Action).some((p) => actionMatches(p, action)));
  return IMPORT_ROLE_ACTIONS.filter((a) => !allows('Allow', a) || allows('Deny', a));
}

/** Whether the trust policy lets VM Import/Export (vmie.amazonaws.com) assume the role. */
export function trustsVmie(trustPolicy: unknown): boolean {
  return statements(trustPolicy).some((st) => {
    if (st.Effect !== 'Allow' || !asList(st.Action).some((a) => actionMatches(a, 'sts:AssumeRole'))) return false;
    const principal = st.Principal as { Service?: unknown } | string | undefined;
    if (principal === '*') return true;
    return typeof principal === 'object' && principal !== null && asList(principal.Service).includes('vmie.amazonaws.com');
  });
}

/**
 * What VM Import/Export does with a KMS key through the role when the volumes are encrypted (VM Import/Export user
 * guide, "Required service role": kms:CreateGrant, Decrypt, DescribeKey, Encrypt, GenerateDataKey*, ReEncrypt*).
 * Wildcard entries are checked as the concrete actions they stand for.
 */
export const IMPORT_ROLE_KMS_ACTIONS = ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'] as const;
const KMS_CONCRETE: Record<(typeof IMPORT_ROLE_KMS_ACTIONS)[number], readonly string[]> = {
  'kms:CreateGrant': ['kms:CreateGrant'],
  'kms:Decrypt': ['kms:Decrypt'],
  'kms:DescribeKey': ['kms:DescribeKey'],
  'kms:Encrypt': ['kms:Encrypt'],
  'kms:GenerateDataKey*': ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
  'kms:ReEncrypt*': ['kms:ReEncryptFrom', 'kms:ReEncryptTo'],
};

/** The KMS actions (as the docs name them) the role's identity policies do not allow; resources are not evaluated. */
export function missingImportKmsActions(policyDocuments: readonly unknown[]): string[] {
  const all = policyDocuments.flatMap(statements);
  const allows = (effect: string, action: string) => all.some((st) => st.Effect === effect && asList(st.Action).some((p) => actionMatches(p, action)));
  return IMPORT_ROLE_KMS_ACTIONS.filter((a) => KMS_CONCRETE[a].some((c) => !allows('Allow', c) || allows('Deny', c)));
}

const principalsOf = (p: unknown): string[] => (p === '*' ? ['*'] : typeof p === 'object' && p !== null ? asList((p as { AWS?: unknown }).AWS) : []);

/**
 * Whether a key policy lets the import role use the key: directly (the role's ARN, or "*" as in the AWS-managed
 * aws/ebs key, whose conditions hold for VM Import because it works through EC2), or by delegating to IAM (the
 * account root), in which case the role's own policies must allow the actions. Conditions are not evaluated.
 * Returns the actions still missing, with where they are missing.
 */
export function keyUsableByRole(
  keyPolicy: unknown,
  roleArn: string,
  rolePolicies: readonly unknown[],
): { missing: string[]; where: 'key-policy' | 'role-policy' } | undefined {
  const account = /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(roleArn)?.[1];
  const root = account ? [`arn:aws:iam::${account}:root`, account] : [];
  const st = statements(keyPolicy);
  const verdict = (action: string): 'allow' | 'deny' | 'iam' => {
    let v: 'allow' | 'deny' | 'iam' = 'deny';
    for (const s of st) {
      if (!asList(s.Action).some((p) => actionMatches(p, action))) continue;
      const who = principalsOf(s.Principal);
      const direct = who.includes('*') || who.includes(roleArn);
      const viaIam = who.some((w) => root.includes(w));
      if (s.Effect === 'Deny' && (direct || viaIam)) return 'deny';
      if (s.Effect !== 'Allow') continue;
      if (direct) v = 'allow';
      else if (viaIam && v === 'deny') v = 'iam';
    }
    return v;
  };
  const denied = IMPORT_ROLE_KMS_ACTIONS.filter((a) => KMS_CONCRETE[a].some((c) => verdict(c) === 'deny'));
  if (denied.length) return { missing: denied, where: 'key-policy' };
  const delegated = IMPORT_ROLE_KMS_ACTIONS.filter((a) => KMS_CONCRETE[a].some((c) => verdict(c) === 'iam'));
  const fromIam = missingImportKmsActions(rolePolicies).filter((a) => delegated.includes(a as (typeof IMPORT_ROLE_KMS_ACTIONS)[number]));
  return fromIam.length ? { missing: fromIam, where: 'role-policy' } : undefined;
}
