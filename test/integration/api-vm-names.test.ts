// Issue 12 item 12: tasks, audit entries and imported instances name the VM (vm-52 means nothing to a reader),
// recorded when the request is made, so even a queued migration is shown by name.
import { PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditPage, Environment, ImportAuthorization, InstanceList, MigrationAccepted, MigrationTask } from '../../connector/contract/index.ts';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;

beforeAll(async () => {
  // One migration at a time: the second one waits in the queue, before the engine has read the VM itself.
  lab = await startApiLab({ maxRunning: 1 });
  ({ admin, operator } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const { vpcId, subnets, groups } = await regionNetwork(admin);
  subnetId = subnets.find((s) => s.name === 'lab-app-a')!.id;
  groupId = groups.find((g) => g.name === 'web')!.id;
  env = Environment.parse((await admin.call('POST', '/environments', { name: 'Names', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId] })).body);
  await admin.call('PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
  await lab.iamClient().send(
    new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }),
  );
}, 120_000);
afterAll(async () => lab?.stop());

async function migrate(vmName: string): Promise<MigrationAccepted> {
  const vmId = vms.get(vmName)!;
  const auth = await operator.call('POST', '/import-authorizations', { environmentId: env.id, vmId });
  expect(auth.status, JSON.stringify(auth.body)).toBe(201);
  const { token } = ImportAuthorization.parse(auth.body);
  const res = await operator.call('POST', '/migrations', { token, environmentId: env.id, vmId, platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId] });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return MigrationAccepted.parse(res.body);
}

const task = async (id: string) => MigrationTask.parse((await operator.call('GET', `/migrations/${id}`)).body);

describe('VM names instead of vCenter ids', () => {
  it('a queued migration, its audit entry and the instance it produces carry the VM name', async () => {
    const first = await migrate('ubuntu-web-01');
    const queued = await migrate('app-multidisk-01');
    expect(queued.idKind).toBe('queued');

    // Still queued: the name comes from the request, not from the engine's export.
    const waiting = await task(queued.id);
    expect(waiting).toMatchObject({ state: 'queued', vmId: vms.get('app-multidisk-01'), vmName: 'app-multidisk-01' });
    const list = MigrationTask.array().parse((await operator.call<{ items: unknown[] }>('GET', `/migrations?environmentId=${env.id}`)).body.items);
    expect(list.find((t) => t.id === queued.id)?.vmName).toBe('app-multidisk-01');

    const audit = AuditPage.parse((await admin.call('GET', '/audit?action=migration.request&limit=50')).body).entries;
    const granted = audit.filter((e) => e.outcome === 'granted').map((e) => ({ vmId: e.vmId, vmName: e.vmName }));
    expect(granted).toEqual(
      expect.arrayContaining([
        { vmId: vms.get('ubuntu-web-01'), vmName: 'ubuntu-web-01' },
        { vmId: vms.get('app-multidisk-01'), vmName: 'app-multidisk-01' },
      ]),
    );

    expect((await operator.call('POST', `/migrations/${queued.id}/cancel`)).status).toBeLessThan(300);
    // The first one runs to its instance, whose Summary names the source VM.
    let done = await task(first.id);
    for (let i = 0; i < 1200 && !['completed', 'failed', 'cancelled'].includes(done.state); i++) {
      await new Promise((r) => setTimeout(r, 100));
      done = await task(first.id);
    }
    expect(done, done.error).toMatchObject({ state: 'completed', vmName: 'ubuntu-web-01' });
    const instances = InstanceList.parse((await operator.call('GET', `/instances?environmentId=${env.id}`)).body).items;
    expect(instances.find((i) => i.instanceId === done.instanceId)).toMatchObject({ sourceVmId: vms.get('ubuntu-web-01'), sourceVmName: 'ubuntu-web-01' });
  }, 180_000);
});
