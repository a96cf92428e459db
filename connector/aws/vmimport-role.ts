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
