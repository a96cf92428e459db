import { readFile } from 'node:fs/promises';
import { DescribeImportImageTasksCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, AuditPage, Environment, ImportAuthorization, VmDetail } from '../../connector/contract/index.ts';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { signingKeyPath } from '../../connector/auth/signing-key.ts';
import { loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// Seed "VM Import Authorization": the portal's token and the connector's checks, end to end through the real
// connector, the lab vCenter (operator: VApp.Export on the Migration folder only) and the lab AWS.
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let migration: Environment;
let other: Environment;
let subnetId: string;
let groupId: string;

const errorOf = (body: unknown) => ApiErrorBody.parse(body);
const vm = (name: string) => {
  const id = vms.get(name);
  if (!id) throw new Error(`no VM ${name}`);
  return id;
};

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const { vpcId, subnets, groups } = await regionNetwork(admin);
  subnetId = subnets.find((s) => s.name === 'lab-app-a')!.id;
  groupId = groups.find((g) => g.name === 'web')!.id;
  const create = async (name: string) =>
    Environment.parse((await admin.call('POST', '/environments', { name, region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId] })).body);
  migration = await create('Migration');
  other = await create('Other');
  await admin.call('PUT', `/environments/${migration.id}/permissions`, {
    permissions: [
      { userName: 'operator@vsphere.local', role: 'General' },
      { userName: 'readonly@vsphere.local', role: 'ReadOnly' },
    ],
  });
  await admin.call('PUT', `/environments/${other.id}/permissions`, { permissions: [{ userName: 'administrator@vsphere.local', role: 'Owner' }] });
  // What an AWS administrator does once (the seed's prerequisite): the lab seeds vmimport without its policy.
  await lab.iamClient().send(
    new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }),
  );
});
afterAll(async () => lab?.stop());

async function authorize(user: ApiUser, environmentId: string, vmName: string): Promise<string> {
  const res = await user.call('POST', '/import-authorizations', { environmentId, vmId: vm(vmName) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return ImportAuthorization.parse(res.body).token;
}

const importAudit = async () => AuditPage.parse((await admin.call('GET', '/audit?action=import.authorize&limit=100')).body).entries;

/** A token for the operator signed with this connector's own key, as the portal would have issued it. */
async function ownToken(claims: { vm: string; jti: string }, exp: number): Promise<string> {
  const genuine = decodeJwt(await authorize(operator, migration.id, 'ubuntu-web-01'));
  const jwk = JSON.parse(await readFile(signingKeyPath(lab.dataDir), 'utf8')) as JWK;
  return new SignJWT({ env: migration.id, vm: claims.vm })
    .setProtectedHeader({ alg: 'ES256', typ: 'vm2ec2-import+jwt', kid: jwk.kid! })
    .setIssuer(genuine.iss!)
    .setAudience(genuine.aud!)
    .setSubject('operator@vsphere.local')
    .setJti(claims.jti)
    .setIssuedAt(exp - 300)
    .setExpirationTime(exp)
    .sign(await importJWK(jwk, 'ES256'));
}

const migrate = (user: ApiUser, token: string, over: Record<string, unknown> = {}) =>
  user.call('POST', '/migrations', {
    token,
    environmentId: migration.id,
    vmId: vm('ubuntu-web-01'),
    platform: 'Linux',
    subnetId,
    instanceType: 'm5.large',
    securityGroupIds: [groupId],
    ...over,
  });

/** An accepted migration is cancelled at once, so these tests do not wait for a whole migration. */
async function cancelAccepted(body: unknown): Promise<void> {
  const { id, idKind } = body as { id: string; idKind: string };
  expect(id).toMatch(/\S/);
  expect(['import', 'queued']).toContain(idKind);
  expect((await operator.call('POST', `/migrations/${id}/cancel`)).status).toBeLessThan(300);
  for (let i = 0; i < 600; i++) {
    const t = (await operator.call<{ state: string }>('GET', `/migrations/${id}`)).body;
    if (t.state === 'cancelled') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`migration ${id} was not cancelled`);
}

describe('POST /import-authorizations (the portal)', () => {
  it('refuses users without the General or Owner role, with the seed’s advice', async () => {
    for (const [user, env] of [
      [operator, other],
      [readonly, migration],
    ] as const) {
      const res = await user.call('POST', '/import-authorizations', { environmentId: env.id, vmId: vm('ubuntu-web-01') });
      expect(res.status).toBe(403);
      const body = errorOf(res.body);
      expect(body.code).toBe('NO_ENVIRONMENT_PERMISSION');
      expect(body.message).toMatch(/Ask your administrator to grant you permission/);
    }
    const missing = await operator.call('POST', '/import-authorizations', { environmentId: 'env-000000000000', vmId: vm('ubuntu-web-01') });
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).code).toBe('ENVIRONMENT_NOT_FOUND');
  });

  it('issues a short-lived token bound to user, environment, VM and this connector', async () => {
    const res = await operator.call('POST', '/import-authorizations', { environmentId: migration.id, vmId: vm('ubuntu-web-01') });
    expect(res.status).toBe(201);
    const auth = ImportAuthorization.parse(res.body);
    expect(auth).toMatchObject({ environmentId: migration.id, vmId: vm('ubuntu-web-01') });
    const claims = decodeJwt(auth.token);
    expect(claims).toMatchObject({ sub: 'operator@vsphere.local', env: migration.id, vm: vm('ubuntu-web-01'), aud: expect.stringMatching(/^urn:vm2ec2:connector:/) });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(new Date(auth.expiresAt).getTime()).toBe(claims.exp! * 1000);
    expect(decodeProtectedHeader(auth.token)).toMatchObject({ alg: 'ES256', typ: 'vm2ec2-import+jwt' });
    const entry = (await importAudit()).find((e) => e.details?.jti === claims.jti);
    expect(entry).toMatchObject({ outcome: 'granted', actor: 'operator@vsphere.local', vmId: vm('ubuntu-web-01'), message: expect.stringContaining('"ubuntu-web-01"') });
  });

  it('refuses a VM that vCenter does not have (404), and audits the refusal', async () => {
    const res = await operator.call('POST', '/import-authorizations', { environmentId: migration.id, vmId: 'vm-999999' });
    expect(res.status).toBe(404);
    expect(errorOf(res.body)).toMatchObject({ code: 'VM_NOT_FOUND', message: expect.stringMatching(/vm-999999.*refresh the inventory/) });
    const [entry] = (await importAudit()).filter((e) => e.vmId === 'vm-999999');
    expect(entry).toMatchObject({ outcome: 'denied', code: 'VM_NOT_FOUND', actor: 'operator@vsphere.local', environmentId: migration.id });
  });

  it('refuses a VM the user may not export (403, vApp > Export), and audits the refusal', async () => {
    // The operator may export VMs in the Migration folder only; win2019-app-01 is in Production.
    const res = await operator.call('POST', '/import-authorizations', { environmentId: migration.id, vmId: vm('win2019-app-01') });
    expect(res.status).toBe(403);
    const body = errorOf(res.body);
    expect(body.code).toBe('VM_EXPORT_DENIED');
    expect(body.message).toMatch(/"win2019-app-01".*vApp > Export.*Ask your vCenter administrator/);
    const [entry] = (await importAudit()).filter((e) => e.vmId === vm('win2019-app-01'));
    expect(entry).toMatchObject({ outcome: 'denied', code: 'VM_EXPORT_DENIED', actor: 'operator@vsphere.local', environmentId: migration.id });
    // The administrator's vCenter role has the privilege there: the same VM is authorized for them.
    await admin.call('PUT', `/environments/${migration.id}/permissions`, {
      permissions: [
        { userName: 'operator@vsphere.local', role: 'General' },
        { userName: 'readonly@vsphere.local', role: 'ReadOnly' },
        { userName: 'administrator@vsphere.local', role: 'Owner' },
      ],
    });
    expect((await admin.call('POST', '/import-authorizations', { environmentId: migration.id, vmId: vm('win2019-app-01') })).status).toBe(201);
  });
});

describe('POST /migrations (the connector)', () => {
  it('verifies token, export privilege and checks, then starts the migration and answers its task ID', async () => {
    const token = await authorize(operator, migration.id, 'ubuntu-web-01');
    const res = await migrate(operator, token);
    expect(res.status).toBe(202);
    await cancelAccepted(res.body);

    const replay = await migrate(operator, token);
    expect(replay.status).toBe(409);
    expect(errorOf(replay.body).code).toBe('TOKEN_ALREADY_USED');
  });

  it('rejects forged and altered tokens', async () => {
    const genuine = await authorize(operator, migration.id, 'ubuntu-web-01');
    const claims = decodeJwt(genuine);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'vm2ec2-import+jwt', kid: decodeProtectedHeader(genuine).kid! }).sign(privateKey);
    const [h, , s] = genuine.split('.');
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp! + 3600 })).toString('base64url')}.${s}`;
    for (const token of [forged, altered, 'eyJhbGciOiJub25lIn0.e30.', 'a.b.c']) {
      const res = await migrate(operator, token);
      expect(res.status, token.slice(0, 30)).toBe(403);
      expect(errorOf(res.body).code).toBe('TOKEN_INVALID');
    }
  });

  it('rejects an expired token', async () => {
    // Signed with this connector's own key (kept in its data directory), but issued and expired long ago.
    const expired = await ownToken({ vm: vm('ubuntu-web-01'), jti: 'expired-1' }, Math.floor(Date.now() / 1000) - 3600);
    const res = await migrate(operator, expired);
    expect(res.status).toBe(403);
    expect(errorOf(res.body)).toMatchObject({ code: 'TOKEN_EXPIRED', message: expect.stringMatching(/Start the migration again/) });
  });

  it('rejects a token presented by another user, for another VM or another environment', async () => {
    const token = await authorize(operator, migration.id, 'ubuntu-web-01');
    const cases: [ApiUser, Record<string, unknown>, string][] = [
      [admin, {}, 'user'],
      [operator, { vmId: vm('app-multidisk-01') }, 'vmId'],
      [operator, { environmentId: other.id }, 'environmentId'],
    ];
    for (const [user, over, field] of cases) {
      const res = await migrate(user, token, over);
      expect(res.status, field).toBe(403);
      expect(errorOf(res.body)).toMatchObject({ code: 'TOKEN_MISMATCH', details: { mismatched: [field] } });
    }
    // Mismatched presentations do not use the token up.
    const accepted = await migrate(operator, token);
    expect(accepted.status).toBe(202);
    await cancelAccepted(accepted.body);
  });

  it('refuses an operator without VApp.Export on the VM (a token issued before the privilege was withdrawn)', async () => {
    // The portal no longer issues such a token, so it is signed here with the connector's own key.
    const token = await ownToken({ vm: vm('win2019-app-01'), jti: 'withdrawn-1' }, Math.floor(Date.now() / 1000) + 300); // Production folder
    const res = await migrate(operator, token, { vmId: vm('win2019-app-01'), platform: 'Windows' });
    expect(res.status).toBe(403);
    expect(errorOf(res.body)).toMatchObject({ code: 'VM_EXPORT_DENIED', message: expect.stringMatching(/vApp > Export/) });
  });

  it('refuses when the environment permission was withdrawn after the token was issued', async () => {
    const token = await authorize(operator, migration.id, 'ubuntu-web-01');
    await admin.call('PUT', `/environments/${migration.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'ReadOnly' }] });
    try {
      const res = await migrate(operator, token);
      expect(res.status).toBe(403);
      expect(errorOf(res.body).code).toBe('NO_ENVIRONMENT_PERMISSION');
    } finally {
      await admin.call('PUT', `/environments/${migration.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
    }
  });

  it('refuses with the pre-flight blockers', async () => {
    const token = await authorize(operator, migration.id, 'bsd-firewall-01');
    const res = await migrate(operator, token, { vmId: vm('bsd-firewall-01'), privateIpAddress: '10.0.1.1' });
    expect(res.status).toBe(422);
    const body = errorOf(res.body);
    expect(body.code).toBe('PREFLIGHT_BLOCKED');
    const checks = body.details?.checks as { code: string; severity: string }[];
    expect(checks.map((c) => c.code).sort()).toEqual(['GUEST_OS_UNSUPPORTED', 'PRIVATE_IP_RESERVED']);
    expect(checks.every((c) => c.severity === 'blocker')).toBe(true);
    expect(body.message).toMatch(/^The migration cannot start: .*\(and 1 more problem\)$/);
  });

  it('started nothing for the refused requests and audited every decision', async () => {
    // Only the two accepted (then cancelled) migrations ever existed; cancelling left nothing in EC2.
    const tasks = (await admin.call<{ items: { id: string; state: string }[]; total: number }>('GET', '/migrations')).body;
    expect(tasks.total).toBe(2);
    expect(tasks.items.map((t) => t.state)).toEqual(['cancelled', 'cancelled']);
    const ec2 = lab.ec2Client('us-east-1');
    const imports = (await ec2.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(imports.filter((t) => t.Status === 'active' || t.Status === 'completed')).toEqual([]);
    const instances = ((await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances.filter((i) => i.State?.Name !== 'terminated')).toEqual([]);
    expect(VmDetail.parse((await operator.call('GET', `/vms/${vm('ubuntu-web-01')}`)).body).snapshotCount).toBe(0);

    const audit = AuditPage.parse((await admin.call('GET', '/audit?action=migration.request&limit=100')).body).entries;
    const codes = audit.map((e) => `${e.outcome}:${e.code ?? ''}`);
    for (const code of ['TOKEN_ALREADY_USED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_MISMATCH', 'VM_EXPORT_DENIED', 'NO_ENVIRONMENT_PERMISSION', 'PREFLIGHT_BLOCKED']) {
      expect(codes).toContain(`denied:${code}`);
    }
    expect(codes.filter((c) => c.startsWith('granted:'))).toHaveLength(2);
    const grants = await importAudit();
    expect(grants.filter((e) => e.outcome === 'denied').map((e) => `${e.actor}:${e.code ?? ''}`).sort()).toEqual([
      'operator@vsphere.local:ENVIRONMENT_NOT_FOUND',
      'operator@vsphere.local:NO_ENVIRONMENT_PERMISSION',
      'operator@vsphere.local:VM_EXPORT_DENIED',
      'operator@vsphere.local:VM_NOT_FOUND',
      'readonly@vsphere.local:NO_ENVIRONMENT_PERMISSION',
    ]);
    // Every token ever issued is on record: the operator's and the one for the administrator.
    expect(grants.filter((e) => e.outcome === 'granted').every((e) => e.actor === 'operator@vsphere.local' || e.vmId === vm('win2019-app-01'))).toBe(true);
  });
});

describe('POST /migrations refused before the token is read (issue 12 item 6)', () => {
  const requestAudit = async () => AuditPage.parse((await admin.call('GET', '/audit?action=migration.request&limit=100')).body).entries;

  it('audits a request with no token, an empty token or a malformed one as denied, without recording the token', async () => {
    const before = (await requestAudit()).filter((e) => e.code === 'VALIDATION_FAILED').length;
    const base = { environmentId: migration.id, vmId: vm('ubuntu-web-01'), platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId] };
    const secret = 'eyJ0eXAi.secret!part';
    const refused = await Promise.all([
      operator.call('POST', '/migrations', base),
      operator.call('POST', '/migrations', { ...base, token: '' }),
      operator.call('POST', '/migrations', { ...base, token: `${secret}.sig` }),
    ]);
    for (const res of refused) {
      expect(res.status).toBe(400);
      expect(errorOf(res.body).code).toBe('VALIDATION_FAILED');
      expect(errorOf(res.body).message).toMatch(/\/token/);
    }
    const entries = (await requestAudit()).filter((e) => e.code === 'VALIDATION_FAILED');
    expect(entries.length - before).toBe(3);
    for (const e of entries.slice(0, 3)) {
      expect(e).toMatchObject({ actor: 'operator@vsphere.local', outcome: 'denied', environmentId: migration.id, vmId: vm('ubuntu-web-01') });
      expect(e.message).toMatch(/^The request is not valid: \/token /);
      expect(JSON.stringify(e)).not.toContain(secret);
    }
  });
});
