import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, AuditPage, Environment, ImportAuthorization, MigrationTask, PreflightResult, type AuditEntry } from '../../connector/contract/index.ts';
import { readWarmFacts } from '../../connector/preflight/warm-facts.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { allowImports, loginLabUsers, migrationEnvironment, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// Warm migration's API through real HTTPS against the lab connector: the warm fields of POST /migrations, the
// pre-flight's replication checks, and who may launch a test instance, finish it and cut over (same rule as cancel,
// every grant and refusal audited).
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let otherSubnetId: string;
let groupId: string;

const errorOf = (body: unknown) => ApiErrorBody.parse(body);
const vm = (name: string) => vms.get(name) ?? (() => { throw new Error(`no VM ${name}`); })();

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const warm = await migrationEnvironment(admin, 'Warm');
  ({ env, subnetId, groupId } = warm);
  otherSubnetId = warm.network.subnets.find((s) => s.name === 'lab-app-b')!.id;
  await allowImports(lab);
}, 120_000);
afterAll(async () => lab?.stop());

async function authorize(user: ApiUser, vmName: string): Promise<string> {
  const res = await user.call('POST', '/import-authorizations', { environmentId: env.id, vmId: vm(vmName) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return ImportAuthorization.parse(res.body).token;
}
const form = (vmName: string) => ({ environmentId: env.id, vmId: vm(vmName), platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId] });
async function started(user: ApiUser, vmName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await user.call('POST', '/migrations', { token: await authorize(user, vmName), ...form(vmName), ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return (res.body as { id: string }).id;
}
const task = async (id: string) => MigrationTask.parse((await admin.call('GET', `/migrations/${id}`)).body);
async function until(id: string, done: (t: MigrationTask) => boolean, what: string, ms = 120_000): Promise<MigrationTask> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const t = await task(id);
    if (done(t)) return t;
    if (t.state === 'failed') throw new Error(`migration ${id} failed: ${t.error}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`migration ${id}: ${what} did not happen`);
}
async function auditOf(action: string, migrationId: string): Promise<AuditEntry[]> {
  const entries = AuditPage.parse((await admin.call('GET', `/audit?action=${action}&limit=200`)).body).entries;
  return entries.filter((e) => e.details?.migrationId === migrationId).reverse();
}
const preflight = async (user: ApiUser, vmName: string, query = '') => {
  const res = await user.call('GET', `/vms/${vm(vmName)}/preflight?environmentId=${env.id}${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return PreflightResult.parse(res.body);
};
const codes = (r: PreflightResult) => r.checks.map((c) => `${c.severity} ${c.code}`);

describe('pre-flight for Replicate, then cut over', { timeout: 120_000 }, () => {
  it('reads hardware version, VMware Tools and datastores from the lab vCenter', async () => {
    const client = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, thumbprint: lab.vcsim.thumbprintSha256 });
    try {
      await client.login('administrator@vsphere.local', 'Admin!23');
      const facts = await readWarmFacts(client, vm('rhel-db-01'));
      // vcsim creates vmx-13 VMs with VMware Tools not running; the lab's one datastore.
      expect(facts).toMatchObject({ hardwareVersion: 13, toolsRunning: false, changeTrackingEnabled: false, datastores: [{ name: 'LocalDS_0' }] });
      expect(facts.datastores[0]!.id).not.toBe('');
    } finally {
      await client.logout().catch(() => undefined);
      client.close();
    }
  });

  it('adds the replication checks only when the form asks for warm; cold answers as before', async () => {
    const cold = await preflight(admin, 'rhel-db-01');
    // Linux in an environment whose default licence is AWS-provided: imported as BYOL, said as info (issue 18).
    expect(codes(cold)).toEqual(['warning POWERED_ON', 'info LICENSE_TYPE_ADJUSTED']);

    const warm = await preflight(admin, 'rhel-db-01', '&mode=warm');
    expect(warm.ready).toBe(true);
    expect(codes(warm)).toEqual(['warning WARM_TOOLS_NOT_RUNNING', 'info NITRO_READINESS', 'info LICENSE_TYPE_ADJUSTED']);
    expect(warm.checks[0]!.message).toBe('VMware Tools is not running in "rhel-db-01", so the connector cannot shut down the guest operating system at cutover.');
    expect(warm.checks[1]!.details).toEqual({ nitroReady: true, source: 'vm-settings', guestId: 'rhel8_64Guest', firmware: 'bios' });
    expect(warm.checks[1]!.message).toContain('the guest OS in the VM settings is Red Hat Enterprise Linux 8 (64-bit) (VMware Tools is not running');

    // Powering the VM off yourself at cutover needs no Tools.
    expect(codes(await preflight(admin, 'rhel-db-01', '&mode=warm&cutoverShutdown=user'))).toEqual(['info NITRO_READINESS', 'info LICENSE_TYPE_ADJUSTED']);
    // A powered-off VM: Migrate now is as fast.
    const off = await preflight(admin, 'ubuntu-web-01', '&mode=warm');
    expect(codes(off)).toEqual(['warning WARM_POWERED_OFF', 'info NITRO_READINESS', 'info LICENSE_TYPE_ADJUSTED']);
  });

  it('blocks a user whose vCenter role does not allow what replication does, naming each privilege and the datastore', async () => {
    const r = await preflight(readonly, 'debian-tools-01', '&mode=warm');
    expect(r.ready).toBe(false);
    const missing = r.checks.find((c) => c.code === 'WARM_PRIVILEGE_MISSING');
    expect(missing?.severity).toBe('blocker');
    expect(missing?.message).toBe(
      'Your vCenter role does not allow what replication does for you: ' +
        'Virtual machine > Snapshot management > Create snapshot (VirtualMachine.State.CreateSnapshot) on "debian-tools-01"; ' +
        'Virtual machine > Snapshot management > Remove snapshot (VirtualMachine.State.RemoveSnapshot) on "debian-tools-01"; ' +
        'Virtual machine > Change Configuration > Toggle disk change tracking (VirtualMachine.Config.ChangeTracking) on "debian-tools-01"; ' +
        'Virtual machine > Provisioning > Allow read-only disk access (VirtualMachine.Provisioning.DiskRandomRead) on "debian-tools-01"; ' +
        'Virtual machine > Interaction > Power off (VirtualMachine.Interact.PowerOff) on "debian-tools-01"; ' +
        'Datastore > Browse datastore (Datastore.Browse) on the datastore "LocalDS_0".',
    );
    expect(missing?.fix).toContain('Power off is needed only because the connector shuts the guest down at cutover: with "I will power off the VM myself" it is not.');
    // Powering the VM off yourself needs no Power off privilege from the connector's side.
    const own = (await preflight(readonly, 'debian-tools-01', '&mode=warm&cutoverShutdown=user')).checks.find((c) => c.code === 'WARM_PRIVILEGE_MISSING');
    expect(own?.message).not.toContain('Power off');
    // The cold snapshot check does not say it twice.
    expect(r.checks.map((c) => c.code)).not.toContain('SNAPSHOT_PRIVILEGE_MISSING');
    // The lab's operator holds them on a Migration VM (role MigrationOperator, Browse datastore on LocalDS_0).
    expect(codes(await preflight(operator, 'rhel-db-01', '&mode=warm'))).toEqual(['warning WARM_TOOLS_NOT_RUNNING', 'info NITRO_READINESS', 'info LICENSE_TYPE_ADJUSTED']);
  });

  it('blocks a VM that has snapshots of its own', async () => {
    const client = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, thumbprint: lab.vcsim.thumbprintSha256 });
    try {
      await client.login('administrator@vsphere.local', 'Admin!23');
      const snapshot = await client.createSnapshot(vm('win2016-dc-01'), 'before patching');
      try {
        const r = await preflight(admin, 'win2016-dc-01', '&mode=warm');
        expect(r.ready).toBe(false);
        expect(r.checks.find((c) => c.code === 'SNAPSHOTS_PRESENT')).toMatchObject({ severity: 'blocker', message: expect.stringContaining('"win2016-dc-01" has 1 snapshot.') });
        // Migrate now still only warns.
        expect((await preflight(admin, 'win2016-dc-01')).checks.find((c) => c.code === 'SNAPSHOTS_PRESENT')?.severity).toBe('warning');
      } finally {
        await client.removeSnapshot(snapshot);
      }
    } finally {
      await client.logout().catch(() => undefined);
      client.close();
    }
  });

  it('refuses a cutover shutdown without mode warm, saying so', async () => {
    const res = await admin.call('GET', `/vms/${vm('rhel-db-01')}/preflight?environmentId=${env.id}&cutoverShutdown=user`);
    expect(res.status).toBe(400);
    expect(errorOf(res.body).message).toContain('The cutover shutdown and the image path apply only to "Replicate, then cut over" (mode warm).');
  });
});

describe('warm migrations through the API', { timeout: 300_000 }, () => {
  let warmId: string;
  let coldId: string;
  let token: string;

  it('refuses an interval, a shutdown or an image path with mode cold, with the contract’s words, before spending the authorization', async () => {
    token = await authorize(admin, 'rhel-db-01');
    for (const extra of [{ replicationIntervalMinutes: 30 }, { mode: 'cold', cutoverShutdown: 'user' }, { imagePath: 'register-image' }]) {
      const res = await admin.call('POST', '/migrations', { token, ...form('rhel-db-01'), ...extra });
      expect(res.status).toBe(400);
      const body = errorOf(res.body);
      expect(body.code).toBe('VALIDATION_FAILED');
      expect(body.message).toContain('The replication interval, the cutover shutdown and the image path apply only to "Replicate, then cut over" (mode warm).');
    }
    const tooOften = await admin.call('POST', '/migrations', { token, ...form('rhel-db-01'), mode: 'warm', replicationIntervalMinutes: 2 });
    expect(tooOften.status).toBe(400);
    expect(errorOf(tooOften.body).message).toContain('Replicate at most every 5 minutes.');
  });

  it('submits a warm migration with the defaults applied and visible on the task', async () => {
    // The authorization the refused requests carried is still unused.
    const res = await admin.call('POST', '/migrations', { token, ...form('rhel-db-01'), mode: 'warm' });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    warmId = (res.body as { id: string }).id;
    const t = await task(warmId);
    expect(t.mode).toBe('warm');
    expect(t.warm).toMatchObject({ intervalMinutes: 15, shutdown: 'guest' });
    const granted = (AuditPage.parse((await admin.call('GET', '/audit?action=migration.request&limit=50')).body).entries).find((e) => e.message.includes(warmId));
    expect(granted).toMatchObject({ outcome: 'granted', message: `Import authorized; warm migration (replicate, then cut over) ${warmId} started.` });
    // A replicating VM is busy like one being copied: the form says so before Begin, for either mode.
    for (const query of ['', '&mode=warm']) {
      const again = await preflight(operator, 'rhel-db-01', query);
      expect(again.checks[0]).toMatchObject({ code: 'MIGRATION_ALREADY_RUNNING', severity: 'blocker', message: expect.stringContaining(`migration task ${warmId}, requested by administrator@vsphere.local`) });
    }
  });

  it('keeps the form’s interval and shutdown choices', async () => {
    const id = await started(admin, 'debian-tools-01', { mode: 'warm', replicationIntervalMinutes: 60, cutoverShutdown: 'user' });
    expect((await task(id)).warm).toMatchObject({ intervalMinutes: 60, shutdown: 'user' });
    expect((await admin.call('POST', `/migrations/${id}/cancel`)).status).toBe(200);
  });

  it('submits a cold migration exactly as before (mode omitted = cold, no replication state)', async () => {
    coldId = await started(admin, 'ubuntu-web-01');
    const t = await task(coldId);
    expect(t.mode).toBe('cold');
    expect(t.warm).toBeUndefined();
  });

  it('refuses a General user acting on someone else’s migration with 403, and audits each refusal', async () => {
    const tries = [
      ['POST', `/migrations/${warmId}/test-instance`, { subnetId }, 'migration.test-launch', `launch a test instance of migration ${warmId}`, 'launch its test instance'],
      ['POST', `/migrations/${warmId}/test-instance/finish`, undefined, 'migration.test-finish', `finish the test of migration ${warmId}`, 'finish its test'],
      ['POST', `/migrations/${warmId}/cutover`, undefined, 'migration.cutover', `cut over migration ${warmId}`, 'cut it over'],
    ] as const;
    for (const [method, path, body, action, what, verb] of tries) {
      const res = await operator.call(method, path, body);
      expect(res.status, path).toBe(403);
      const message = `You cannot ${what}: it was requested by administrator@vsphere.local. The user who requested it, an environment Owner or an administrator can ${verb}. Ask one of them to ${verb}.`;
      expect(errorOf(res.body)).toEqual({ code: 'MIGRATION_ACTION_NOT_ALLOWED', message });
      const entries = await auditOf(action, warmId);
      expect(entries.map((e) => [e.actor, e.outcome, e.code, e.message, e.vmId])).toEqual([['operator@vsphere.local', 'denied', 'MIGRATION_ACTION_NOT_ALLOWED', message, vm('rhel-db-01')]]);
    }
    // Nothing changed on the task.
    expect((await task(warmId)).warm?.test).toBeUndefined();
  });

  it('refuses a test instance in a subnet outside the environment with 400 naming its subnets', async () => {
    const res = await admin.call('POST', `/migrations/${warmId}/test-instance`, { subnetId: otherSubnetId });
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toEqual({
      code: 'SUBNET_NOT_IN_ENVIRONMENT',
      message: `The subnet ${otherSubnetId} is not one of the subnets of the environment "Warm". Select one of its subnets: ${subnetId}.`,
      details: { subnetIds: [subnetId] },
    });
    const denied = (await auditOf('migration.test-launch', warmId)).filter((e) => e.actor === 'administrator@vsphere.local');
    expect(denied.map((e) => [e.outcome, e.code])).toEqual([['denied', 'SUBNET_NOT_IN_ENVIRONMENT']]);

    // Not a subnet id at all: the contract refuses it before the handler, and that refusal is on record too.
    const malformed = await admin.call('POST', `/migrations/${warmId}/test-instance`, { subnetId: 'lab-app-b' });
    expect(malformed.status).toBe(400);
    expect(errorOf(malformed.body).code).toBe('VALIDATION_FAILED');
    const refusals = AuditPage.parse((await admin.call('GET', '/audit?action=migration.test-launch&limit=200')).body).entries.filter((e) => e.code === 'VALIDATION_FAILED');
    expect(refusals.map((e) => [e.actor, e.outcome])).toEqual([['administrator@vsphere.local', 'denied']]);
  });

  it('answers 409 WARM_ACTION_NOT_AVAILABLE for a warm action on a cold migration, audited', async () => {
    for (const [path, body, action] of [
      [`/migrations/${coldId}/test-instance`, { subnetId }, 'migration.test-launch'],
      [`/migrations/${coldId}/cutover`, undefined, 'migration.cutover'],
    ] as const) {
      const res = await admin.call('POST', path, body);
      expect(res.status, path).toBe(409);
      const err = errorOf(res.body);
      expect(err.code).toBe('WARM_ACTION_NOT_AVAILABLE');
      expect(err.message.length).toBeGreaterThan(20);
      const entries = await auditOf(action, coldId);
      expect(entries.map((e) => [e.outcome, e.code, e.message])).toEqual([['denied', 'WARM_ACTION_NOT_AVAILABLE', err.message]]);
    }
  });

  it('lets the requester launch and an environment Owner finish a test instance once replicating, each audited as granted', async () => {
    await until(warmId, (t) => (t.warm?.cycles ?? 0) >= 1, 'the initial sync');
    const launched = await admin.call('POST', `/migrations/${warmId}/test-instance`, { subnetId });
    expect(launched.status, JSON.stringify(launched.body)).toBe(200);
    expect(MigrationTask.parse(launched.body).warm?.test).toMatchObject({ subnetId, requestedBy: 'administrator@vsphere.local' });
    const grants = (await auditOf('migration.test-launch', warmId)).filter((e) => e.outcome === 'granted');
    expect(grants.map((e) => [e.actor, e.message])).toEqual([['administrator@vsphere.local', `Launching a test instance of migration ${warmId} in ${subnetId} (requested by administrator@vsphere.local).`]]);

    await until(warmId, (t) => t.warm?.test?.state === 'running', 'the test instance');
    // readonly@vsphere.local holds the Owner role in the environment: the rule lets Owners act on any migration in it.
    const finished = await readonly.call('POST', `/migrations/${warmId}/test-instance/finish`);
    expect(finished.status, JSON.stringify(finished.body)).toBe(200);
    const finishes = await auditOf('migration.test-finish', warmId);
    expect(finishes.filter((e) => e.outcome === 'granted').map((e) => e.actor)).toEqual(['readonly@vsphere.local']);
  });

  it('refuses a cutover that would shut down the guest for someone vCenter does not allow to power the VM off', async () => {
    // readonly@vsphere.local may act on the migration (environment Owner) but holds only read privileges in vCenter.
    const res = await readonly.call('POST', `/migrations/${warmId}/cutover`);
    expect(res.status).toBe(403);
    const message = `You cannot cut over migration ${warmId}: it shuts down the guest of "rhel-db-01", and your vCenter role does not allow powering it off (Virtual machine > Interaction > Power off, VirtualMachine.Interact.PowerOff). Ask your vCenter administrator for that privilege, or ask someone who holds it to cut over.`;
    expect(errorOf(res.body)).toEqual({ code: 'MIGRATION_ACTION_NOT_ALLOWED', message });
    const denied = (await auditOf('migration.cutover', warmId)).filter((e) => e.actor === 'readonly@vsphere.local');
    expect(denied.map((e) => [e.outcome, e.code, e.message])).toEqual([['denied', 'MIGRATION_ACTION_NOT_ALLOWED', message]]);
    expect((await task(warmId)).warm?.cutover).toBeUndefined();
  });

  it('lets the requester cut over, audited as granted', async () => {
    await until(warmId, (t) => t.warm?.test === undefined || t.warm.test.state !== 'finishing', 'the test to finish');
    const res = await admin.call('POST', `/migrations/${warmId}/cutover`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(MigrationTask.parse(res.body).warm?.cutover).toMatchObject({ requestedBy: 'administrator@vsphere.local' });
    const grants = (await auditOf('migration.cutover', warmId)).filter((e) => e.outcome === 'granted');
    expect(grants.map((e) => [e.actor, e.message])).toEqual([['administrator@vsphere.local', `Cutting over migration ${warmId} (requested by administrator@vsphere.local; shutting down the guest).`]]);
  });
});
