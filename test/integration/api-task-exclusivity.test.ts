import { DescribeExportTasksCommand, DescribeImportImageTasksCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, Environment, ExportTask, MigrationTask } from '../../connector/contract/index.ts';
import { SOURCE_VM_TAG } from '../../connector/engine/engine.ts';
import {
  allowImports,
  auditOf,
  authorizeImport,
  loginLabUsers,
  migrationEnvironment,
  migrationUntil,
  requestMigration,
  startApiLab,
  type ApiLab,
  type ApiUser,
} from '../support/api-lab.ts';

// Issue 12 items 2 and 3 through real HTTPS against the lab connector: parallel requests for one VM or one
// instance get exactly one task (the others 409, naming it), and who may cancel a migration or an export.
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;
let instanceId: string;

const errorOf = (body: unknown) => ApiErrorBody.parse(body);
const vm = (name: string) => vms.get(name) ?? (() => { throw new Error(`no VM ${name}`); })();

beforeAll(async () => {
  // Instance exports last long enough (3 × 3 s) to be cancelled while in progress.
  lab = await startApiLab({ exportStageMs: 3_000 });
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  // The operator has General, the read-only user Owner.
  ({ env, subnetId, groupId } = await migrationEnvironment(admin, 'Migration'));
  await allowImports(lab);
  const bucket = await admin.call('PUT', '/settings/instance-export', { bucketName: 'lab', expectedBucketName: null });
  expect(bucket.status, JSON.stringify(bucket.body)).toBe(200);
}, 120_000);
afterAll(async () => lab?.stop());

const authorize = (user: ApiUser, vmName: string) => authorizeImport(user, env.id, vm(vmName));
const migrate = (user: ApiUser, token: string, vmName: string) => requestMigration(user, { environmentId: env.id, vmId: vm(vmName), subnetId, groupId, token });

async function started(user: ApiUser, vmName: string): Promise<string> {
  const res = await migrate(user, await authorize(user, vmName), vmName);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return (res.body as { id: string }).id;
}
const until = (id: string, states: string[]) => migrationUntil(admin, id, (t) => states.includes(t.state));

describe('one active migration per VM', { timeout: 300_000 }, () => {
  it('accepts exactly one of three parallel migrations of a VM and refuses the others with 409 naming it', async () => {
    // Each request has its own import authorization, as three portal tabs would.
    const tokens = await Promise.all([1, 2, 3].map(() => authorize(operator, 'ubuntu-web-01')));
    const answers = await Promise.all(tokens.map((t) => migrate(operator, t, 'ubuntu-web-01')));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status !== 202);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409, 409]);
    const id = (accepted[0]!.body as { id: string }).id;
    for (const r of refused) {
      const body = errorOf(r.body);
      expect(body.code).toBe('MIGRATION_ALREADY_RUNNING');
      expect(body.message).toContain(`migration task ${id}, requested by operator@vsphere.local`);
      expect(body.message).toMatch(/wait for that migration to end, or cancel it/);
      expect(body.message).toMatch(/begin the migration again/);
      expect(body.details).toMatchObject({ migrationId: id, requestedBy: 'operator@vsphere.local' });
    }
    // The form says so before Begin, while that migration runs (and no longer once it ended).
    type Preflight = { ready: boolean; checks: { code: string; severity: string; message: string }[] };
    const preflight = () => operator.call<Preflight>('GET', `/vms/${vm('ubuntu-web-01')}/preflight?environmentId=${env.id}`);
    const during = (await preflight()).body;
    expect(during.ready).toBe(false);
    expect(during.checks[0]).toMatchObject({ code: 'MIGRATION_ALREADY_RUNNING', severity: 'blocker', message: expect.stringContaining(`migration task ${id}, requested by operator@vsphere.local`) });

    const done = await until(id, ['completed', 'failed']);
    expect(done.error).toBeUndefined();
    expect(done.state).toBe('completed');
    instanceId = done.instanceId!;

    // One task, one import, one instance for the VM.
    const tasks = MigrationTask.array().parse((await admin.call<{ items: unknown[] }>('GET', `/migrations?vmId=${vm('ubuntu-web-01')}`)).body.items);
    expect(tasks.map((t) => t.id)).toEqual([id]);
    const ec2 = lab.ec2Client('us-east-1');
    // The first migrations of this lab: every import task EC2 has is one of theirs.
    const imports = (await ec2.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(imports.map((t) => t.Description?.split(' ')[1])).toEqual([id]);
    const instances = ((await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${SOURCE_VM_TAG}`, Values: [vm('ubuntu-web-01')] }] }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances.map((i) => i.InstanceId)).toEqual([instanceId]);

    // Both refusals are audited, naming the running task.
    const denied = (await auditOf(admin, 'migration.request')).filter((e) => e.code === 'MIGRATION_ALREADY_RUNNING');
    expect(denied).toHaveLength(2);
    expect(denied.every((e) => e.outcome === 'denied' && e.message.includes(id))).toBe(true);

    // The VM is free again once the migration ended.
    expect((await preflight()).body.checks.map((c) => c.code)).not.toContain('MIGRATION_ALREADY_RUNNING');
    const again = await started(operator, 'ubuntu-web-01');
    expect((await operator.call('POST', `/migrations/${again}/cancel`)).status).toBe(200);
    await until(again, ['cancelled']);
  });
});

describe('one active export per instance', { timeout: 300_000 }, () => {
  it('accepts exactly one of six parallel exports of an instance; only the requester or an administrator may cancel it', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => admin.call('POST', '/exports', { environmentId: env.id, instanceId, s3Prefix: 'exclusive/' })));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409, 409, 409, 409, 409]);
    const exp = ExportTask.parse(answers.find((a) => a.status === 202)!.body);
    for (const r of answers.filter((a) => a.status === 409)) {
      const body = errorOf(r.body);
      expect(body.code).toBe('EXPORT_ALREADY_RUNNING');
      expect(body.message).toMatch(new RegExp(`^The instance ${instanceId} is already being exported: export task (${exp.exportTaskId}|${exp.id} )`));
      expect(body.message).toContain('requested by administrator@vsphere.local');
      expect(body.message).toMatch(/wait for that export to finish, or cancel it/);
      expect(body.details).toMatchObject({ exportId: exp.id, requestedBy: 'administrator@vsphere.local' });
    }
    const ec2 = lab.ec2Client('us-east-1');
    const onEc2 = ((await ec2.send(new DescribeExportTasksCommand({}))).ExportTasks ?? []).filter((t) => t.InstanceExportDetails?.InstanceId === instanceId);
    expect(onEc2.map((t) => t.ExportTaskId)).toEqual([exp.exportTaskId]);
    const listed = (await admin.call<{ items: ExportTask[] }>('GET', '/exports')).body.items;
    expect(listed.map((e) => e.id)).toEqual([exp.id]);
    // Every request is audited: one start, five refusals naming it.
    const requests = await auditOf(admin, 'export.request');
    expect(requests.map((e) => `${e.outcome} ${e.code ?? ''}`).sort()).toEqual(['denied EXPORT_ALREADY_RUNNING', 'denied EXPORT_ALREADY_RUNNING', 'denied EXPORT_ALREADY_RUNNING', 'denied EXPORT_ALREADY_RUNNING', 'denied EXPORT_ALREADY_RUNNING', 'granted ']);
    expect(requests.every((e) => e.details?.instanceId === instanceId && (e.message.includes(exp.exportTaskId) || e.message.includes(exp.id)))).toBe(true);

    // Cancel: a user who is not an administrator and did not request it is refused (and learns nothing more).
    const refused = await operator.call('POST', `/exports/${exp.id}/cancel`);
    expect(refused.status).toBe(403);
    expect(errorOf(refused.body)).toMatchObject({ code: 'CANCEL_NOT_ALLOWED', message: `You cannot cancel export ${exp.id}. The user who requested it or an administrator can cancel it.` });
    const cancelled = await admin.call('POST', `/exports/${exp.id}/cancel`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    const after = ExportTask.parse(cancelled.body);
    expect(after).toMatchObject({ cancelledBy: 'administrator@vsphere.local', cancelledAt: expect.any(String) });
    expect(['cancelling', 'cancelled']).toContain(after.state);
    // The instance is free again once the export ended.
    for (let i = 0; i < 100 && ExportTask.parse((await admin.call<{ items: unknown[] }>('GET', '/exports')).body.items[0]).state !== 'cancelled'; i++) await new Promise((r) => setTimeout(r, 100));
    const next = await admin.call('POST', '/exports', { environmentId: env.id, instanceId, s3Prefix: 'exclusive/' });
    expect(next.status, JSON.stringify(next.body)).toBe(202);
    expect((await admin.call('POST', `/exports/${ExportTask.parse(next.body).id}/cancel`)).status).toBe(200);

    const audit = await auditOf(admin, 'export.cancel');
    const first = audit.filter((e) => e.details?.exportId === exp.id);
    expect(first.map((e) => `${e.actor} ${e.outcome} ${e.code ?? ''}`).sort()).toEqual(['administrator@vsphere.local granted ', 'operator@vsphere.local denied CANCEL_NOT_ALLOWED']);
    expect(audit.every((e) => e.environmentId === env.id)).toBe(true);
  });
});

describe('who may cancel a migration', { timeout: 300_000 }, () => {
  it('the requester, an environment Owner or an administrator; a General user cannot cancel another user’s migration', async () => {
    // Started by the administrator: the operator (General) is refused, the read-only user holding Owner may cancel.
    const byAdmin = await started(admin, 'app-multidisk-01');
    const refused = await operator.call('POST', `/migrations/${byAdmin}/cancel`);
    expect(refused.status).toBe(403);
    expect(errorOf(refused.body)).toMatchObject({
      code: 'CANCEL_NOT_ALLOWED',
      message: `You cannot cancel migration ${byAdmin}: it was requested by administrator@vsphere.local. The user who requested it, an environment Owner or an administrator can cancel it. Ask one of them to cancel it.`,
    });
    expect(MigrationTask.parse((await admin.call('GET', `/migrations/${byAdmin}`)).body).cancelledBy).toBeUndefined();
    const byOwner = await readonly.call('POST', `/migrations/${byAdmin}/cancel`);
    expect(byOwner.status).toBe(200);
    expect(MigrationTask.parse(byOwner.body)).toMatchObject({ cancelledBy: 'readonly@vsphere.local', cancelledAt: expect.any(String) });
    expect(await until(byAdmin, ['cancelled'])).toMatchObject({ state: 'cancelled', cancelledBy: 'readonly@vsphere.local' });

    // The requester cancels their own; an administrator cancels anyone's.
    const own = await started(operator, 'app-multidisk-01');
    expect((await operator.call('POST', `/migrations/${own}/cancel`)).status).toBe(200);
    const byOperator = await started(operator, 'rhel-db-01');
    expect((await admin.call('POST', `/migrations/${byOperator}/cancel`)).status).toBe(200);
    expect(await until(own, ['cancelled'])).toMatchObject({ cancelledBy: 'operator@vsphere.local' });
    expect(await until(byOperator, ['cancelled'])).toMatchObject({ cancelledBy: 'administrator@vsphere.local' });

    // Cancelling an ended migration changes nothing, not even who cancelled it.
    const late = await admin.call('POST', `/migrations/${own}/cancel`);
    expect(MigrationTask.parse(late.body)).toMatchObject({ state: 'cancelled', cancelledBy: 'operator@vsphere.local' });

    const audit = (await auditOf(admin, 'migration.cancel')).filter((e) => [byAdmin, own, byOperator].includes(String(e.details?.migrationId)));
    expect(audit.map((e) => `${String(e.details?.migrationId)} ${e.actor} ${e.outcome} ${e.code ?? ''}`).sort()).toEqual(
      [
        `${byAdmin} operator@vsphere.local denied CANCEL_NOT_ALLOWED`,
        `${byAdmin} readonly@vsphere.local granted `,
        `${own} operator@vsphere.local granted `,
        `${byOperator} administrator@vsphere.local granted `,
        `${own} administrator@vsphere.local granted `,
      ].sort(),
    );
    expect(audit.find((e) => e.actor === 'administrator@vsphere.local' && e.details?.migrationId === own)?.message).toMatch(/already cancelled: nothing changed/);
    expect(audit.every((e) => e.environmentId === env.id)).toBe(true);
  });
});

describe('an instance VM Export cannot export', { timeout: 300_000 }, () => {
  it('is refused with 422 INSTANCE_NOT_EXPORTABLE saying why and what can be exported, and the refusal is audited', async () => {
    // app-multidisk-01 has three disks, so its instance has three EBS volumes: VM Export exports one virtual disk only.
    const done = await until(await started(admin, 'app-multidisk-01'), ['completed', 'failed']);
    expect([done.state, done.error]).toEqual(['completed', undefined]);
    const multi = done.instanceId!;
    const res = await admin.call('POST', '/exports', { environmentId: env.id, instanceId: multi, s3Prefix: 'refused/' });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    const body = errorOf(res.body);
    expect(body.code).toBe('INSTANCE_NOT_EXPORTABLE');
    expect(body.message).toBe(
      `EC2 cannot export ${multi}: Instance ${multi} has 3 EBS volumes (/dev/sda1, /dev/sdb, /dev/sdc). VM Export can export an instance with one virtual disk only. ` +
        'Only an instance with one unencrypted EBS volume of at most 1 TiB and no software provided by AWS (license-included Windows or SQL Server, AWS Marketplace) can be exported to S3.',
    );
    const onEc2 = ((await lab.ec2Client('us-east-1').send(new DescribeExportTasksCommand({}))).ExportTasks ?? []).filter((t) => t.InstanceExportDetails?.InstanceId === multi);
    expect(onEc2).toEqual([]);
    const denied = (await auditOf(admin, 'export.request')).filter((e) => e.details?.instanceId === multi);
    expect(denied.map((e) => `${e.actor} ${e.outcome} ${e.code ?? ''}`)).toEqual(['administrator@vsphere.local denied INSTANCE_NOT_EXPORTABLE']);
    expect(denied[0]?.message).toBe(body.message);
  });
});
