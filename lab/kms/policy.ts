// Just enough IAM policy evaluation for KMS key policies: who may call which kms: action on a key.
// Conditions are not evaluated (the AWS-managed EBS key's kms:ViaService condition is treated as met: VM Import
// and EC2 use the key through EBS). Explicit Deny is honoured.

interface Statement {
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);

function statements(doc: string): Statement[] {
  try {
    const parsed = JSON.parse(doc) as { Statement?: unknown };
    const list = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
    return list.filter((s): s is Statement => typeof s === 'object' && s !== null);
  } catch {
    return [];
  }
}

/** IAM action patterns are case-insensitive and take * and ? wildcards. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(action);
}

function principals(p: unknown): string[] {
  if (p === '*') return ['*'];
  if (typeof p === 'object' && p !== null && 'AWS' in p) return asList((p as { AWS: unknown }).AWS);
  return [];
}

export type KeyPolicyVerdict = 'allow' | 'deny' | 'iam';

/**
 * What a key policy says about `principalArn` calling `action`: allowed by the policy itself, denied, or left to the
 * principal's IAM policies (a statement for the account root, "Enable IAM User Permissions").
 */
export function keyPolicyVerdict(policy: string, accountId: string, principalArn: string, action: string): KeyPolicyVerdict {
  const root = [`arn:aws:iam::${accountId}:root`, accountId];
  let verdict: KeyPolicyVerdict = 'deny';
  for (const s of statements(policy)) {
    if (!asList(s.Action).some((a) => actionMatches(a, action))) continue;
    const who = principals(s.Principal);
    const direct = who.includes('*') || who.includes(principalArn);
    const viaIam = who.some((w) => root.includes(w));
    if (s.Effect === 'Deny' && (direct || viaIam)) return 'deny';
    if (s.Effect !== 'Allow') continue;
    if (direct) verdict = 'allow';
    else if (viaIam && verdict === 'deny') verdict = 'iam';
  }
  return verdict;
}

/** Whether identity policies (documents as JSON) allow `action` on any resource. */
export function identityPoliciesAllow(documents: Iterable<string>, action: string): boolean {
  let allowed = false;
  for (const doc of documents) {
    for (const s of statements(doc)) {
      if (!asList(s.Action).some((a) => actionMatches(a, action))) continue;
      if (s.Effect === 'Deny') return false;
      if (s.Effect === 'Allow') allowed = true;
    }
  }
  return allowed;
}
