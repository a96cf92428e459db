// Warm replication cycles against the lab vCenter (CBT, snapshots, /folder range reads) and the lab EBS direct APIs,
// through our Vim25Client and the real EBSClient/EC2Client: what is read and sent, the chain's content, resume after a
// stop mid-upload, CBT reset, abandoning a cycle, and TLS on the range reads.
import { createHash, randomUUID } from 'node:crypto';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EBSClient } from '@aws-sdk/client-ebs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { createEbsClient } from '../../connector/aws/ebs-writer.ts';
import { abandonCycle, CBT_RESET_REASON, ensureChangeTracking, INITIAL_SYNC_REASON, runCycle, type CycleDeps } from '../../connector/engine/warm/cycle.ts';
import { blockRuns, deleteEbsSnapshots } from '../../connector/engine/warm/ebs.ts';
import { EBS_BLOCK_BYTES, type WarmRecord } from '../../connector/engine/warm/types.ts';
import { changeTrackingEnabled, datacenterPathOf, vmDisks } from '../../connector/vsphere/cbt.ts';
import { DatastoreReader, flatExtentPath, parseDatastorePath } from '../../connector/vsphere/datastore-http.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { admin } from './engine-helpers.ts';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'lab', secretAccessKey: 'lab' };
const MiB = 1024 * 1024;
const GRAIN = 64 * 1024;
const SNAPSHOT_NAME = 'vm2ec2-warm-test';

let vcsim: VcsimHandle;
let s3: S3Handle;
let ec2Lab: Ec2EmulatorHandle;
let vc: Vim25Client;
let ec2: EC2Client;
const vmIds = new Map<string, string>();

/** An EBS client that counts accepted PutSnapshotBlock calls and can fire a callback after each. */
function countingEbs(onPut?: (n: number) => void): { ebs: EBSClient; puts: () => number } {
  const ebs = createEbsClient({ region: REGION, endpoint: ec2Lab.ebsUrl, credentials: CREDS });
  let n = 0;
  ebs.middlewareStack.add(
    (next, ctx) => async (args) => {
      const out = await next(args);
      if (ctx.commandName === 'PutSnapshotBlockCommand') {
        n += 1;
        onPut?.(n);
      }
      return out;
    },
    { step: 'initialize', name: 'countPuts' },
  );
  return { ebs, puts: () => n };
}

/** Deps for a VM whose every checkpoint is kept as JSON, as the task store would persist it. */
function depsFor(vmName: string, ebs: EBSClient, w: WarmRecord, extra: Partial<CycleDeps> = {}) {
  const saved: string[] = [];
  const deps: CycleDeps = {
    vc,
    ebs,
    vmId: vmIds.get(vmName)!,
    snapshotName: SNAPSHOT_NAME,
    tags: [{ Key: 'vm2ec2:test', Value: vmName }],
    signal: new AbortController().signal,
    now: () => new Date(),
    checkpoint: () => saved.push(JSON.stringify(w)),
    ...extra,
  };
  return { deps, saved };
}

async function newRecord(vmName: string): Promise<WarmRecord> {
  const { enabledByUs, disks } = await ensureChangeTracking(vc, vmIds.get(vmName)!);
  return { intervalMinutes: 15, shutdown: 'guest', cbtEnabledByUs: enabledByUs, disks, cycles: 0, supersededSnapshots: [] };
}

async function snapshotsOf(vmName: string): Promise<string[]> {
  return (await vc.getVirtualMachine(vmIds.get(vmName)!)).snapshots.map((s) => s.name);
}

async function ebsSnapshotIds(vmName: string): Promise<string[]> {
  const out = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:vm2ec2:test', Values: [vmName] }] }));
  return (out.Snapshots ?? []).map((s) => s.SnapshotId ?? '').sort();
}

/** SHA-256 of the first `capacityBytes` of an EBS snapshot as its chain reconstructs it (zeros where never written). */
function chainSha256(snapshotId: string, capacityBytes: number): string {
  const snap = ec2Lab.ebs.get(snapshotId);
  if (!snap) throw new Error(`no EBS snapshot ${snapshotId}`);
  const blocks = ec2Lab.ebs.flatten(snap);
  const zero = Buffer.alloc(EBS_BLOCK_BYTES);
  const h = createHash('sha256');
  for (let i = 0; i * EBS_BLOCK_BYTES < capacityBytes; i++) {
    const key = blocks.get(i);
    h.update((key === undefined ? zero : ec2Lab.ebs.blockData(key)).subarray(0, Math.min(EBS_BLOCK_BYTES, capacityBytes - i * EBS_BLOCK_BYTES)));
  }
  return h.digest('hex');
}

/** Blocks touched by grain writes `[offset, length]`. */
function blocksOf(writes: [number, number][]): number {
  return blockRuns(writes.map(([start, length]) => ({ start, length })), 1024 * MiB).reduce((n, [a, b]) => n + b - a + 1, 0);
}

beforeAll(async () => {
  vcsim = await startVcsim({
    vms: [
      { name: 'warm-chain', powerState: 'poweredOn', disks: [{ capacityMiB: 256, seed: 1301 }, { capacityMiB: 128, seed: 1302 }] },
      { name: 'warm-resume', powerState: 'poweredOn', disks: [{ capacityMiB: 256, seed: 1303 }] },
      { name: 'warm-abandon', powerState: 'poweredOn', disks: [{ capacityMiB: 128, seed: 1304 }] },
      { name: 'warm-late-reset', powerState: 'poweredOn', disks: [{ capacityMiB: 64, seed: 1305 }, { capacityMiB: 32, seed: 1306 }] },
    ],
  });
  s3 = await startS3({ buckets: ['lab-imports'] });
  ec2Lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 1000 });
  vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
  await vc.login(admin.name, admin.password);
  for (const vm of await vc.listVirtualMachines()) vmIds.set(vm.name, vm.id);
  ec2 = new EC2Client({ region: REGION, endpoint: ec2Lab.url, credentials: CREDS });
}, 180_000);

afterAll(async () => {
  ec2?.destroy();
  await vc?.logout().catch(() => undefined);
  vc?.close();
  await ec2Lab?.stop();
  await s3?.stop();
  await vcsim?.stop();
});

describe('replication cycles', () => {
  // One VM through initial sync, an incremental cycle and a CBT reset: the chain always equals the frozen disk.
  const chain = { w: undefined as unknown as WarmRecord };

  it('initial sync of a powered-on VM enables CBT and sends every block of every disk once', async () => {
    const vmId = vmIds.get('warm-chain')!;
    expect(await changeTrackingEnabled(vc, vmId)).toBe(false);
    const w = await newRecord('warm-chain');
    chain.w = w;
    expect(w.cbtEnabledByUs).toBe(true);
    expect(await changeTrackingEnabled(vc, vmId)).toBe(true);
    expect(w.disks.map((d) => d.capacityBytes).sort()).toEqual([128 * MiB, 256 * MiB]);

    const { ebs, puts } = countingEbs();
    const { deps, saved } = depsFor('warm-chain', ebs, w);
    const readBefore = await vcsim.folderReadBytes();
    await runCycle(w, deps);

    expect(w.cycle).toBeUndefined();
    expect(w.cycles).toBe(1);
    const starts = saved.map((s) => JSON.parse(s) as WarmRecord).find((r) => r.cycle);
    expect(starts?.cycle).toMatchObject({ n: 1, full: true, fullReason: INITIAL_SYNC_REASON });
    for (const d of w.disks) {
      expect(d.changeId).toBeTruthy();
      expect(ec2Lab.ebs.get(d.ebsSnapshotId!)?.parentId).toBeUndefined();
      expect(ec2Lab.ebs.blocksWritten(d.ebsSnapshotId!)).toBe(d.capacityBytes / EBS_BLOCK_BYTES);
      expect(ec2Lab.ebs.putCallsFor(d.ebsSnapshotId!)).toBe(d.capacityBytes / EBS_BLOCK_BYTES);
      expect(chainSha256(d.ebsSnapshotId!, d.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d.deviceKey));
    }
    expect(puts()).toBe(768);
    expect(await vcsim.folderReadBytes()).toBe(readBefore + 384 * MiB);
    expect(w.lastCycleSentBytes).toBe(384 * MiB);
    expect(w.lastCycleChangedBytes).toBe(384 * MiB);
    expect(await snapshotsOf('warm-chain')).toEqual([]);
  }, 300_000);

  it('an incremental cycle reads and sends exactly the blocks holding the written grains, and the chain equals the frozen disk', async () => {
    const w = chain.w;
    const vmId = vmIds.get('warm-chain')!;
    // Writes go to the larger disk; the other one stays unchanged.
    const i1 = w.disks.findIndex((d) => d.capacityBytes === 256 * MiB);
    const i2 = 1 - i1;
    const d1 = w.disks[i1];
    const d2 = w.disks[i2];
    const heads = w.disks.map((d) => d.ebsSnapshotId!);
    // Grains in block 0, two grains in block 10, and a write that straddles blocks 399/400.
    const writes: [number, number][] = [
      [0, GRAIN],
      [10 * EBS_BLOCK_BYTES + GRAIN, 2 * GRAIN],
      [200 * MiB - GRAIN, 2 * GRAIN],
    ];
    for (const [i, [offset, length]] of writes.entries()) await vcsim.writeDisk(vmId, d1!.deviceKey, { offset, length, seed: 70 + i });
    const expectedBlocks = blocksOf(writes);
    expect(expectedBlocks).toBe(4);

    const { ebs, puts } = countingEbs();
    const { deps } = depsFor('warm-chain', ebs, w);
    const readBefore = await vcsim.folderReadBytes();
    await runCycle(w, deps);

    expect(w.cycles).toBe(2);
    expect(puts()).toBe(expectedBlocks);
    expect(await vcsim.folderReadBytes()).toBe(readBefore + expectedBlocks * EBS_BLOCK_BYTES);
    expect(w.lastCycleChangedBytes).toBe(writes.reduce((n, [, l]) => n + l, 0));
    expect(w.lastCycleSentBytes).toBe(expectedBlocks * EBS_BLOCK_BYTES);
    const head1 = w.disks[i1]!.ebsSnapshotId!;
    expect(head1).not.toBe(heads[i1]);
    expect(ec2Lab.ebs.get(head1)?.parentId).toBe(heads[i1]);
    expect(ec2Lab.ebs.blocksWritten(head1)).toBe(expectedBlocks);
    // The unchanged disk keeps its snapshot; the replaced head waits for deletion.
    expect(w.disks[i2]!.ebsSnapshotId).toBe(heads[i2]);
    expect(w.supersededSnapshots).toEqual([heads[i1]]);
    expect(chainSha256(head1, d1!.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d1!.deviceKey));
    expect(chainSha256(heads[i2]!, d2!.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d2!.deviceKey));
    expect(await snapshotsOf('warm-chain')).toEqual([]);
  }, 120_000);

  it('after a CBT reset the refused change id turns into a full copy into a new chain, with the reason recorded', async () => {
    const w = chain.w;
    const vmId = vmIds.get('warm-chain')!;
    const before = w.disks.map((d) => d.ebsSnapshotId!);
    await vcsim.writeDisk(vmId, w.disks[1]!.deviceKey, { offset: 3 * MiB, length: GRAIN, seed: 99 });
    await vcsim.resetChangeTracking(vmId);

    const { ebs, puts } = countingEbs();
    const { deps, saved } = depsFor('warm-chain', ebs, w);
    await runCycle(w, deps);

    const during = saved.map((s) => JSON.parse(s) as WarmRecord).filter((r) => r.cycle?.fullReason === CBT_RESET_REASON);
    expect(during.length).toBeGreaterThan(0);
    expect(during.at(-1)!.cycle!.full).toBe(true);
    expect(w.cycles).toBe(3);
    expect(puts()).toBe(768);
    for (const [i, d] of w.disks.entries()) {
      expect(d.ebsSnapshotId).not.toBe(before[i]);
      expect(ec2Lab.ebs.get(d.ebsSnapshotId!)?.parentId).toBeUndefined();
      expect(chainSha256(d.ebsSnapshotId!, d.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d.deviceKey));
    }
    expect(w.supersededSnapshots).toEqual(expect.arrayContaining(before));
    expect(w.fullSyncReason).toBeUndefined();
    expect(await snapshotsOf('warm-chain')).toEqual([]);
  }, 300_000);
});

describe('a CBT reset after the cycle\'s snapshot', () => {
  it('starts the cycle over on a new snapshot, so the change ids it records are of the new tracking and the next cycle is incremental', async () => {
    const vm = 'warm-late-reset';
    const vmId = vmIds.get(vm)!;
    const w = await newRecord(vm);
    await runCycle(w, depsFor(vm, countingEbs().ebs, w).deps);
    await vcsim.writeDisk(vmId, w.disks[0]!.deviceKey, { offset: 5 * MiB, length: GRAIN, seed: 501 });
    // Cycle 2 as a connector killed after taking its snapshot left it; CBT is reset before it resumes.
    const frozen = await vc.createSnapshot(vmId, SNAPSHOT_NAME, 'cycle 2');
    w.cycle = {
      n: 2,
      full: false,
      startedAt: new Date().toISOString(),
      vcSnapshot: frozen.value,
      frozenAt: new Date().toISOString(),
      disks: w.disks.map((d) => ({ deviceKey: d.deviceKey, fromChangeId: d.changeId!, clientToken: randomUUID(), nextBlock: 0, blocksWritten: 0, changedBytes: 0, sentBytes: 0, done: false })),
    };
    await vcsim.resetChangeTracking(vmId);

    const full = countingEbs();
    const { deps, saved } = depsFor(vm, full.ebs, w);
    await runCycle(w, deps);
    expect(w.cycles).toBe(2);
    const restarted = saved.map((x) => JSON.parse(x) as WarmRecord).filter((r) => r.cycle?.fullReason === CBT_RESET_REASON);
    expect(restarted.length).toBeGreaterThan(0);
    expect(restarted.at(-1)!.cycle!.vcSnapshot).not.toBe(frozen.value);
    expect(full.puts()).toBe(96 * MiB / EBS_BLOCK_BYTES);
    for (const d of w.disks) expect(chainSha256(d.ebsSnapshotId!, d.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d.deviceKey));
    expect(await snapshotsOf(vm)).toEqual([]);

    // The next cycle builds on what the full copy recorded: one grain written, one block sent.
    await vcsim.writeDisk(vmId, w.disks[1]!.deviceKey, { offset: 7 * MiB, length: GRAIN, seed: 502 });
    const next = countingEbs();
    await runCycle(w, depsFor(vm, next.ebs, w).deps);
    expect(w.cycles).toBe(3);
    expect(next.puts()).toBe(1);
    expect(w.lastCycleSentBytes).toBe(EBS_BLOCK_BYTES);
    expect(chainSha256(w.disks[1]!.ebsSnapshotId!, w.disks[1]!.capacityBytes)).toBe(await vcsim.diskSha256(vmId, w.disks[1]!.deviceKey));
    expect(await snapshotsOf(vm)).toEqual([]);
  }, 180_000);
});

describe('a cycle stopped mid-upload', () => {
  const resume = { w: undefined as unknown as WarmRecord };

  it('resumes from its checkpoint into the same EBS snapshot, sending no block EBS already acknowledged', async () => {
    const vmId = vmIds.get('warm-resume')!;
    const w = await newRecord('warm-resume');
    await runCycle(w, depsFor('warm-resume', countingEbs().ebs, w).deps);
    const key = w.disks[0]!.deviceKey;

    // 200 grains over 100 blocks (two grains each, 2 MiB apart).
    const writes: [number, number][] = Array.from({ length: 100 }, (_, i) => [i * 2 * MiB + GRAIN, 2 * GRAIN]);
    for (const [i, [offset, length]] of writes.entries()) await vcsim.writeDisk(vmId, key, { offset, length, seed: 500 + i });
    const changedBlocks = blocksOf(writes);
    expect(changedBlocks).toBe(100);

    const ac = new AbortController();
    const stopped = countingEbs((n) => {
      if (n === 37) ac.abort();
    });
    const run1 = depsFor('warm-resume', stopped.ebs, w, { signal: ac.signal });
    await expect(runCycle(w, run1.deps)).rejects.toMatchObject({ name: 'AbortError' });
    // What a restarted connector reads back: the last checkpoint.
    const persisted = JSON.parse(run1.saved.at(-1)!) as WarmRecord;
    const c = persisted.cycle!;
    expect(c.vcSnapshot).toBeTruthy();
    expect(await snapshotsOf('warm-resume')).toEqual([SNAPSHOT_NAME]);
    const inFlightSnapshot = c.disks[0]!.ebsSnapshotId!;
    expect(c.disks[0]!.nextBlock).toBeGreaterThan(0);
    const sentBefore = stopped.puts();
    expect(sentBefore).toBeGreaterThanOrEqual(37);

    const resumed = countingEbs();
    await runCycle(persisted, depsFor('warm-resume', resumed.ebs, persisted).deps);

    expect(persisted.cycles).toBe(2);
    expect(persisted.disks[0]!.ebsSnapshotId).toBe(inFlightSnapshot);
    // Only blocks EBS had not acknowledged are sent again: at most the one in flight per disk.
    expect(sentBefore + resumed.puts()).toBeLessThanOrEqual(changedBlocks + 1);
    expect(ec2Lab.ebs.blocksWritten(inFlightSnapshot)).toBe(changedBlocks);
    expect(chainSha256(inFlightSnapshot, persisted.disks[0]!.capacityBytes)).toBe(await vcsim.diskSha256(vmId, key));
    expect(await snapshotsOf('warm-resume')).toEqual([]);
    // One EBS snapshot per cycle: the resume did not fork the chain.
    expect(await ebsSnapshotIds('warm-resume')).toHaveLength(2);
    resume.w = persisted;
  }, 300_000);

  it('a connector killed right after StartSnapshot, before recording it, gets the same EBS snapshot back by its ClientToken', async () => {
    const w = resume.w;
    const vmId = vmIds.get('warm-resume')!;
    const key = w.disks[0]!.deviceKey;
    for (let i = 0; i < 8; i++) await vcsim.writeDisk(vmId, key, { offset: (220 + i) * MiB, length: GRAIN, seed: 900 + i });

    const ac = new AbortController();
    const run1 = depsFor('warm-resume', countingEbs(() => ac.abort()).ebs, w, { signal: ac.signal });
    await expect(runCycle(w, run1.deps)).rejects.toMatchObject({ name: 'AbortError' });
    const records = run1.saved.map((s) => JSON.parse(s) as WarmRecord);
    const started = records.at(-1)!.cycle!.disks[0]!.ebsSnapshotId!;
    expect(started).toBeTruthy();
    // The last record written before StartSnapshot answered: snapshot taken, EBS snapshot not yet known.
    const beforeStart = records.filter((r) => r.cycle?.vcSnapshot && !r.cycle.disks[0]!.ebsSnapshotId).at(-1)!;
    expect(beforeStart).toBeDefined();

    await runCycle(beforeStart, depsFor('warm-resume', countingEbs().ebs, beforeStart).deps);
    expect(beforeStart.cycles).toBe(3);
    expect(beforeStart.disks[0]!.ebsSnapshotId).toBe(started);
    expect(ec2Lab.ebs.get(started)?.status).toBe('completed');
    expect(chainSha256(started, beforeStart.disks[0]!.capacityBytes)).toBe(await vcsim.diskSha256(vmId, key));
    expect(await ebsSnapshotIds('warm-resume')).toHaveLength(3);
    expect(await snapshotsOf('warm-resume')).toEqual([]);
  }, 120_000);
});

describe('a cycle whose vCenter snapshot was removed by someone else', () => {
  it('starts over with a new snapshot and a new EBS snapshot; the half-written one is completed and handed over for deletion', async () => {
    const vmId = vmIds.get('warm-resume')!;
    const w = await newRecord('warm-resume');
    // Continue the chain the tests above left: a fresh record would copy everything again.
    const prior = await ebsSnapshotIds('warm-resume');
    expect(prior.length).toBeGreaterThan(0);
    const base = w.disks[0]!;
    const first = countingEbs();
    await runCycle(w, depsFor('warm-resume', first.ebs, w).deps);
    for (let i = 0; i < 40; i++) await vcsim.writeDisk(vmId, base.deviceKey, { offset: i * 4 * MiB, length: GRAIN, seed: 1200 + i });

    const ac = new AbortController();
    const run1 = depsFor('warm-resume', countingEbs((n) => n === 10 && ac.abort()).ebs, w, { signal: ac.signal });
    await expect(runCycle(w, run1.deps)).rejects.toMatchObject({ name: 'AbortError' });
    const oldSnapshot = w.cycle!.vcSnapshot!;
    const halfWritten = w.cycle!.disks[0]!.ebsSnapshotId!;
    await vc.removeSnapshot({ type: 'VirtualMachineSnapshot', value: oldSnapshot });

    await runCycle(w, depsFor('warm-resume', countingEbs().ebs, w).deps);
    const head = w.disks[0]!.ebsSnapshotId!;
    expect(head).not.toBe(halfWritten);
    expect(w.supersededSnapshots).toContain(halfWritten);
    expect(ec2Lab.ebs.get(halfWritten)?.status).not.toBe('pending');
    expect(ec2Lab.ebs.blocksWritten(head)).toBe(40);
    expect(chainSha256(head, base.capacityBytes)).toBe(await vcsim.diskSha256(vmId, base.deviceKey));
    expect(await snapshotsOf('warm-resume')).toEqual([]);
  }, 300_000);
});

describe('EBS faults and stopping replication', () => {
  const abandon = { w: undefined as unknown as WarmRecord };

  it('throttling, 500s and connection resets from EBS are retried within the cycle, and the snapshot is still exact', async () => {
    const vmId = vmIds.get('warm-abandon')!;
    const w = await newRecord('warm-abandon');
    const emu = ec2Lab.emulator;
    const callsBefore = emu.calls('PutSnapshotBlock');
    emu.throttle('PutSnapshotBlock', 2);
    emu.serverError('PutSnapshotBlock', 1);
    emu.resetConnections('PutSnapshotBlock', 2);
    emu.throttle('StartSnapshot', 1);
    emu.serverError('CompleteSnapshot', 1);
    const { ebs, puts } = countingEbs();
    await runCycle(w, depsFor('warm-abandon', ebs, w).deps);
    const d = w.disks[0]!;
    expect(puts()).toBe(256);
    expect(emu.calls('PutSnapshotBlock') - callsBefore).toBe(256 + 5);
    expect(ec2Lab.ebs.get(d.ebsSnapshotId!)?.status).toBe('completed');
    expect(chainSha256(d.ebsSnapshotId!, d.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d.deviceKey));
    expect(await ebsSnapshotIds('warm-abandon')).toEqual([d.ebsSnapshotId]);
    abandon.w = w;
  }, 120_000);

  it('a head snapshot deleted outside the connector turns the next cycle into a full copy, with the reason recorded', async () => {
    const vmId = vmIds.get('warm-abandon')!;
    const w = abandon.w;
    const d = w.disks[0]!;
    const gone = d.ebsSnapshotId!;
    await vcsim.writeDisk(vmId, d.deviceKey, { offset: 7 * MiB, length: GRAIN, seed: 31 });
    await deleteEbsSnapshots(ec2, [gone]);

    const { ebs, puts } = countingEbs();
    const { deps, saved } = depsFor('warm-abandon', ebs, w);
    await runCycle(w, deps);
    const reasons = saved.map((x) => (JSON.parse(x) as WarmRecord).cycle?.fullReason).filter(Boolean);
    expect(reasons).toContain(`The last replicated EBS snapshot of ${d.label} was deleted outside the connector, so this cycle copies the whole disk.`);
    expect(puts()).toBe(256);
    expect(ec2Lab.ebs.get(d.ebsSnapshotId!)?.parentId).toBeUndefined();
    expect(chainSha256(d.ebsSnapshotId!, d.capacityBytes)).toBe(await vcsim.diskSha256(vmId, d.deviceKey));
  }, 120_000);

  it('a cycle that cannot go on removes its vCenter snapshot before reporting the error, and the next cycle starts over', async () => {
    const vmId = vmIds.get('warm-abandon')!;
    const w = abandon.w;
    await vcsim.writeDisk(vmId, w.disks[0]!.deviceKey, { offset: 9 * MiB, length: GRAIN, seed: 32 });
    // EBS refuses the tags (aws: is reserved): retrying the same cycle would only fail again.
    const { deps } = depsFor('warm-abandon', countingEbs().ebs, w, { tags: [{ Key: 'aws:reserved', Value: 'x' }], ec2 });
    await expect(runCycle(w, deps)).rejects.toMatchObject({ name: 'ValidationException' });
    expect(w.cycle).toBeUndefined();
    expect(await snapshotsOf('warm-abandon')).toEqual([]);
    const cycles = w.cycles;
    await runCycle(w, depsFor('warm-abandon', countingEbs().ebs, w).deps);
    expect(w.cycles).toBe(cycles + 1);
    expect(w.lastCycleSentBytes).toBe(EBS_BLOCK_BYTES);
  }, 120_000);

  it('abandonCycle leaves no vCenter snapshot and, with deleteEbsSnapshots, no EBS snapshot', async () => {
    const vmId = vmIds.get('warm-abandon')!;
    const w = abandon.w;
    for (let i = 0; i < 20; i++) await vcsim.writeDisk(vmId, w.disks[0]!.deviceKey, { offset: i * 5 * MiB, length: GRAIN, seed: 40 + i });

    const ac = new AbortController();
    const { deps } = depsFor('warm-abandon', countingEbs((n) => n === 5 && ac.abort()).ebs, w, { signal: ac.signal });
    await expect(runCycle(w, deps)).rejects.toMatchObject({ name: 'AbortError' });
    const pending = w.cycle!.disks[0]!.ebsSnapshotId!;
    expect(ec2Lab.ebs.get(pending)?.status).toBe('pending');
    expect(await snapshotsOf('warm-abandon')).toEqual([SNAPSHOT_NAME]);

    await abandonCycle(w, { ...deps, signal: new AbortController().signal, ec2 });
    expect(w.cycle).toBeUndefined();
    expect(await snapshotsOf('warm-abandon')).toEqual([]);
    expect(ec2Lab.ebs.get(pending)).toBeUndefined();

    // Stop replication then deletes the replicated chain; deleting twice is fine.
    const rest = [...w.disks.map((d) => d.ebsSnapshotId!), ...w.supersededSnapshots];
    await deleteEbsSnapshots(ec2, rest);
    await deleteEbsSnapshots(ec2, rest);
    expect(await ebsSnapshotIds('warm-abandon')).toEqual([]);
  }, 300_000);
});

describe('changed areas → EBS blocks', () => {
  it('rounds areas out to whole 512 KiB blocks, merges neighbours and overlaps, and clips at the capacity', () => {
    const K = 1024;
    expect(blockRuns([], 4 * MiB)).toEqual([]);
    expect(
      blockRuns(
        [
          { start: 3 * MiB, length: 64 * K }, // block 6
          { start: 0, length: 1 }, // block 0
          { start: 512 * K - 1, length: 2 }, // blocks 0-1
          { start: 1024 * K, length: 512 * K }, // block 2: adjacent, merged
          { start: 3 * MiB + 100, length: 10 }, // block 6 again
          { start: 4 * MiB - 64 * K, length: 10 * MiB }, // block 7, clipped at the capacity
        ],
        4 * MiB,
      ),
    ).toEqual([
      [0, 2],
      [6, 7],
    ]);
  });
});

describe('datastore range reads', () => {
  async function flatFile(vmName: string) {
    const vmId = vmIds.get(vmName)!;
    const [disk] = await vmDisks(vc, vmId);
    const { dsName, path } = parseDatastorePath(disk!.fileName);
    return { dcPath: await datacenterPathOf(vc, vmId), dsName, path: flatExtentPath(path) };
  }

  it('reads a byte range with the session cookie under the pinned thumbprint, and refuses a wrong pin before sending the cookie', async () => {
    const file = await flatFile('warm-abandon');
    const origin = vc.connection.origin;
    const pinned = new DatastoreReader({ origin, trust: { thumbprint: vcsim.thumbprintSha256 }, cookie: () => vc.sessionCookie });
    const bytes = await pinned.readRange(file, 3 * EBS_BLOCK_BYTES, EBS_BLOCK_BYTES);
    expect(bytes.length).toBe(EBS_BLOCK_BYTES);
    pinned.close();

    const wrong = vcsim.thumbprintSha256.replace(/^../, vcsim.thumbprintSha256.startsWith('00') ? '11' : '00');
    const refused = new DatastoreReader({ origin, trust: { thumbprint: wrong }, cookie: () => vc.sessionCookie });
    await expect(refused.readRange(file, 0, EBS_BLOCK_BYTES)).rejects.toMatchObject({
      name: 'DatastoreReadError',
      reason: 'tls',
      message: expect.stringMatching(/refused the TLS certificate.*thumbprint/),
    });
    refused.close();

    const noTrust = new DatastoreReader({ origin, trust: {}, cookie: () => vc.sessionCookie });
    await expect(noTrust.readRange(file, 0, EBS_BLOCK_BYTES)).rejects.toMatchObject({ reason: 'tls' });
    noTrust.close();
  });

  it('without a session the server refuses the read, with what to check', async () => {
    const file = await flatFile('warm-abandon');
    const reader = new DatastoreReader({ origin: vc.connection.origin, trust: { ca: vcsim.certPem }, cookie: () => undefined });
    await expect(reader.readRange(file, 0, EBS_BLOCK_BYTES)).rejects.toMatchObject({ name: 'DatastoreReadError', reason: 'http' });
    reader.close();
  });
});
