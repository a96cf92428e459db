// Resume replication after rolling back a warm cutover (issue 16), through real HTTPS against the lab connector: a
// powered-on lab VM is replicated, cut over and rolled back; blocks written on the source afterwards are the only
// ones the resumed migration's first cycle sends (counted by the EBS emulator), on top of the last snapshot; its own
// cutover's chain holds the disk's content. A point that is no longer usable (CBT turned off, the last snapshot
// deleted) falls back to a full sync and says why; refusals are clear and audited; the kept point is released when the
// rollback window closes.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { DeleteSnapshotCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { EBSClient, GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, Environment, ImportAuthorization, MigrationTask } from '../../connector/contract/index.ts';
import { TASK_TAG } from '../../connector/engine/engine.ts';
import { setRollbackWindow, DEFAULT_ROLLBACK_WINDOW_MS } from '../../connector/engine/rollback.ts';
import { CBT_OFF_REASON, parentMissingReason } from '../../connector/engine/warm/resume.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { changeTrackingEnabled, powerOff, powerState, setChangeTracking } from '../../connector/vsphere/cbt.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { allowImports, auditOf, loginLabUsers, migrationEnvironment, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

const BLOCK = 512 * 1024;
const GRAIN = 64 * 1024;
const MiB = 1024 * 1024;
const ADMIN = { username: 'administrator@vsphere.local', password: 'Admin!23' };

let lab: ApiLab;
let admin: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let subnetId: string;
let groupId: string;
let tasks: SqliteMigrationTasks;
let ebs: EBSClient;

const vm = (name: string) => vms.get(name) ?? (() => { throw new Error(`no VM ${name}`); })();
const errorOf = (body: unknown) => ApiErrorBody.parse(body);
const task = async (id: string) => MigrationTask.parse((await admin.call('GET', `/migrations/${id}`)).body);
const record = async (id: string) => (await tasks.get(id))!;
const resume = (user: ApiUser, id: string) => user.call('POST', `/migrations/${id}/resume-replication`);

const asAdmin = <T>(use: (vc: Vim25Client) => Promise<T>): Promise<T> => lab.asAdmin(use);

async function until(id: string, done: (t: MigrationTask) => boolean, what: string, ms = 300_000): Promise<MigrationTask> {
  let t: MigrationTask | undefined;
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    t = await task(id);
    if (t.state === 'failed') throw new Error(`migration ${id} failed while waiting for ${what}: ${t.error}`);
    if (done(t)) return t;
  }
  throw new Error(`migration ${id}: ${what} did not happen: ${JSON.stringify(t)}`);
}

/** A warm migration of a VM, as the form starts one (30 "minutes", 30 s here, between cycles: none slips in while the test looks; the user powers the VM off). */
async function startWarm(vmName: string): Promise<string> {
  const auth = await admin.call('POST', '/import-authorizations', { environmentId: env.id, vmId: vm(vmName) });
  expect(auth.status, JSON.stringify(auth.body)).toBe(201);
  const res = await admin.call('POST', '/migrations', {
    token: ImportAuthorization.parse(auth.body).token, environmentId: env.id, vmId: vm(vmName), platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId],
    mode: 'warm', replicationIntervalMinutes: 30, cutoverShutdown: 'user',
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return (res.body as { id: string }).id;
}

/** Cut over: asked, the user powers the VM off, then the final cycle, import and launch. */
async function cutOver(id: string, vmName: string): Promise<MigrationTask> {
  await until(id, (t) => (t.warm?.cycles ?? 0) >= 1 && !t.warm!.cycleRunning, 'a completed cycle');
  const res = await admin.call('POST', `/migrations/${id}/cutover`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  await until(id, (t) => t.phase === 'cutting-over', 'cutting over');
  await asAdmin(async (vc) => {
    if ((await powerState(vc, vm(vmName))) !== 'poweredOff') await powerOff(vc, vm(vmName));
  });
  return until(id, (t) => t.state === 'completed', 'the cutover', 600_000);
}

async function rollBack(id: string): Promise<MigrationTask> {
  const res = await admin.call('POST', `/migrations/${id}/rollback`, {});
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return MigrationTask.parse(res.body);
}

async function write(rec: MigrationRecord, writes: [number, number][], seed: number): Promise<void> {
  for (const [offset, length] of writes) await lab.vcsim.writeDisk(rec.vmId, rec.warm!.disks[0]!.deviceKey, { offset, length, seed: seed++ });
}

function blocksOf(writes: [number, number][]): number {
  const set = new Set<number>();
  for (const [o, l] of writes) for (let b = Math.floor(o / BLOCK); b <= Math.floor((o + l - 1) / BLOCK); b++) set.add(b);
  return set.size;
}

/** SHA-256 of the first `bytes` of an EBS snapshot's content (parents applied), read with the EBS direct APIs. */
async function ebsSha256(snapshotId: string, bytes: number): Promise<string> {
  const blocks = new Map<number, string>();
  let next: string | undefined;
  do {
    const out = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 10_000, ...(next ? { NextToken: next } : {}) }));
    for (const b of out.Blocks ?? []) blocks.set(b.BlockIndex!, b.BlockToken!);
    next = out.NextToken;
  } while (next);
  const hash = createHash('sha256');
  const zero = Buffer.alloc(BLOCK);
  for (let i = 0; i < bytes / BLOCK; i++) {
    const token = blocks.get(i);
    if (!token) hash.update(zero);
    else hash.update((await (await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: i, BlockToken: token }))).BlockData!.transformToByteArray()));
  }
  return hash.digest('hex');
}

/** Polls until `ok` holds (or the time is up) and returns the last value read. */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  let v = await read();
  for (const end = Date.now() + ms; !ok(v) && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) v = await read();
  return v;
}

/** EBS snapshots tagged with a task that its image does not use: what is left of its replication chain. */
async function taggedSnapshots(id: string): Promise<string[]> {
  const ec2 = lab.ec2Client('us-east-1');
  const out = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }));
  const imageId = (await tasks.get(id))?.imageId;
  const image = imageId ? (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0] : undefined;
  const amis = new Set((image?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId));
  return (out.Snapshots ?? []).map((s) => s.SnapshotId!).filter((s) => !amis.has(s)).sort();
}

beforeAll(async () => {
  lab = await startApiLab({ connector: { engine: { warmMinuteMs: 1000, powerOffPollMs: 50 } } });
  ({ admin, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  ({ env, subnetId, groupId } = await migrationEnvironment(admin, 'Resume'));
  await allowImports(lab);
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
  ebs = new EBSClient({ region: 'us-east-1', endpoint: lab.ec2.ebsUrl, credentials: labAwsCredentials() });
}, 180_000);
afterAll(async () => {
  setRollbackWindow(DEFAULT_ROLLBACK_WINDOW_MS);
  ebs?.destroy();
  await tasks?.close();
  await lab?.stop();
});

describe('Resume replication after a rollback', { timeout: 900_000 }, () => {
  it('sends exactly the blocks changed since the cutover on top of the last snapshot, then cuts over to the disk content', async () => {
    const name = 'rhel-db-01';
    const first = await startWarm(name);
    const done = await cutOver(first, name);
    // The cutover kept its last replicated point for a resume: the chain head and CBT.
    const kept = await record(first);
    const head = kept.warm!.disks[0]!.ebsSnapshotId!;
    expect(kept.warm!.pointKept).toBe(true);
    expect(lab.ec2.ebs.get(head)?.status).toBe('completed');
    expect(await asAdmin((vc) => changeTrackingEnabled(vc, vm(name)))).toBe(true);
    expect(done.resume).toMatchObject({ possible: false, fromLastPoint: true, lastSyncAt: kept.warm!.lastSyncAt });
    expect(done.resume!.reason).toMatch(/not rolled back.*Roll back first \(Actions → Roll back\)/);

    // Not rolled back yet: refused, saying what to do, and audited.
    const early = await resume(admin, first);
    expect(early.status).toBe(409);
    expect(errorOf(early.body)).toMatchObject({ code: 'RESUME_NOT_AVAILABLE', message: expect.stringContaining('Roll back first') });

    const rolled = await rollBack(first);
    expect(rolled.resume).toMatchObject({ possible: true, fromLastPoint: true });
    expect(await asAdmin((vc) => powerState(vc, vm(name)))).toBe('poweredOn');
    const instanceState = async () => (await lab.ec2Client('us-east-1').send(new DescribeInstancesCommand({ InstanceIds: [done.instanceId!] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
    expect(await instanceState()).toMatch(/^(stopping|stopped)$/);

    // A user whose vCenter role does not allow exporting the VM may not start replicating it: 403, audited.
    const denied = await resume(readonly, first);
    expect(denied.status).toBe(403);
    expect(errorOf(denied.body).code).toBe('VM_EXPORT_DENIED');

    // The guest writes after the rollback: three 512 KiB blocks (one write straddles two).
    const writes: [number, number][] = [[0, GRAIN], [100 * MiB + 448 * 1024, 2 * GRAIN]];
    await write(kept, writes, 7000);

    const res = await resume(admin, first);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const second = MigrationTask.parse(res.body);
    expect(second).toMatchObject({ mode: 'warm', vmId: vm(name), requestedBy: ADMIN.username, subnetId, warm: { resumedFrom: { migrationId: first, lastSyncAt: kept.warm!.lastSyncAt }, fullSync: false } });
    expect(second.warm!.fullSyncReason).toBeUndefined();
    const audits = (await auditOf(admin, 'migration.resume')).filter((e) => e.details?.migrationId === first).reverse();
    expect(audits.map((e) => [e.actor, e.outcome, e.code])).toEqual([
      [ADMIN.username, 'denied', 'RESUME_NOT_AVAILABLE'],
      ['readonly@vsphere.local', 'denied', 'VM_EXPORT_DENIED'],
      [ADMIN.username, 'granted', undefined],
    ]);
    expect(audits[2]!.message).toBe(`Resumed replication of migration ${first} as warm migration ${second.id} from its last replicated point (${kept.warm!.lastSyncAt}).`);
    // Once only; the rolled-back row names the new migration.
    const again = await resume(admin, first);
    expect(again.status).toBe(409);
    expect(errorOf(again.body).message).toContain(`as migration ${second.id}`);
    expect((await task(first)).resume).toMatchObject({ possible: false, migrationId: second.id, resumedBy: ADMIN.username });

    // The first cycle: exactly the changed blocks, in a snapshot whose parent is the cutover's last one.
    const t1 = await until(second.id, (t) => (t.warm?.cycles ?? 0) >= 1 && !t.warm!.cycleRunning, 'the first resumed cycle');
    const next = (await record(second.id)).warm!.disks[0]!.ebsSnapshotId!;
    expect(next).not.toBe(head);
    expect(lab.ec2.ebs.get(next)?.parentId).toBe(head);
    expect(lab.ec2.ebs.blocksWritten(next)).toBe(blocksOf(writes));
    expect(lab.ec2.ebs.putCallsFor(next)).toBe(blocksOf(writes));
    expect(t1.warm!.lastCycleSentBytes).toBe(blocksOf(writes) * BLOCK);
    expect(t1.warm!.lastCycleChangedBytes).toBe(3 * GRAIN);
    // The replaced head is deleted right after the cycle (EBS keeps its blocks for the child); no vCenter snapshot is
    // left between cycles.
    expect(await eventually(() => taggedSnapshots(first), (ids) => ids.length === 0)).toEqual([]);
    expect((await asAdmin((vc) => vc.getVirtualMachine(vm(name)))).snapshots).toEqual([]);

    // More writes, then the resumed migration's own cutover.
    await write(kept, [[300 * MiB, GRAIN]], 7100);
    const finished = await cutOver(second.id, name);
    expect(finished.warm!.imagePath).toBe('import-image');
    const last = await record(second.id);
    const chain = last.warm!.disks[0]!.ebsSnapshotId!;
    const expected = await lab.vcsim.diskSha256(vm(name), last.warm!.disks[0]!.deviceKey);
    expect(await ebsSha256(chain, 512 * MiB)).toBe(expected);
    // Nothing else is left: no vCenter snapshot, and of the chain only the kept head (the new resume point).
    expect((await asAdmin((vc) => vc.getVirtualMachine(vm(name)))).snapshots).toEqual([]);
    expect(await taggedSnapshots(second.id)).toEqual([chain]);
    expect(await taggedSnapshots(first)).toEqual([]);

    // The rollback window closes: the connector releases the kept point (head deleted, CBT off as before).
    setRollbackWindow(1000);
    try {
      await new Promise((r) => setTimeout(r, 1100));
      expect(await lab.connector.app.engine.resumePoints.releaseDue()).toEqual([second.id]);
      expect(await taggedSnapshots(second.id)).toEqual([]);
      expect(await asAdmin((vc) => changeTrackingEnabled(vc, vm(name)))).toBe(false);
      const closed = await task(second.id);
      expect(closed.resume).toMatchObject({ fromLastPoint: false, fullSyncReason: expect.stringContaining('the connector released the last replicated point') });
      // Released once.
      expect(await lab.connector.app.engine.resumePoints.releaseDue()).toEqual([]);
    } finally {
      setRollbackWindow(DEFAULT_ROLLBACK_WINDOW_MS);
    }
  });

  it('falls back to a full sync when Changed Block Tracking was turned off, says why, and leaves nothing when stopped', async () => {
    const name = 'debian-tools-01';
    const first = await startWarm(name);
    await cutOver(first, name);
    await rollBack(first);
    await asAdmin((vc) => setChangeTracking(vc, vm(name), false));

    const res = await resume(admin, first);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const second = MigrationTask.parse(res.body);
    expect(second.warm).toMatchObject({ fullSync: true, fullSyncReason: CBT_OFF_REASON, resumedFrom: { migrationId: first } });
    const granted = (await auditOf(admin, 'migration.resume')).find((e) => e.details?.migrationId === first && e.outcome === 'granted');
    expect(granted?.message).toBe(`Resumed replication of migration ${first} as warm migration ${second.id} with a full sync: ${CBT_OFF_REASON}`);

    const t1 = await until(second.id, (t) => (t.warm?.cycles ?? 0) >= 1 && !t.warm!.cycleRunning, 'the full sync');
    expect(t1.warm!.lastCycleSentBytes).toBe(512 * MiB);
    const head = (await record(second.id)).warm!.disks[0]!.ebsSnapshotId!;
    expect(lab.ec2.ebs.get(head)?.parentId).toBeUndefined();
    expect(await asAdmin((vc) => changeTrackingEnabled(vc, vm(name)))).toBe(true);
    // The old point's head goes right after the full sync.
    expect(await eventually(() => taggedSnapshots(first), (ids) => ids.length === 0)).toEqual([]);

    // Stop replication: the new task turns off the CBT it turned on and deletes its chain.
    expect((await admin.call('POST', `/migrations/${second.id}/cancel`)).status).toBe(200);
    await until(second.id, (t) => t.state === 'cancelled', 'Stop replication');
    expect(await taggedSnapshots(second.id)).toEqual([]);
    expect((await asAdmin((vc) => vc.getVirtualMachine(vm(name)))).snapshots).toEqual([]);
    expect(await asAdmin((vc) => changeTrackingEnabled(vc, vm(name)))).toBe(false);
  });

  it('falls back to a full sync when the last EBS snapshot was deleted, and says which', async () => {
    // Powered off when replication starts (Migrate now would be as fast, but it replicates all the same).
    const name = 'ubuntu-web-01';
    const first = await startWarm(name);
    await cutOver(first, name);
    await rollBack(first);
    const kept = await record(first);
    const head = kept.warm!.disks[0]!.ebsSnapshotId!;
    // Deleted outside the connector (say with the instance's image): the record cannot know, the request finds out.
    await lab.ec2Client('us-east-1').send(new DeleteSnapshotCommand({ SnapshotId: head }));
    expect((await task(first)).resume).toMatchObject({ possible: true, fromLastPoint: true });

    // A claim left by a request whose connector stopped before it recorded the new task: refused while it may still
    // be under way, resumable once it is stale (its task was never recorded, so the claim is undone).
    const left = { state: 'resuming' as const, by: 'operator@vsphere.local', at: new Date().toISOString(), migrationId: 'mig-00000000-0000-0000-0000-00000000dead' };
    expect(await tasks.markResume(first, left, [null])).toBe(true);
    const busy = await resume(admin, first);
    expect(busy.status).toBe(409);
    expect(errorOf(busy.body).message).toContain('operator@vsphere.local is resuming replication (since ');
    expect((await task(first)).resume).toMatchObject({ possible: false });
    expect(await tasks.markResume(first, { ...left, at: new Date(Date.now() - 10 * 60_000).toISOString() }, ['resuming'])).toBe(true);
    expect((await task(first)).resume).toMatchObject({ possible: true, fromLastPoint: true });

    const res = await resume(admin, first);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const second = MigrationTask.parse(res.body);
    expect(second.warm).toMatchObject({ fullSync: true, fullSyncReason: parentMissingReason(kept.warm!.disks[0]!.label, head) });
    const t1 = await until(second.id, (t) => (t.warm?.cycles ?? 0) >= 1 && !t.warm!.cycleRunning, 'the full sync');
    expect(t1.warm!.lastCycleSentBytes).toBe(1024 * MiB);
    expect(lab.ec2.ebs.get((await record(second.id)).warm!.disks[0]!.ebsSnapshotId!)?.parentId).toBeUndefined();
    expect((await admin.call('POST', `/migrations/${second.id}/cancel`)).status).toBe(200);
    await until(second.id, (t) => t.state === 'cancelled', 'Stop replication');
    expect(await taggedSnapshots(second.id)).toEqual([]);
    expect(await taggedSnapshots(first)).toEqual([]);
  });

  it('refuses a Migrate now migration and an unknown one, saying what to do, audited', async () => {
    const at = new Date(Date.now() - 3600_000).toISOString();
    const cold: MigrationRecord = {
      id: 'mig-resume-cold', seq: 0, idKind: 'import', state: 'completed', phase: 'done', mode: 'cold', environmentId: env.id, region: 'us-east-1', vmId: vm('bsd-firewall-01'), vmName: 'bsd-firewall-01',
      platform: 'Linux', subnetId, instanceType: 'm5.large', securityGroupIds: [groupId], requestedBy: ADMIN.username, bucket: 'b', prefix: 'vm2ec2/mig-resume-cold/',
      exportAttempts: 1, disks: [], instanceId: 'i-0aaaaaaaaaaaaaaab', createdAt: at, startedAt: at, updatedAt: at, finishedAt: at,
      rollback: { state: 'rolled-back', by: ADMIN.username, at, instanceAction: 'stop', finishedAt: at },
    };
    await tasks.insert(cold);
    const res = await resume(admin, cold.id);
    expect(res.status).toBe(409);
    expect(errorOf(res.body)).toEqual({
      code: 'RESUME_NOT_AVAILABLE',
      message: `You cannot resume replication of migration ${cold.id}. It is a Migrate now migration: only a Replicate, then cut over migration can resume replication. Start a new migration instead (Migrate VM to EC2).`,
    });
    expect((await task(cold.id)).resume).toBeUndefined();
    const unknown = await resume(admin, 'mig-00000000-0000-0000-0000-000000000000');
    expect(unknown.status).toBe(404);
    const entries = await auditOf(admin, 'migration.resume');
    expect(entries.filter((e) => e.details?.migrationId === cold.id).map((e) => [e.outcome, e.code])).toEqual([['denied', 'RESUME_NOT_AVAILABLE']]);
    expect(entries.some((e) => e.details?.migrationId === 'mig-00000000-0000-0000-0000-000000000000' && e.code === 'NOT_FOUND')).toBe(true);
  });
});
