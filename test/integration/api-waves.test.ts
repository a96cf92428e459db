import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, Environment, MigrationList, MigrationTask, Wave, WaveBlocked, WaveList, type WaveCreateInput } from '../../connector/contract/index.ts';
import { allowImports, auditOf, authorizeImport, loginLabUsers, migrationEnvironment, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// Issue 14, waves through real HTTPS against the lab connector: a wave is admitted row by row exactly like POST
// /migrations (its own import authorization per VM, the pre-flight of both ends), refused as a whole with every blocked
// row named, and otherwise becomes one engine task per VM; it is read back with aggregates and cancelled as a whole.
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;

const vm = (name: string) => vms.get(name) ?? (() => { throw new Error(`no VM ${name}`); })();
const hourFromNow = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  // The operator and the read-only user both have General.
  ({ env, subnetId, groupId } = await migrationEnvironment(admin, 'Waves', 'General'));
  await allowImports(lab);
}, 120_000);
afterAll(async () => lab?.stop());

const authorize = (user: ApiUser, vmName: string) => authorizeImport(user, env.id, vm(vmName));
const common = () => ({ environmentId: env.id, platform: 'Linux' as const, subnetId, instanceType: 'm5.large', securityGroupIds: [groupId] });
const createWave = (user: ApiUser, body: WaveCreateInput) => user.call('POST', '/waves', body);
async function migrationsOf(vmName: string): Promise<MigrationTask[]> {
  return MigrationList.parse((await admin.call('GET', `/migrations?vmId=${vm(vmName)}`)).body).items;
}
async function waveUntil(id: string, done: (w: Wave) => boolean, ms = 180_000): Promise<Wave> {
  let last: Wave | undefined;
  for (const end = Date.now() + ms; Date.now() < end; ) {
    last = Wave.parse((await operator.call('GET', `/waves/${id}`)).body);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tasks = await Promise.all((last?.taskIds ?? []).map(async (t) => MigrationTask.parse((await admin.call('GET', `/migrations/${t}`)).body)));
  throw new Error(`wave ${id} did not get there: ${JSON.stringify(last)}; its migrations: ${JSON.stringify(tasks.map((t) => [t.vmName, t.state, t.phase, t.error, t.importStatus]))}`);
}

describe('waves', { timeout: 300_000 }, () => {
  it('refuses a wave with blocked rows as a whole, naming each row and why, creates nothing, and leaves the authorizations usable', async () => {
    const ubuntu = await authorize(operator, 'ubuntu-web-01');
    const bsd = await authorize(operator, 'bsd-firewall-01');
    const otherUbuntu = await authorize(operator, 'ubuntu-web-01');
    const before = WaveList.parse((await admin.call('GET', '/waves')).body).total;
    const res = await createWave(operator, {
      ...common(),
      name: 'Blocked wave',
      vms: [
        { vmId: vm('ubuntu-web-01'), token: ubuntu },
        // FreeBSD: a guest OS VM Import does not support.
        { vmId: vm('bsd-firewall-01'), token: bsd },
        // An authorization issued for another VM.
        { vmId: vm('warehouse-01'), token: otherUbuntu },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    const refusal = WaveBlocked.parse(res.body);
    expect(refusal.code).toBe('PREFLIGHT_BLOCKED');
    expect(refusal.message).toMatch(/2 of 3 VMs are blocked/);
    expect(refusal.message).toContain('Nothing was created');
    const rows = refusal.details.rows;
    expect(rows.map((r) => r.index)).toEqual([1, 2]);
    expect(rows[0]).toMatchObject({ vmId: vm('bsd-firewall-01'), vmName: 'bsd-firewall-01' });
    expect(rows[0]!.blockers.map((b) => b.code)).toContain('GUEST_OS_UNSUPPORTED');
    expect(rows[1]!.vmId).toBe(vm('warehouse-01'));
    expect(rows[1]!.blockers.map((b) => b.code)).toContain('TOKEN_MISMATCH');

    // Nothing was created: no wave, no migration of the one clean VM.
    expect(WaveList.parse((await admin.call('GET', '/waves')).body).total).toBe(before);
    expect(await migrationsOf('ubuntu-web-01')).toEqual([]);
    const [denied] = (await auditOf(admin, 'wave.create')).filter((e) => e.outcome === 'denied');
    expect(denied).toMatchObject({ actor: 'operator@vsphere.local', environmentId: env.id, code: 'PREFLIGHT_BLOCKED' });

    // The clean row's authorization was not used up: the same token begins a wave of that VM alone.
    const again = await createWave(operator, { ...common(), name: 'Unblocked', window: { notBefore: hourFromNow() }, vms: [{ vmId: vm('ubuntu-web-01'), token: ubuntu }] });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    const wave = Wave.parse(again.body);
    await operator.call('POST', `/waves/${wave.id}/cancel`);
    await waveUntil(wave.id, (w) => w.state === 'cancelled');
    // And is used up now: the row passes every check, and is refused when its authorization is redeemed.
    const replay = await createWave(operator, { ...common(), name: 'Replay', vms: [{ vmId: vm('ubuntu-web-01'), token: ubuntu }] });
    expect(replay.status, JSON.stringify(replay.body)).toBe(422);
    expect(WaveBlocked.parse(replay.body).details.rows[0]!.blockers.map((b) => b.code)).toEqual(['TOKEN_ALREADY_USED']);
    expect(WaveList.parse((await admin.call('GET', '/waves')).body).total).toBe(before + 1);
  });

  it('gives a VM to exactly one of two waves created at once; the other creates nothing', async () => {
    const before = WaveList.parse((await admin.call('GET', '/waves')).body).total;
    const tokens = await Promise.all([1, 2].map(() => authorize(operator, 'rhel-db-01')));
    const answers = await Promise.all(tokens.map((token, i) => createWave(operator, { ...common(), name: `Race ${i}`, window: { notBefore: hourFromNow() }, vms: [{ vmId: vm('rhel-db-01'), token }] })));
    const won = answers.filter((a) => a.status === 201);
    const lost = answers.filter((a) => a.status !== 201);
    expect(won).toHaveLength(1);
    // Refused at the pre-flight (422, the row names the running migration) or, when both passed it, by the engine (409).
    expect([409, 422]).toContain(lost[0]!.status);
    const refusal = ApiErrorBody.parse(lost[0]!.body);
    expect(refusal.code === 'MIGRATION_ALREADY_RUNNING' || JSON.stringify(refusal.details).includes('MIGRATION_ALREADY_RUNNING'), JSON.stringify(refusal)).toBe(true);
    expect(WaveList.parse((await admin.call('GET', '/waves')).body).total).toBe(before + 1);
    const active = (await migrationsOf('rhel-db-01')).filter((t) => t.state !== 'cancelled');
    expect(active.map((t) => t.waveId)).toEqual([Wave.parse(won[0]!.body).id]);
    await operator.call('POST', `/waves/${Wave.parse(won[0]!.body).id}/cancel`);
    await waveUntil(Wave.parse(won[0]!.body).id, (w) => w.state === 'cancelled');
  });

  it('refuses a VM listed twice with 400 naming it, and audits the refusal', async () => {
    const t1 = await authorize(operator, 'warehouse-01');
    const t2 = await authorize(operator, 'warehouse-01');
    const res = await createWave(operator, { ...common(), name: 'Twice', vms: [{ vmId: vm('warehouse-01'), token: t1 }, { vmId: vm('warehouse-01'), token: t2 }] });
    expect(res.status).toBe(400);
    const err = ApiErrorBody.parse(res.body);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toContain(`The VM ${vm('warehouse-01')} is in the wave twice (rows 1 and 2)`);
    const [entry] = (await auditOf(admin, 'wave.create')).filter((e) => e.code === 'VALIDATION_FAILED');
    expect(entry).toMatchObject({ actor: 'operator@vsphere.local', outcome: 'denied', environmentId: env.id });
    expect(await migrationsOf('warehouse-01')).toEqual([]);
  });

  it('takes a wave larger than the connector\'s usual 64 KiB body (an authorization per VM) and refuses more than 500 VMs', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => ({ vmId: `vm-${9000 + i}`, token: `${'e'.repeat(300)}.${'p'.repeat(200)}.${'s'.repeat(86)}` }));
    const big = { ...common(), name: 'Large', vms: rows };
    expect(JSON.stringify(big).length).toBeGreaterThan(64 * 1024);
    const res = await createWave(operator, big);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(422);
    const blocked = WaveBlocked.parse(res.body).details.rows;
    expect(blocked).toHaveLength(120);
    expect(blocked[119]!.blockers.map((b) => b.code)).toEqual(['TOKEN_INVALID', 'VM_NOT_FOUND']);
    const tooMany = await createWave(operator, { ...common(), name: 'Too many', vms: Array.from({ length: 501 }, (_, i) => ({ vmId: `vm-${9000 + i}`, token: 'a.b.c' })) });
    expect(tooMany.status).toBe(400);
    expect(ApiErrorBody.parse(tooMany.body).message).toContain('A wave has at most 500 VMs; split the list into several waves.');
  });

  it('refuses a start window that has already closed, and a row whose authorization is another user’s', async () => {
    const token = await authorize(operator, 'warehouse-01');
    const closed = await createWave(operator, { ...common(), name: 'Too late', window: { notAfter: new Date(Date.now() - 60_000).toISOString() }, vms: [{ vmId: vm('warehouse-01'), token }] });
    expect(closed.status).toBe(400);
    expect(ApiErrorBody.parse(closed.body).message).toMatch(/^The start window closed at .* no migration of this wave could start/);
    const backwards = await createWave(operator, { ...common(), name: 'Backwards', window: { notBefore: hourFromNow(), notAfter: new Date().toISOString() }, vms: [{ vmId: vm('warehouse-01'), token }] });
    expect(backwards.status).toBe(400);
    expect(ApiErrorBody.parse(backwards.body).message).toContain('the not-after time must be later than the not-before time');
    // Each row's authorization is the requester's own: another user's is refused for that row.
    const notMine = await createWave(admin, { ...common(), name: 'Not mine', vms: [{ vmId: vm('ubuntu-web-01'), token: await authorize(operator, 'ubuntu-web-01') }] });
    expect(notMine.status).toBe(422);
    expect(WaveBlocked.parse(notMine.body).details.rows[0]!.blockers.map((b) => b.code)).toContain('TOKEN_MISMATCH');
  });

  it('creates one migration per VM with the wave, its priority and window; reads the wave back; cancels it as a whole, once, by those allowed', async () => {
    const rows = await Promise.all(['rhel-db-01', 'app-multidisk-01'].map(async (name) => ({ vmId: vm(name), token: await authorize(operator, name) })));
    const notBefore = new Date(Date.now() + 3_600_000);
    const res = await createWave(operator, {
      ...common(),
      name: 'Data centre A, wave 1',
      priority: 70,
      window: { notBefore: notBefore.toISOString().replace('Z', '+00:00') },
      vms: [rows[0]!, { ...rows[1]!, overrides: { instanceType: 'm5.xlarge' } }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const wave = Wave.parse(res.body);
    expect(wave).toMatchObject({ name: 'Data centre A, wave 1', priority: 70, environmentId: env.id, mode: 'cold', createdBy: 'operator@vsphere.local', total: 2, window: { notBefore: notBefore.toISOString() } });
    expect(wave.taskIds).toHaveLength(2);
    expect(Object.values(wave.counts).reduce((a, b) => a + b, 0)).toBe(2);
    expect(wave.bytesLeft).toBeGreaterThan(0);

    const tasks = await Promise.all(wave.taskIds.map(async (id) => MigrationTask.parse((await operator.call('GET', `/migrations/${id}`)).body)));
    expect(tasks.map((t) => [t.vmName, t.waveId, t.instanceType, t.requestedBy])).toEqual([
      ['rhel-db-01', wave.id, 'm5.large', 'operator@vsphere.local'],
      ['app-multidisk-01', wave.id, 'm5.xlarge', 'operator@vsphere.local'],
    ]);
    const granted = (await auditOf(admin, 'migration.request')).filter((e) => (e.details as { waveId?: string } | undefined)?.waveId === wave.id);
    expect(granted.map((e) => e.vmName).sort()).toEqual(['app-multidisk-01', 'rhel-db-01']);
    const [created] = (await auditOf(admin, 'wave.create')).filter((e) => e.outcome === 'granted' && (e.details as { waveId?: string }).waveId === wave.id);
    expect(created?.message).toContain('Created the wave "Data centre A, wave 1"');

    // Listed (newest first) for users of the environment.
    const list = WaveList.parse((await readonly.call('GET', '/waves')).body);
    expect(list.items[0]?.id).toBe(wave.id);

    // Someone else with only the General role may not cancel it; the refusal is audited.
    const refused = await readonly.call('POST', `/waves/${wave.id}/cancel`);
    expect(refused.status).toBe(403);
    expect(ApiErrorBody.parse(refused.body)).toMatchObject({ code: 'CANCEL_NOT_ALLOWED' });
    expect(ApiErrorBody.parse(refused.body).message).toContain('created by operator@vsphere.local');

    const cancelled = await operator.call('POST', `/waves/${wave.id}/cancel`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(Wave.parse(cancelled.body)).toMatchObject({ cancelledBy: 'operator@vsphere.local' });
    const ended = await waveUntil(wave.id, (w) => w.state === 'cancelled');
    expect(ended.counts.cancelled).toBe(2);
    expect(ended.bytesLeft).toBe(0);
    for (const id of wave.taskIds) expect(MigrationTask.parse((await admin.call('GET', `/migrations/${id}`)).body)).toMatchObject({ state: 'cancelled', cancelledBy: 'operator@vsphere.local' });

    // Idempotent: a second cancel changes nothing and keeps who cancelled first.
    const twice = await admin.call('POST', `/waves/${wave.id}/cancel`);
    expect(twice.status).toBe(200);
    expect(Wave.parse(twice.body)).toMatchObject({ state: 'cancelled', cancelledBy: 'operator@vsphere.local', cancelledAt: ended.cancelledAt });
    const entries = (await auditOf(admin, 'wave.cancel')).filter((e) => (e.details as { waveId?: string }).waveId === wave.id);
    expect(entries.map((e) => [e.actor, e.outcome])).toEqual([
      ['administrator@vsphere.local', 'granted'],
      ['operator@vsphere.local', 'granted'],
      ['readonly@vsphere.local', 'denied'],
    ]);
    expect(entries[0]!.message).toContain('nothing changed');
  });

  // One small VM (448 MiB over three disks): the lab copies every byte, and the machine is shared.
  it('runs a wave to the end: its migration completes and the wave says so', { timeout: 600_000 }, async () => {
    const rows = [{ vmId: vm('app-multidisk-01'), token: await authorize(operator, 'app-multidisk-01') }];
    const res = await createWave(operator, { ...common(), name: 'Runs', vms: rows });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const wave = Wave.parse(res.body);
    expect(['scheduled', 'running']).toContain(wave.state);
    const done = await waveUntil(wave.id, (w) => w.state === 'completed' || w.state === 'completed-with-failures', 540_000);
    expect(done).toMatchObject({ state: 'completed', counts: { completed: 1, queued: 0, running: 0, failed: 0 }, bytesLeft: 0 });
    expect(done.finishedAt).toBeDefined();
    expect(done.etaSeconds).toBeUndefined();
  });
});
