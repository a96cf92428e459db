import { PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditPage, Environment, ImportAuthorization, MigrationAccepted, MigrationTask, Wave } from '../../connector/contract/index.ts';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// Issue 14, a wave's start window closing through real HTTPS against the lab connector: what is still queued at the
// not-after time is cancelled by the connector, each migration saying why, and the sweep is audited once.
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;

const vm = (name: string) => vms.get(name) ?? (() => { throw new Error(`no VM ${name}`); })();

beforeAll(async () => {
  // One running slot, so a long copy keeps the wave's migrations queued whatever order the engine picks.
  lab = await startApiLab({ maxRunning: 1 });
  ({ admin, operator } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const { vpcId, subnets, groups } = await regionNetwork(admin);
  subnetId = subnets.find((s) => s.name === 'lab-app-a')!.id;
  groupId = groups.find((g) => g.name === 'web')!.id;
  env = Environment.parse((await admin.call('POST', '/environments', { name: 'Windows of time', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId] })).body);
  const perms = await admin.call('PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
  expect(perms.status, JSON.stringify(perms.body)).toBe(200);
  await lab.iamClient().send(
    new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }),
  );
}, 120_000);
afterAll(async () => lab?.stop());

async function authorize(user: ApiUser, vmName: string): Promise<string> {
  const res = await user.call('POST', '/import-authorizations', { environmentId: env.id, vmId: vm(vmName) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return ImportAuthorization.parse(res.body).token;
}
const common = () => ({ environmentId: env.id, platform: 'Linux' as const, subnetId, instanceType: 'm5.large', securityGroupIds: [groupId] });

describe('a wave\'s start window', { timeout: 300_000 }, () => {
  it('cancels the migrations still queued when it closes, each saying why, and audits the sweep once', async () => {
    // The slot is taken by a 20 GiB copy for the whole test.
    const busy = await admin.call('POST', '/migrations', { ...common(), vmId: vm('stream-test-20g'), token: await authorize(admin, 'stream-test-20g') });
    expect(busy.status, JSON.stringify(busy.body)).toBe(202);
    const busyId = MigrationAccepted.parse(busy.body).id;

    const rows = await Promise.all(['ubuntu-web-01', 'app-multidisk-01'].map(async (name) => ({ vmId: vm(name), token: await authorize(operator, name) })));
    const notAfter = new Date(Date.now() + 6_000).toISOString();
    const res = await operator.call('POST', '/waves', { ...common(), name: 'Tonight only', window: { notAfter }, vms: rows });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const created = Wave.parse(res.body);
    expect(created).toMatchObject({ state: 'scheduled', counts: { queued: 2 }, window: { notAfter } });

    let wave = created;
    for (const end = Date.now() + 60_000; Date.now() < end && wave.state !== 'cancelled'; ) {
      await new Promise((r) => setTimeout(r, 250));
      wave = Wave.parse((await operator.call('GET', `/waves/${created.id}`)).body);
    }
    expect(wave).toMatchObject({ state: 'cancelled', counts: { cancelled: 2, queued: 0 }, bytesLeft: 0 });
    expect(Date.parse(wave.windowClosedAt!)).toBeGreaterThanOrEqual(Date.parse(notAfter));
    expect(wave.cancelledBy).toBeUndefined();
    for (const id of created.taskIds) {
      expect(MigrationTask.parse((await operator.call('GET', `/migrations/${id}`)).body)).toMatchObject({
        state: 'cancelled',
        waveId: created.id,
        cancelledBy: 'vm2ec2 (start window)',
        error: `The wave's start window closed at ${notAfter} before this migration could start.`,
      });
    }
    const sweeps = AuditPage.parse((await admin.call('GET', '/audit?action=wave.cancel&limit=50')).body).entries;
    expect(sweeps).toHaveLength(1);
    expect(sweeps[0]).toMatchObject({ actor: 'vm2ec2 (start window)', outcome: 'granted', environmentId: env.id, details: { waveId: created.id, cancelled: created.taskIds } });

    // The migration outside the wave was left alone.
    expect(MigrationTask.parse((await admin.call('GET', `/migrations/${busyId}`)).body).state).toBe('running');
    await admin.call('POST', `/migrations/${busyId}/cancel`);
  });
});
