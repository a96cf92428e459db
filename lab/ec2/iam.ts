// Minimal IAM (roles and inline role policies) and STS GetCallerIdentity, served on the EC2 endpoint.
// IAM is global: one IamState per emulator, whatever region the request was signed for.
import { randomBytes } from 'node:crypto';
import { Ec2Error } from './errors.ts';
import type { Params } from './query.ts';
import type { XmlObject } from './xml.ts';

export interface Role {
  name: string;
  id: string;
  arn: string;
  path: string;
  createDate: number;
  assumeRolePolicy: string;
  description?: string;
  maxSessionDuration: number;
  inlinePolicies: Map<string, string>;
  attachedPolicies: { name: string; arn: string }[];
  tags: { key: string; value: string }[];
}

export interface IamState {
  readonly accountId: string;
  readonly roles: Map<string, Role>;
}

/** The trust policy VM Import/Export requires (reference §5). */
export const VMIMPORT_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'vmie.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:Externalid': 'vmimport' } },
    },
  ],
});

const uniqueId = (prefix: string) =>
  prefix + Array.from(randomBytes(17), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.charAt(b % 32)).join('');

function makeRole(accountId: string, name: string, assumeRolePolicy: string, now: number, path = '/', description?: string): Role {
  return {
    name,
    id: uniqueId('AROA'),
    arn: `arn:aws:iam::${accountId}:role${path}${name}`,
    path,
    createDate: now,
    assumeRolePolicy,
    description,
    maxSessionDuration: 3600,
    inlinePolicies: new Map(),
    attachedPolicies: [],
    tags: [],
  };
}

/** Seed: a `vmimport` role with the right trust policy but no permissions policy, for `doctor --fix` to repair. */
export function createIamState(accountId: string, now: number): IamState {
  const roles = new Map<string, Role>();
  roles.set('vmimport', makeRole(accountId, 'vmimport', VMIMPORT_TRUST_POLICY, now, '/', 'VM Import/Export service role (lab seed)'));
  return { accountId, roles };
}

/** Real ImportImage rejects a role that is missing, not trusted by vmie, or without S3 read permissions. */
export function assertServiceRoleUsable(iam: IamState, roleName: string): void {
  const role = iam.roles.get(roleName);
  const trusted = role?.assumeRolePolicy.includes('vmie.amazonaws.com') ?? false;
  const canRead = role !== undefined && [...role.inlinePolicies.values()].some((doc) => /s3:(GetObject|\*)|"\*"/.test(doc));
  if (!role || !trusted || !canRead) {
    throw new Ec2Error('InvalidParameter', `The service role ${roleName} provided does not exist or does not have sufficient permissions`);
  }
}

// IAM returns policy documents URL-encoded (RFC 3986); callers must decodeURIComponent them.
const encodeDoc = (doc: string) => encodeURIComponent(doc);

function roleXml(r: Role): XmlObject {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: r.arn,
    CreateDate: new Date(r.createDate),
    AssumeRolePolicyDocument: encodeDoc(r.assumeRolePolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    Tags: r.tags.map((t) => ({ Key: t.key, Value: t.value })),
  };
}

function getRole(iam: IamState, name: string): Role {
  const role = iam.roles.get(name);
  if (!role) throw new Ec2Error('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
  return role;
}

function validDocument(doc: string): string {
  try {
    const parsed: unknown = JSON.parse(doc);
    if (typeof parsed !== 'object' || parsed === null || !('Statement' in parsed)) throw new Error('no Statement');
  } catch {
    throw new Ec2Error('MalformedPolicyDocument', 'Syntax errors in policy.');
  }
  return doc;
}

export type IamHandler = (iam: IamState, p: Params, now: number) => XmlObject | undefined;

export const iamHandlers: Record<string, IamHandler> = {
  GetRole: (iam, p) => ({ Role: roleXml(getRole(iam, p.required('RoleName'))) }),

  CreateRole(iam, p, now) {
    const name = p.required('RoleName');
    if (iam.roles.has(name)) throw new Ec2Error('EntityAlreadyExists', `Role with name ${name} already exists.`, 409);
    const role = makeRole(iam.accountId, name, validDocument(p.required('AssumeRolePolicyDocument')), now, p.str('Path') ?? '/', p.str('Description'));
    role.tags = p.structs('Tags.member').map((t) => ({ key: t.required('Key'), value: t.str('Value') ?? '' }));
    iam.roles.set(name, role);
    return { Role: roleXml(role) };
  },

  UpdateAssumeRolePolicy(iam, p) {
    getRole(iam, p.required('RoleName')).assumeRolePolicy = validDocument(p.required('PolicyDocument'));
    return undefined;
  },

  ListRolePolicies: (iam, p) => ({ PolicyNames: [...getRole(iam, p.required('RoleName')).inlinePolicies.keys()], IsTruncated: false }),

  GetRolePolicy(iam, p) {
    const role = getRole(iam, p.required('RoleName'));
    const name = p.required('PolicyName');
    const doc = role.inlinePolicies.get(name);
    if (doc === undefined) throw new Ec2Error('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
    return { RoleName: role.name, PolicyName: name, PolicyDocument: encodeDoc(doc) };
  },

  PutRolePolicy(iam, p) {
    const role = getRole(iam, p.required('RoleName'));
    role.inlinePolicies.set(p.required('PolicyName'), validDocument(p.required('PolicyDocument')));
    return undefined;
  },

  DeleteRolePolicy(iam, p) {
    const role = getRole(iam, p.required('RoleName'));
    const name = p.required('PolicyName');
    if (!role.inlinePolicies.delete(name)) throw new Ec2Error('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
    return undefined;
  },

  ListAttachedRolePolicies: (iam, p) => ({
    AttachedPolicies: getRole(iam, p.required('RoleName')).attachedPolicies.map((a) => ({ PolicyName: a.name, PolicyArn: a.arn })),
    IsTruncated: false,
  }),
};

export const stsHandlers: Record<string, IamHandler> = {
  GetCallerIdentity: (iam) => ({
    Account: iam.accountId,
    Arn: `arn:aws:iam::${iam.accountId}:user/lab-connector`,
    UserId: 'AIDALABCONNECTOR000001',
  }),
};
