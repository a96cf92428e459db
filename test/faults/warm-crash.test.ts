// Warm migration survives SIGKILL: the engine runs in a child process (test/integration/engine-child.ts) and is
// killed during the initial sync, during a later cycle's block upload and during cutover, then restarted on the same
// database. Each time the task goes on without a full resync (blocks sent after the restart ≤ what the interrupted
// cycle still had to send + one block per disk), in the same EBS snapshot (ClientToken), and ends with one import and
// one instance whose image holds the disk's content at power-off.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DescribeImagesCommand, DescribeImportImageTasksCommand, DescribeInstancesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_TAG } from '../../connector/engine/engine.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { powerOff } from '../../connector/vsphere/cbt.ts';
import type { MigrationRecord, MigrationSubmission } from '../../connector/engine/types.ts';
import { admin, startEngineLab, waitFor, type EngineLab } from '../integration/engine-helpers.ts';
import { engineChildren, type EngineChildren } from '../support/engine-child.ts';

const MiB = 1024 * 1024;
const BLOCK = 512 * 1024;
const VM = 'warm-crash';

let lab: EngineLab;
let tasks: SqliteMigrationTasks;
let children: EngineChildren;

beforeAll(async () => {
  lab = await startEngineLab({
    startEngine: false,
    vms: [{ name: VM, powerState: 'poweredOn', disks: [{ capacityMiB: 1024, seed: 91 }] }],
    // A 5-minute interval lasts 15 s: the 400 lab disk writes of step 2 must land between two cycles (at 5 s, under
    // CI's load, a cycle began before the last of them and took only 378).
    engine: { warmMinuteMs: 3000, powerOffPollMs: 50 },
  });
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
  children = engineChildren(lab);
}, 180_000);
afterAll(async () => {
  children?.killAll();
  tasks?.close();
  await lab?.stop();
});

/** The engine child, with IPC for cutover requests. */
const startChild = (submit: MigrationSubmission[] = []) => children.start(submit, { ipc: true });
const kill = (child: ChildProcess) => children.kill(child);

const rec = async (id: string): Promise<MigrationRecord> => (await tasks.get(id))!;
const until = (id: string, ok: (t: MigrationRecord) => boolean, what: string, ms = 300_000) =>
  waitFor(async () => {
    const t = (await rec(id));
    if (t.state === 'failed') throw new Error(`${what}: the migration failed: ${t.error}`);
    return ok(t) && t;
  }, what, ms);

/**
 * Kills the child once the cycle in flight has `minBlocks` acknowledged in the record, restarts it, and waits for that
 * cycle to complete. Returns the blocks sent after the restart and what the cycle still had to send at the kill.
 */
async function killMidCycle(id: string, child: ChildProcess, n: number, minBlocks: number): Promise<{ child: ChildProcess; sentAfter: number; left: number; snapshot: string }> {
  const at = await until(id, (t) => t.warm?.cycle?.n === n && (t.warm.cycle.disks[0]?.blocksWritten ?? 0) >= minBlocks && !!t.warm.cycle.disks[0]?.ebsSnapshotId, `cycle ${n} under way`);
  await kill(child);
  const d = (await rec(id)).warm!.cycle!.disks[0]!;
  const left = d.changedBlocks! - d.blocksWritten;
  expect(d.changedBlocks! - left).toBeGreaterThanOrEqual(minBlocks);
  void at;
  const before = lab.ec2.ebs.putBlockCalls;
  const next = (await startChild()).child;
  const done = await until(id, (t) => t.warm!.cycles >= n, `cycle ${n} after the restart`);
  const snapshot = done.warm!.disks[0]!.ebsSnapshotId!;
  // The resumed cycle wrote into the snapshot it had started (same ClientToken), not a new one.
  expect(snapshot).toBe(d.ebsSnapshotId);
  return { child: next, sentAfter: lab.ec2.ebs.putBlockCalls - before, left, snapshot };
}

describe('warm migration under SIGKILL', () => {
  it('resumes the initial sync, a cycle and the cutover without a full resync, with one import and one instance', async () => {
    // The lab's VMs run no VMware Tools: the user powers the VM off at cutover (the test does).
    let { child, ids } = await startChild([lab.request(VM, { mode: 'warm', replicationIntervalMinutes: 5, cutoverShutdown: 'user', leaveRunning: true })]);
    const id = ids[0]!;
    const total = 1024 * MiB / BLOCK;

    // 1. Killed during the initial sync.
    let r = await killMidCycle(id, child, 1, 200);
    child = r.child;
    // What the record had not acknowledged at the kill, plus the blocks in flight then (4 lanes), never the disk again.
    expect(r.sentAfter).toBeLessThanOrEqual(r.left + 4);
    expect(r.sentAfter).toBeLessThan(total);
    expect(lab.ec2.ebs.blocksWritten(r.snapshot)).toBe(total);

    // 2. Killed during a later cycle's upload: 400 changed blocks.
    const key = (await rec(id)).warm!.disks[0]!.deviceKey;
    await until(id, (t) => t.warm!.cycles >= 1 && !t.warm!.cycle, 'between cycles');
    const changed = 400;
    for (let b = 0; b < changed; b++) await lab.vcsim.writeDisk(lab.vmIds.get(VM)!, key, { offset: (b * 2 + 1) * BLOCK, length: 64 * 1024, seed: 5000 + b });
    const n = (await rec(id)).warm!.cycles + 1;
    r = await killMidCycle(id, child, n, 40);
    child = r.child;
    expect(r.sentAfter).toBeLessThanOrEqual(r.left + 4);
    expect(r.sentAfter).toBeLessThan(changed);
    expect(lab.ec2.ebs.blocksWritten(r.snapshot)).toBe(changed);

    // 3. Cutover, killed during the final sync or the import; then killed again right after the restart.
    await lab.vcsim.writeDisk(lab.vmIds.get(VM)!, key, { offset: 900 * MiB, length: 64 * 1024, seed: 9000 });
    child.send({ cutover: id, by: admin.name });
    await until(id, (t) => t.phase === 'cutting-over', 'cutting over');
    await powerOff(await lab.vim(), lab.vmIds.get(VM)!);
    await until(id, (t) => !!t.warm?.cutover?.sourcePoweredOffAt, 'the source powered off');
    await kill(child);
    const putsAtKill = lab.ec2.ebs.putBlockCalls;
    child = (await startChild()).child;
    await until(id, (t) => t.phase === 'importing' && !!t.importTaskId, 'the import');
    await kill(child);
    // The final cycle sent the one changed block (plus at most one resent), never the disk again.
    expect(lab.ec2.ebs.putBlockCalls - putsAtKill).toBeLessThanOrEqual(2);
    child = (await startChild()).child;
    const done = await until(id, (t) => t.state === 'completed', 'the cutover', 600_000);

    const expected = await lab.vcsim.diskSha256(lab.vmIds.get(VM)!, key);
    const image = (await lab.ec2Client.send(new DescribeImagesCommand({ ImageIds: [done.imageId!] }))).Images![0]!;
    expect(lab.ec2.ebs.snapshotSha256(image.BlockDeviceMappings!.find((m) => m.Ebs?.SnapshotId)!.Ebs!.SnapshotId!)).toBe(expected);
    const imports = (await lab.ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(imports.filter((i) => i.Description?.includes(id))).toHaveLength(1);
    const instances = ((await lab.ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }))).Reservations ?? []).flatMap((x) => x.Instances ?? []);
    expect(instances.map((i) => i.InstanceId)).toEqual([done.instanceId]);
    // The form asked to leave it running (engine-warm's cutover asks for a stopped one).
    expect(instances[0]!.State?.Name).toMatch(/^(pending|running)$/);
    // Of the replication only its last point is left, kept for Resume replication while the rollback window is open
    // (warm/resume.ts releases it when the window closes): the chain's head, in one snapshot after all the kills.
    const left = (await lab.ec2Client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }))).Snapshots ?? [];
    expect(done.warm!.pointKept).toBe(true);
    expect(left.map((s) => s.SnapshotId)).toEqual([done.warm!.disks[0]!.ebsSnapshotId]);
    expect((await (await lab.vim()).getVirtualMachine(lab.vmIds.get(VM)!)).snapshots).toEqual([]);
    await kill(child);
  }, 900_000);
});
