// Roll back a cutover (issue 16) through real HTTPS against the lab connector: migrations run to completion in the
// lab, then POST /migrations/{id}/rollback stops (or terminates) the instance in the EC2 emulator and powers the
// source VM on in vcsim, posts the event on the VM and audits; and every refusal says why.
import { join } from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, AuditPage, Environment, ImportAuthorization, MigrationList, MigrationTask } from '../../connector/contract/index.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { powerOff, powerState } from '../../connector/vsphere/cbt.ts';
import { entityEvents } from '../../connector/vsphere/tasks-events.ts';
import { toMoRef } from '../../connector/vsphere/soap.ts';
import { allowImports, loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

const ROLLED_BACK_EVENT = 'org.vm2ec2.plugin.event.migration.rolledBack';
const DAY = 24 * 3600_000;
/** The lab's vCenter administrator (lab/inventory.json). */

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;
let tasks: SqliteMigrationTasks;
/** Completed migrations by VM name. */
const done = new Map<string, MigrationTask>();

const vm = (name: string) => vms.get(name) ?? (() => { throw new Error(`no VM ${name}`); })();

const asAdmin = <T>(use: (vc: Vim25Client) => Promise<T>): Promise<T> => lab.asAdmin(use);

async function migrateToCompletion(names: string[]): Promise<void> {
  const ids = await Promise.all(
    names.map(async (name) => {
      const auth = await admin.call('POST', '/import-authorizations', { environmentId: env.id, vmId: vm(name) });
      expect(auth.status, JSON.stringify(auth.body)).toBe(201);
      const res = await admin.call('POST', '/migrations', {
        token: ImportAuthorization.parse(auth.body).token, environmentId: env.id, vmId: vm(name), platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return [name, (res.body as { id: string }).id] as const;
    }),
  );
  for (const [name, id] of ids) {
    let t: MigrationTask | undefined;
    // Generous: the lab's disk copies share two cores with every other suite in CI.
    for (const end = Date.now() + 420_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
      t = MigrationTask.parse((await admin.call('GET', `/migrations/${id}`)).body);
      if (t.state === 'completed' || t.state === 'failed' || t.state === 'cancelled') break;
    }
    expect([t?.state, t?.error], `${name}: ${t?.phase}`).toEqual(['completed', undefined]);
    done.set(name, t!);
  }
}

/** A migration of `vmName` that completed at `finishedAt`, written to the connector's file as the engine writes one. */
function completed(id: string, vmName: string, finishedAt: number): MigrationRecord {
  const at = new Date(finishedAt).toISOString();
  return {
    id, seq: 0, idKind: 'import', state: 'completed', phase: 'done', environmentId: env.id, region: 'us-east-1', vmId: vm(vmName), vmName,
    platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId], requestedBy: 'administrator@vsphere.local', bucket: 'b', prefix: `vm2ec2/${id}/`,
    exportAttempts: 1, disks: [], instanceId: 'i-0aaaaaaaaaaaaaaaa', createdAt: at, startedAt: at, updatedAt: at, finishedAt: at,
  };
}

const rollback = (user: ApiUser, id: string, body: unknown = {}) => user.call('POST', `/migrations/${id}/rollback`, body);
const errorOf = (body: unknown) => ApiErrorBody.parse(body);
async function audits(): Promise<AuditPage['entries']> {
  return AuditPage.parse((await admin.call('GET', '/audit?action=migration.rollback&limit=200')).body).entries;
}
async function instanceState(id: string): Promise<string | undefined> {
  const out = await lab.ec2Client('us-east-1').send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  let v = await read();
  for (const end = Date.now() + ms; !ok(v) && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) v = await read();
  return v;
}

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const network = await regionNetwork(admin);
  subnetId = network.subnets.find((s) => s.name === 'lab-app-a')!.id;
  groupId = network.groups.find((g) => g.name === 'web')!.id;
  env = Environment.parse((await admin.call('POST', '/environments', { name: 'Rollback', region: 'us-east-1', vpcId: network.vpcId, subnetIds: [subnetId], securityGroupIds: [groupId] })).body);
  const perms = await admin.call('PUT', `/environments/${env.id}/permissions`, {
    permissions: [
      { userName: 'operator@vsphere.local', role: 'General' },
      { userName: 'readonly@vsphere.local', role: 'ReadOnly' },
    ],
  });
  expect(perms.status, JSON.stringify(perms.body)).toBe(200);
  await allowImports(lab);
  // A second connection to the connector's file, for migrations that completed days ago.
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
  await migrateToCompletion(['rhel-db-01', 'app-multidisk-01']);
}, 480_000);
afterAll(async () => {
  await tasks?.close();
  await lab?.stop();
});

describe('roll back a completed migration', { timeout: 180_000 }, () => {
  it('stops the instance, powers the VM on, records it on the row once, posts the event and audits', async () => {
    const t = done.get('rhel-db-01')!;
    const instanceId = t.instanceId!;
    expect(t.rollback).toMatchObject({ possible: true });
    expect(Date.parse(t.rollback!.until!) - Date.parse(t.finishedAt!)).toBe(7 * DAY);
    // After the cutover the instance was started and the VM is off, as a user would leave them.
    const started = await admin.call('POST', `/instances/${instanceId}/start?environmentId=${env.id}`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(await eventually(() => instanceState(instanceId), (s) => s === 'running')).toBe('running');
    await asAdmin(async (vc) => {
      if ((await powerState(vc, vm('rhel-db-01'))) !== 'poweredOff') await powerOff(vc, vm('rhel-db-01'));
    });

    const res = await rollback(admin, t.id, { terminateInstance: false });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const after = MigrationTask.parse(res.body);
    expect(after.state).toBe('completed');
    expect(after.rollback).toMatchObject({ possible: false, state: 'rolled-back', rolledBackBy: 'administrator@vsphere.local', instanceAction: 'stop' });
    expect(after.rollback!.reason).toMatch(/^This migration was rolled back by administrator@vsphere\.local at /);

    expect(await eventually(() => instanceState(instanceId), (s) => s === 'stopped')).toBe('stopped');
    expect(await asAdmin((vc) => powerState(vc, vm('rhel-db-01')))).toBe('poweredOn');
    const events = await asAdmin((vc) => entityEvents(vc, { type: 'VirtualMachine', value: vm('rhel-db-01') }));
    const ev = events.find((e) => e.eventTypeId === ROLLED_BACK_EVENT);
    expect(ev?.arguments).toEqual({ migrationId: t.id, instanceId, instanceAction: 'stopped', rolledBackBy: 'administrator@vsphere.local' });
    expect(ev?.message).toBe(`Migration to Amazon EC2 rolled back by administrator@vsphere.local: EC2 instance ${instanceId} stopped, virtual machine powered on`);

    // The row in the list shows it too.
    const list = MigrationList.parse((await admin.call('GET', `/migrations?environmentId=${env.id}`)).body);
    expect(list.items.find((i) => i.id === t.id)?.rollback).toMatchObject({ state: 'rolled-back', possible: false });

    const granted = (await audits()).filter((a) => a.outcome === 'granted' && a.details?.migrationId === t.id);
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({ actor: 'administrator@vsphere.local', environmentId: env.id, vmId: vm('rhel-db-01'), vmName: 'rhel-db-01' });
    expect(granted[0]!.message).toBe(`Rolled back migration ${t.id}: EC2 instance ${instanceId} stopped, virtual machine "rhel-db-01" (${vm('rhel-db-01')}) powered on.`);

    // Not twice.
    const again = await rollback(admin, t.id);
    expect(again.status).toBe(409);
    expect(errorOf(again.body)).toMatchObject({ code: 'ROLLBACK_NOT_AVAILABLE', details: { rolledBackBy: 'administrator@vsphere.local' } });
    expect(errorOf(again.body).message).toMatch(/was rolled back by administrator@vsphere\.local at /);
  });

  it('lets exactly one of two parallel rollbacks through; the other gets 409; the instance is terminated when asked', async () => {
    const t = done.get('app-multidisk-01')!;
    await asAdmin(async (vc) => {
      if ((await powerState(vc, vm('app-multidisk-01'))) !== 'poweredOff') await powerOff(vc, vm('app-multidisk-01'));
    });
    const answers = await Promise.all([rollback(admin, t.id, { terminateInstance: true }), rollback(admin, t.id, { terminateInstance: true })]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const refused = answers.find((a) => a.status === 409)!;
    expect(errorOf(refused.body).code).toBe('ROLLBACK_NOT_AVAILABLE');
    expect(errorOf(refused.body).message).toMatch(/administrator@vsphere\.local (is rolling this migration back|was rolled back|rolled it back)|rolled back by administrator/);
    expect(await eventually(() => instanceState(t.instanceId!), (s) => s === 'terminated')).toBe('terminated');
    expect(await asAdmin((vc) => powerState(vc, vm('app-multidisk-01')))).toBe('poweredOn');
    const mine = (await audits()).filter((a) => a.details?.migrationId === t.id);
    expect(mine.map((a) => a.outcome).sort()).toEqual(['denied', 'granted']);
    const events = await asAdmin((vc) => entityEvents(vc, { type: 'VirtualMachine', value: vm('app-multidisk-01') }));
    expect(events.filter((e) => e.eventTypeId === ROLLED_BACK_EVENT).map((e) => e.arguments.instanceAction)).toEqual(['terminated']);
  });

  it('refuses users without the permission to migrate the VM, and a VM that was deleted from vCenter', async () => {
    // A migration of ubuntu-web-01 that completed an hour ago (the refusals come before any AWS call).
    const t = await tasks.insert(completed('mig-rollback-perm', 'ubuntu-web-01', Date.now() - 3600_000));
    // ReadOnly in the environment: may see the task, may not migrate.
    const ro = await rollback(readonly, t.id);
    expect(ro.status).toBe(403);
    expect(errorOf(ro.body)).toMatchObject({ code: 'NO_ENVIRONMENT_PERMISSION', message: 'You do not have permission to migrate VMs into the environment "Rollback". Ask your administrator to grant you permission.' });
    // General, with vApp > Export on the VM, but vCenter does not let the operator power it on.
    const op = await rollback(operator, t.id);
    expect(op.status).toBe(403);
    expect(errorOf(op.body).code).toBe('MIGRATION_ACTION_NOT_ALLOWED');
    expect(errorOf(op.body).message).toContain('Virtual machine > Interaction > Power on, VirtualMachine.Interact.PowerOn');
    const denied = (await audits()).filter((a) => a.details?.migrationId === t.id && a.outcome === 'denied');
    expect(denied.map((a) => [a.actor, a.code])).toEqual(
      expect.arrayContaining([
        ['readonly@vsphere.local', 'NO_ENVIRONMENT_PERMISSION'],
        ['operator@vsphere.local', 'MIGRATION_ACTION_NOT_ALLOWED'],
      ]),
    );
    expect(MigrationTask.parse((await admin.call('GET', `/migrations/${t.id}`)).body).rollback).toMatchObject({ possible: true });

    // The source VM is deleted in vCenter: nothing to power back on.
    await asAdmin(async (vc) => {
      const ref = { type: 'VirtualMachine', value: vm('ubuntu-web-01') };
      if ((await powerState(vc, ref.value)) !== 'poweredOff') await powerOff(vc, ref.value);
      const task = toMoRef(await vc.invoke('Destroy_Task', ref));
      if (task) await vc.waitForTask(task);
    });
    const gone = await rollback(admin, t.id);
    expect(gone.status).toBe(409);
    expect(errorOf(gone.body)).toMatchObject({
      code: 'ROLLBACK_NOT_AVAILABLE',
      message: `Migration ${t.id} cannot be rolled back: its source virtual machine "ubuntu-web-01" (${vm('ubuntu-web-01')}) no longer exists in vCenter, so there is nothing to power back on. The EC2 instance ${t.instanceId} was left as it is.`,
    });
    expect((await audits()).filter((a) => a.details?.migrationId === t.id && a.code === 'ROLLBACK_NOT_AVAILABLE')).toHaveLength(1);
    expect(MigrationTask.parse((await admin.call('GET', `/migrations/${t.id}`)).body).rollback).toEqual({ possible: true, until: new Date(Date.parse(t.finishedAt!) + 7 * DAY).toISOString() });
  });

  it('refuses once the window has closed, saying when; a polled row changes when it closes', async () => {
    const old = await tasks.insert(completed('mig-rollback-old', 'win2019-app-01', Date.now() - 8 * DAY));
    // Completed 7 days less 4 s ago: its window closes in 4 s.
    const closingFinished = Date.now() - 7 * DAY + 4_000;
    const closing = await tasks.insert(completed('mig-rollback-closing', 'win2019-app-01', closingFinished));
    const until = new Date(Date.parse(old.finishedAt!) + 7 * DAY).toISOString();
    const res = await rollback(admin, old.id);
    expect(res.status).toBe(409);
    expect(errorOf(res.body)).toMatchObject({
      code: 'ROLLBACK_NOT_AVAILABLE',
      message: `Migration ${old.id} cannot be rolled back. The rollback window closed at ${until.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}, 7 days after the migration completed.`,
    });
    expect((await audits()).filter((a) => a.details?.migrationId === old.id).map((a) => a.outcome)).toEqual(['denied']);

    // Polled twice (kept by the connector), then again after the window closed: the kept row does not outlive it.
    const row = async () => MigrationList.parse((await admin.call('GET', `/migrations?environmentId=${env.id}`)).body).items.find((i) => i.id === closing.id)!.rollback;
    expect(await row()).toEqual({ possible: true, until: new Date(closingFinished + 7 * DAY).toISOString() });
    expect((await row())?.possible).toBe(true);
    await new Promise((r) => setTimeout(r, Math.max(0, closingFinished + 7 * DAY - Date.now()) + 200));
    expect(await row()).toMatchObject({ possible: false, reason: expect.stringMatching(/^The rollback window closed at /) });
    expect(MigrationTask.parse((await admin.call('GET', `/migrations/${closing.id}`)).body).rollback?.possible).toBe(false);
  });
});
