// The two routes every portal tab polls send JSON the connector keeps between polls (engine/task-json.ts). Through
// real HTTPS against the lab connector: what is kept is never shown to a user who may not see its environment, and a
// poll right after a write (here by another connection to the connector's SQLite file) shows the write.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, Environment, MigrationList, MigrationTask } from '../../connector/contract/index.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let envA: Environment;
let envB: Environment;
let tasks: SqliteMigrationTasks;

function ended(i: number, environmentId: string): MigrationRecord {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  return {
    id: `mig-poll-${i}`, seq: 0, idKind: 'import', state: 'completed', phase: 'done', environmentId, region: 'us-east-1', vmId: `vm-poll-${i}`,
    vmName: `poll-${i}`, platform: 'Linux', subnetId: 'subnet-0123456789abcdef0', instanceType: 'm5.large', securityGroupIds: ['sg-0123456789abcdef0'],
    requestedBy: 'administrator@vsphere.local', bucket: 'b', prefix: `vm2ec2/mig-poll-${i}/`, exportAttempts: 1, disks: [],
    instanceId: `i-${String(i).padStart(17, '0')}`, createdAt: at, startedAt: at, updatedAt: at, finishedAt: at,
  };
}

async function list(user: ApiUser, query: string): Promise<MigrationList> {
  const res = await user.call('GET', `/migrations${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  return MigrationList.parse(res.body);
}
const ids = (l: MigrationList) => l.items.map((t) => t.id);

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator } = await loginLabUsers(lab));
  const { vpcId, subnets, groups } = await regionNetwork(admin);
  const network = { region: 'us-east-1', vpcId, subnetIds: [subnets[0]!.id], securityGroupIds: [groups[0]!.id] };
  envA = Environment.parse((await admin.call('POST', '/environments', { name: 'Polled A', ...network })).body);
  envB = Environment.parse((await admin.call('POST', '/environments', { name: 'Polled B', ...network })).body);
  const perms = await admin.call('PUT', `/environments/${envB.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
  expect(perms.status, JSON.stringify(perms.body)).toBe(200);
  // A second connection to the connector's file, as the benchmark and a second connector process write.
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
  for (let i = 1; i <= 3; i++) await tasks.insert(ended(i, envA.id));
  await tasks.insert(ended(4, envB.id));
}, 120_000);
afterAll(async () => {
  tasks?.close();
  await lab?.stop();
});

describe('polled task lists', { timeout: 120_000 }, () => {
  it('never shows a kept page or task to a user without a role in its environment', async () => {
    // The administrator's polls make the connector keep environment A's page and its tasks.
    for (let k = 0; k < 2; k++) expect(ids(await list(admin, `?environmentId=${envA.id}`))).toEqual(['mig-poll-3', 'mig-poll-2', 'mig-poll-1']);
    expect((await admin.call('GET', '/migrations/mig-poll-1')).status).toBe(200);

    expect(await list(operator, `?environmentId=${envA.id}`)).toEqual({ items: [], total: 0 });
    const own = await list(operator, '');
    expect({ ids: ids(own), total: own.total }).toEqual({ ids: ['mig-poll-4'], total: 1 });
    const hidden = await operator.call('GET', '/migrations/mig-poll-1');
    expect(hidden.status).toBe(404);
    expect(ApiErrorBody.parse(hidden.body).code).toBe('NOT_FOUND');

    // A role granted or taken away counts from the next poll.
    await admin.call('PUT', `/environments/${envA.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'ReadOnly' }] });
    expect(await list(operator, `?environmentId=${envA.id}`)).toEqual(await list(admin, `?environmentId=${envA.id}`));
    expect((await list(operator, '')).total).toBe(4);
    await admin.call('PUT', `/environments/${envA.id}/permissions`, { permissions: [] });
    expect(await list(operator, `?environmentId=${envA.id}`)).toEqual({ items: [], total: 0 });
    expect((await operator.call('GET', '/migrations/mig-poll-2')).status).toBe(404);
    expect(ids(await list(operator, ''))).toEqual(['mig-poll-4']);
  });

  it('shows a write at the next poll, whichever connection made it', async () => {
    const before = await list(admin, `?environmentId=${envA.id}&limit=2`);
    expect(before.total).toBe(3);
    expect(MigrationTask.parse((await admin.call('GET', '/migrations/mig-poll-3')).body).state).toBe('completed');

    await tasks.save({ ...(await tasks.get('mig-poll-3'))!, state: 'failed', error: 'EC2 import failed: ClientError: Disk validation failed' });
    const after = await list(admin, `?environmentId=${envA.id}&limit=2`);
    expect(after.items[0]).toMatchObject({ id: 'mig-poll-3', state: 'failed', error: 'EC2 import failed: ClientError: Disk validation failed' });
    expect(after.items[1]).toEqual(before.items[1]);
    expect(MigrationTask.parse((await admin.call('GET', '/migrations/mig-poll-3')).body).state).toBe('failed');

    await tasks.insert(ended(5, envA.id));
    const grown = await list(admin, `?environmentId=${envA.id}&limit=2`);
    expect({ ids: ids(grown), total: grown.total }).toEqual({ ids: ['mig-poll-5', 'mig-poll-3'], total: 4 });
  });
});
