// Warm migration through the engine against the lab vCenter (CBT, lab disk writes, /folder reads) and the lab EC2
// (EBS direct APIs, ImportImage from snapshots): exact blocks per cycle, the replicated content at cutover, a test
// instance, Stop replication in every phase (and as a cycle ends), a CBT reset, guest shutdown without Tools. Replication
// "minutes" are 1 s here (engine.warmMinuteMs).
import { DescribeImagesCommand, DescribeImportImageTasksCommand, DescribeInstancesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationPhase, MigrationTask } from '../../connector/contract/index.ts';
import { TASK_TAG } from '../../connector/engine/engine.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { CBT_RESET_REASON } from '../../connector/engine/warm/cycle.ts';
import { changeTrackingEnabled, objectProps, powerOff, powerState } from '../../connector/vsphere/cbt.ts';
import { text } from '../../connector/vsphere/soap.ts';
import type { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import { admin, labEngineConfig, startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

const BLOCK = 512 * 1024;
const GRAIN = 64 * 1024;
const MiB = 1024 * 1024;

let lab: EngineLab;
let vc: Vim25Client;
let store: SqliteMigrationTasks;

const SMALL = ['stop-sync', 'stop-replicating', 'stop-test', 'stop-cutover', 'stop-import', 'no-tools', 'stop-cycle-end'];
beforeAll(async () => {
  lab = await startEngineLab({
    vms: [
      { name: 'warm-2g', powerState: 'poweredOn', disks: [{ capacityMiB: 2048, seed: 71 }] },
      { name: 'cbt-reset', powerState: 'poweredOn', disks: [{ capacityMiB: 256, seed: 72 }] },
      // Nitro-ready (RHEL 8: ENA and NVMe in the stock kernel), two disks: the register-image path.
      { name: 'nitro-rhel', powerState: 'poweredOn', guestId: 'rhel8_64Guest', guestFullName: 'Red Hat Enterprise Linux 8 (64-bit)', disks: [{ capacityMiB: 1024, seed: 90 }, { capacityMiB: 32, seed: 91 }] },
      ...SMALL.map((name, i) => ({ name, powerState: 'poweredOn' as const, disks: [{ capacityMiB: name === 'stop-sync' ? 512 : 64, seed: 80 + i }] })),
    ],
    engine: { warmMinuteMs: 1000, powerOffPollMs: 50, maxRunning: 4 },
  });
  vc = await lab.vim();
  store = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
}, 180_000);
afterAll(async () => {
  store?.close();
  await lab?.stop();
});

const vmId = (name: string) => lab.vmIds.get(name)!;
const view = async (id: string) => (await lab.engine.get(id))!;
const record = async (id: string) => (await store.get(id))!;
const until = (id: string, ok: (t: MigrationTask) => boolean, what: string, ms = 300_000) =>
  waitFor(async () => {
    const t = (await view(id));
    if (t.state === 'failed') throw new Error(`${what}: the migration failed: ${t.error}`);
    return ok(t) && t;
  }, what, ms);

/** Blocks of 512 KiB touched by grain writes [offset, length]. */
function blocksOf(writes: [number, number][]): number {
  const set = new Set<number>();
  for (const [o, l] of writes) for (let b = Math.floor(o / BLOCK); b <= Math.floor((o + l - 1) / BLOCK); b++) set.add(b);
  return set.size;
}

/** The replicated disk's vim25 device key. */
const diskKey = async (id: string) => (await record(id)).warm!.disks[0]!.deviceKey;

async function write(id: string, vm: string, writes: [number, number][], seed: number): Promise<void> {
  for (const [offset, length] of writes) await lab.vcsim.writeDisk(vmId(vm), await diskKey(id), { offset, length, seed: seed++ });
}

/** What the task left on either side: vCenter snapshots, EBS snapshots, live instances and AMIs tagged with it. */
async function leftovers(id: string, vm: string, rec?: { imageId?: string | undefined; warm?: { test?: { imageId?: string | undefined } | undefined } | undefined }) {
  rec ??= await record(id);
  const snapshots = (await vc.getVirtualMachine(vmId(vm))).snapshots.map((s) => s.name);
  const ebs = (await lab.ec2Client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }))).Snapshots ?? [];
  const instances = ((await lab.ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }))).Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down');
  const imageIds = [rec.imageId, rec.warm?.test?.imageId].filter((x): x is string => !!x);
  const images = imageIds.length ? ((await lab.ec2Client.send(new DescribeImagesCommand({ ImageIds: imageIds })).catch(() => ({ Images: [] }))).Images ?? []) : [];
  return { snapshots, ebs: ebs.map((s) => s.SnapshotId), instances: instances.map((i) => i.InstanceId), images: images.map((i) => i.ImageId) };
}

const nothing = { snapshots: [], ebs: [], instances: [], images: [] };

describe('Cut over with guest shutdown', () => {
  it('refuses when VMware Tools is not running, says what to do, and keeps replicating', async () => {
    const vm = 'no-tools';
    const tools = text((await objectProps(vc, { type: 'VirtualMachine', value: vmId(vm) }, ['guest.toolsRunningStatus'])).get('guest.toolsRunningStatus'));
    expect(tools, 'precondition: the lab VM runs no VMware Tools').not.toBe('guestToolsRunning');
    const id = (await lab.engine.submit(lab.request(vm, { mode: 'warm', replicationIntervalMinutes: 5 }))).id;
    await until(id, (t) => t.phase === 'replicating' && !t.warm!.cycleRunning, 'the initial sync', 150_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(await record(id))}`);
    });
    await lab.engine.cutover(id, admin.name);
    const t = await until(id, (t) => !!t.warning, 'the refusal');
    expect(t.warning).toMatch(/VMware Tools is not running in no-tools.*power off no-tools yourself.*Replication continues/);
    expect(t.phase).toBe('replicating');
    expect(t.warm!.cutover).toBeUndefined();
    expect(await powerState(vc, vmId(vm))).toBe('poweredOn');
    await until(id, (t) => t.warm!.cycles >= 2, 'the next cycle');
    await lab.engine.cancel(id, admin.name);
    await until(id, (t) => t.state === 'cancelled', 'Stop replication');
  }, 300_000);
});

describe('warm migration of a powered-on 2 GiB VM', () => {
  it('syncs, sends exactly the changed blocks per cycle, runs a test instance, and cuts over to the disk content at power-off', async () => {
    const vm = 'warm-2g';
    // The lab's VMs run no VMware Tools (no guest shutdown): the user powers the VM off at cutover.
    const id = (await lab.engine.submit(lab.request(vm, { mode: 'warm', replicationIntervalMinutes: 5, cutoverShutdown: 'user', leaveRunning: false }))).id;
    expect((await view(id))).toMatchObject({ mode: 'warm', warm: { intervalMinutes: 5, shutdown: 'user', cycles: 0 } });

    // Initial sync: every allocated block once, progress by blocks written.
    const syncing = await until(id, (t) => t.phase === 'initial-sync' && (t.warm?.cycleRunning ?? false) && t.disks.length > 0, 'the initial sync');
    expect(syncing.warm?.fullSync).toBe(true);
    await until(id, (t) => t.phase === 'replicating' && t.warm!.cycles === 1 && !t.warm!.cycleRunning, 'the first cycle');
    const first = (await record(id)).warm!.disks[0]!.ebsSnapshotId!;
    expect(lab.ec2.ebs.blocksWritten(first)).toBe(2048 * MiB / BLOCK);
    expect((await view(id)).warm!.lastCycleSentBytes).toBe(2048 * MiB);
    expect(await changeTrackingEnabled(vc, vmId(vm))).toBe(true);

    // Three cycles with known changed grains: each sends exactly the blocks those grains touch, once.
    const cycles: [number, number][][] = [
      [[0, GRAIN], [10 * MiB + 448 * 1024, 2 * GRAIN]],
      [[1024 * MiB, 1 * MiB]],
      [1, 3, 5, 7, 9].map((k) => [k * 100 * MiB, GRAIN] as [number, number]),
    ];
    let seed = 1000;
    for (const [i, writes] of cycles.entries()) {
      const n = 2 + i;
      await write(id, vm, writes, seed);
      seed += writes.length;
      const t = await until(id, (t) => t.warm!.cycles >= n && !t.warm!.cycleRunning, `cycle ${n}`);
      // A cycle that started before the write finished would send a part now and the rest in the next: not allowed here.
      expect(t.warm!.cycles, 'no cycle may start while the test writes').toBe(n);
      const head = (await record(id)).warm!.disks[0]!.ebsSnapshotId!;
      expect(lab.ec2.ebs.blocksWritten(head)).toBe(blocksOf(writes));
      expect(lab.ec2.ebs.putCallsFor(head)).toBe(blocksOf(writes));
      expect(t.warm!.lastCycleSentBytes).toBe(blocksOf(writes) * BLOCK);
      expect(t.warm!.lastCycleChangedBytes).toBe(writes.reduce((s, [, l]) => s + l, 0));
      expect(t.warm!.lagSeconds).toBeGreaterThanOrEqual(0);
      expect(t.warm!.nextCycleAt).toBeDefined();
      // Replaced snapshots are deleted: only the head of the chain is visible.
      expect((await leftovers(id, vm)).ebs).toEqual([head]);
    }

    // Test instance: launched from the latest cycle while replication goes on, then finished.
    await lab.engine.launchTest(id, { subnetId: lab.subnetId }, admin.name);
    const tested = await until(id, (t) => t.warm?.test?.state === 'running' || t.warm?.test?.state === 'failed', 'the test instance');
    expect(tested.warm!.test).toMatchObject({ state: 'running', subnetId: lab.subnetId, requestedBy: admin.name });
    const testInstance = tested.warm!.test!.instanceId!;
    await expect(lab.engine.launchTest(id, { subnetId: lab.subnetId }, admin.name)).rejects.toThrow(/already running/);
    await lab.engine.finishTest(id, admin.name);
    await until(id, (t) => !t.warm!.test, 'Finish test');
    // Terminated: EC2 passes through shutting-down first (the lab's stage is 30 ms, so a fast run can still see it).
    const testState = async () => (await lab.ec2Client.send(new DescribeInstancesCommand({ InstanceIds: [testInstance] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
    expect(['shutting-down', 'terminated']).toContain(await testState());
    await waitFor(async () => (await testState()) === 'terminated', 'the test instance terminated', 10_000);

    // Last writes, then cutover: the user powers off, one final cycle, import from the snapshots, launch (stopped per the form).
    await write(id, vm, [[1536 * MiB + 7 * GRAIN, GRAIN]], seed);
    await lab.engine.cutover(id, admin.name);
    await until(id, (t) => t.phase === 'cutting-over', 'cutting over');
    await write(id, vm, [[1800 * MiB, GRAIN]], seed + 1);
    await powerOff(vc, vmId(vm));
    const done = await until(id, (t) => t.state === 'completed', 'the cutover', 600_000);
    expect(done.phase).toBe('done');
    expect(done.warm!.imagePath).toBe('import-image');
    expect(done.warm!.cutover!.downtimeSeconds).toBeGreaterThanOrEqual(0);
    expect(await powerState(vc, vmId(vm))).toBe('poweredOff');
    const expected = await lab.vcsim.diskSha256(vmId(vm), await diskKey(id));
    const image = (await lab.ec2Client.send(new DescribeImagesCommand({ ImageIds: [done.imageId!] }))).Images![0]!;
    const amiSnapshot = image.BlockDeviceMappings!.find((m) => m.Ebs?.SnapshotId)!.Ebs!.SnapshotId!;
    expect(lab.ec2.ebs.snapshotSha256(amiSnapshot)).toBe(expected);
    const instances = ((await lab.ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances.map((i) => [i.InstanceId, i.State?.Name]).sort()).toEqual([[done.instanceId, 'stopped'], [testInstance, 'terminated']].sort());
    const notes = text((await objectProps(vc, { type: 'VirtualMachine', value: vmId(vm) }, ['config.annotation'])).get('config.annotation'));
    expect(notes).toContain(done.instanceId);
    // Nothing of the replication is left but its last point, kept for Resume replication while the rollback window is
    // open (warm/resume.ts releases it when the window closes): no vCenter snapshot, only the chain's head, CBT still on.
    const kept = (await record(id)).warm!;
    expect(kept.pointKept).toBe(true);
    expect((await leftovers(id, vm)).snapshots).toEqual([]);
    expect((await leftovers(id, vm)).ebs).toEqual([kept.disks[0]!.ebsSnapshotId]);
    expect(await changeTrackingEnabled(vc, vmId(vm))).toBe(true);
    expect(done.resume).toMatchObject({ possible: false, fromLastPoint: true });
  }, 900_000);
});

describe('warm migration of a Nitro-ready guest (imagePath register-image)', () => {
  it('registers the test instance\'s and the cutover\'s images straight from the replicated snapshots, without VM Import', async () => {
    const vm = 'nitro-rhel';
    const id = (await lab.engine.submit(lab.request(vm, { mode: 'warm', replicationIntervalMinutes: 5, cutoverShutdown: 'user', imagePath: 'register-image' }))).id;
    await until(id, (t) => t.phase === 'replicating' && !t.warm!.cycleRunning, 'the initial sync');
    // The path is said once it is taken, not before.
    expect((await view(id)).warm!.imagePath).toBeUndefined();
    const describe = async (imageId: string) => (await lab.ec2Client.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];

    // Test instance: RegisterImage from the pinned chain heads (ENA, hvm, x86_64, the VM's BIOS firmware), then launched.
    await lab.engine.launchTest(id, { subnetId: lab.subnetId }, admin.name);
    const tested = await until(id, (t) => t.warm?.test?.state === 'running' || t.warm?.test?.state === 'failed', 'the test instance');
    expect(tested.warm!.test, tested.warm!.test?.error).toMatchObject({ state: 'running' });
    const testRec = (await record(id)).warm!.test!;
    expect(testRec.importTaskId).toBeUndefined();
    const testImage = (await describe(testRec.imageId!))!;
    expect(testImage).toMatchObject({ State: 'available', EnaSupport: true, BootMode: 'legacy-bios', Architecture: 'x86_64', VirtualizationType: 'hvm', RootDeviceName: '/dev/sda1' });
    expect(testImage.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs?.SnapshotId, m.Ebs?.DeleteOnTermination])).toEqual([
      ['/dev/sda1', testRec.snapshotIds![0], true],
      ['/dev/sdb', testRec.snapshotIds![1], true],
    ]);
    expect(testImage.Tags).toEqual(expect.arrayContaining([{ Key: TASK_TAG, Value: id }]));
    const testInstance = tested.warm!.test!.instanceId!;
    const testInst = (await lab.ec2Client.send(new DescribeInstancesCommand({ InstanceIds: [testInstance] }))).Reservations?.[0]?.Instances?.[0];
    expect(testInst?.ImageId).toBe(testRec.imageId);

    // Finish test: the AMI is deregistered before its snapshots (still the chain's heads) are touched; replication goes on.
    await lab.engine.finishTest(id, admin.name);
    await until(id, (t) => !t.warm!.test, 'Finish test');
    expect(await describe(testRec.imageId!).catch(() => undefined)).toBeUndefined();
    await write(id, vm, [[3 * BLOCK, GRAIN]], 5000);
    const n = (await view(id)).warm!.cycles;
    await until(id, (t) => t.warm!.cycles > n && !t.warm!.cycleRunning, 'a cycle after the test');

    // Cutover: the final snapshots become the AMI's own; nothing goes through VM Import.
    await lab.engine.cutover(id, admin.name);
    await until(id, (t) => t.phase === 'cutting-over', 'cutting over');
    await write(id, vm, [[40 * MiB, GRAIN]], 5001);
    await powerOff(vc, vmId(vm));
    const done = await until(id, (t) => t.state === 'completed', 'the cutover', 600_000);
    expect(done.warm!.imagePath).toBe('register-image');
    const finals = (await record(id)).warm!.cutover!.finalSnapshotIds!;
    const image = (await describe(done.imageId!))!;
    expect(image).toMatchObject({ Name: `vm2ec2-${id}-cutover`, State: 'available', EnaSupport: true, BootMode: 'legacy-bios', VirtualizationType: 'hvm' });
    expect(image.BlockDeviceMappings!.map((m) => m.Ebs?.SnapshotId)).toEqual(finals);
    // The boot disk's content at power-off (a whole 1 GiB volume, so the EBS emulator's hash compares directly).
    expect(lab.ec2.ebs.snapshotSha256(finals[0]!)).toBe(await lab.vcsim.diskSha256(vmId(vm), (await record(id)).warm!.disks[0]!.deviceKey));
    const inst = (await lab.ec2Client.send(new DescribeInstancesCommand({ InstanceIds: [done.instanceId!] }))).Reservations?.[0]?.Instances?.[0];
    expect(inst?.ImageId).toBe(done.imageId);
    const imports = (await lab.ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(imports.filter((i) => i.Description?.includes(id))).toEqual([]);
    // Left: only the AMI's own snapshots; no replication leftovers, no vCenter snapshot.
    const left = await leftovers(id, vm);
    expect(left.ebs.sort()).toEqual([...finals].sort());
    expect(left.snapshots).toEqual([]);
    expect(left.images).toEqual([done.imageId]);
  }, 600_000);
});

describe('Stop replication', () => {
  const stopIn = async (vm: string, phase: MigrationPhase | 'test', arrange: (id: string) => Promise<unknown>) => {
    const id = (await lab.engine.submit(lab.request(vm, { mode: 'warm', replicationIntervalMinutes: 5, cutoverShutdown: 'user' }))).id;
    await arrange(id);
    if (phase !== 'test') expect((await view(id)).phase).toBe(phase);
    await lab.engine.cancel(id, admin.name);
    const t = await until(id, (t) => t.state === 'cancelled', `Stop replication in ${phase}`);
    expect(t.cancelledBy).toBe(admin.name);
    expect(await leftovers(id, vm)).toEqual(nothing);
    expect(await changeTrackingEnabled(vc, vmId(vm))).toBe(false);
  };
  const replicating = (id: string) => until(id, (t) => t.phase === 'replicating' && !t.warm!.cycleRunning, 'replicating');

  it('during the initial sync', () => stopIn('stop-sync', 'initial-sync', (id) => until(id, (t) => (t.warm?.cycleRunning ?? false) && t.disks.some((d) => d.bytesUploaded > 0), 'blocks sent')), 300_000);
  it('between cycles', () => stopIn('stop-replicating', 'replicating', replicating), 300_000);
  it('with a test instance running', () =>
    stopIn('stop-test', 'test', async (id) => {
      await replicating(id);
      await lab.engine.launchTest(id, { subnetId: lab.subnetId }, admin.name);
      await until(id, (t) => t.warm?.test?.state === 'running', 'the test instance');
    }), 300_000);
  it('while cutover waits for the user to power off the VM', () =>
    stopIn('stop-cutover', 'cutting-over', async (id) => {
      await replicating(id);
      await lab.engine.cutover(id, admin.name);
      await until(id, (t) => t.phase === 'cutting-over', 'cutting over');
    }), 300_000);
  it('during the import after the final sync', () =>
    stopIn('stop-import', 'importing', async (id) => {
      await replicating(id);
      await lab.engine.cutover(id, admin.name);
      await until(id, (t) => t.phase === 'cutting-over', 'cutting over');
      await powerOff(vc, vmId('stop-import'));
      await until(id, (t) => t.phase === 'importing' && !!t.importTaskId, 'the import');
    }), 300_000);
  it('asked the moment a cycle ends, while its work unit is still returning', async () => {
    // Its own engine (on its own store) to hear its saves: Stop replication comes right after the save that ends the
    // initial sync, before the unit returns to be parked — the window a user's click landed in when Stop hung.
    const vm = 'stop-cycle-end';
    let id = '';
    let asked = false;
    const input = labEngineConfig({ dataDir: lab.dataDir, sqliteFile: join(lab.dataDir, 'cycle-end.sqlite'), vcsim: lab.vcsim, s3: lab.s3, ec2: lab.ec2, engine: { warmMinuteMs: 1000 } });
    const built = createEngine(ConnectorConfig.parse(input), { vcenter: { sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem }, ec2: () => lab.ec2Client }, {
      observers: [
        {
          migrationSaved: (t) => {
            if (asked || t.id !== id || t.state !== 'running' || t.phase !== 'replicating' || t.warm?.cycle || !t.warm?.nextCycleAt) return;
            asked = true;
            queueMicrotask(async () => await built.engine.cancel(id, admin.name));
          },
        },
      ],
    });
    try {
      await built.engine.start();
      id = (await built.engine.submit(lab.request(vm, { mode: 'warm', replicationIntervalMinutes: 5 }))).id;
      const t = await waitFor(async () => {
        const t = (await built.engine.get(id))!;
        return (t.state === 'cancelled' || t.state === 'failed') && t;
      }, 'Stop replication asked as the initial sync ended', 60_000).catch(async (err: unknown) => {
        throw new Error(`${String(err)}: ${JSON.stringify(await built.engine.get(id))}`);
      });
      expect(asked).toBe(true);
      expect(t.state).toBe('cancelled');
      expect(await leftovers(id, vm, t)).toEqual(nothing);
      expect(await changeTrackingEnabled(vc, vmId(vm))).toBe(false);
    } finally {
      await built.close();
    }
  }, 120_000);
});

describe('Changed Block Tracking reset', () => {
  it('makes the next cycle a full sync and says so', async () => {
    const vm = 'cbt-reset';
    // 30 "minutes" (30 s here) between cycles: the reset lands before cycle 2 even when this loaded process sees the
    // initial sync's end late, and no third cycle can slip in before the full sync is checked.
    const id = (await lab.engine.submit(lab.request(vm, { mode: 'warm', replicationIntervalMinutes: 30 }))).id;
    // A wait that gives up says where the task stood and where the lab vCenter's goroutines were.
    const dump = async (err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify((await record(id)))}; the lab vCenter: ${await lab.vcsim.dumpGoroutines()}`);
    };
    await until(id, (t) => t.phase === 'replicating' && !t.warm!.cycleRunning, 'the initial sync', 120_000).catch(dump);
    await lab.vcsim.resetChangeTracking(vmId(vm));
    const seen: string[] = [];
    const full = await until(id, (t) => {
      seen.push(JSON.stringify({ phase: t.phase, warning: t.warning, warm: { ...t.warm, test: undefined } }));
      return t.warm!.cycleRunning && t.warm!.fullSyncReason === CBT_RESET_REASON;
    }, 'the full sync after the reset', 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; last views: ${[...new Set(seen)].slice(-5).join('\n')}`);
    });
    expect(full.warm!.fullSync).toBe(true);
    const after = await until(id, (t) => t.warm!.cycles > full.warm!.cycles && !t.warm!.cycleRunning, 'the cycle after the reset', 60_000).catch(dump);
    expect(after.warm!.lastCycleSentBytes).toBe(256 * MiB);
    await lab.engine.cancel(id, admin.name);
    await until(id, (t) => t.state === 'cancelled', 'Stop replication', 30_000).catch(dump);
    expect(await leftovers(id, vm)).toEqual(nothing);
  }, 300_000);
});
