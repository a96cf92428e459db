// Warm replication cycles against the lab vCenter (CBT, snapshots, /folder range reads) and the lab EBS direct APIs,
// through our Vim25Client and the real EBSClient/EC2Client: what is read and sent, the chain's content, and CBT resets.
// Cycles stopped or faulted, and TLS on the range reads: warm-cycle-recovery.test.ts. The lab: test/support/warm-lab.ts.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CBT_RESET_REASON, INITIAL_SYNC_REASON, runCycle } from '../../connector/engine/warm/cycle.ts';
import { blockRuns } from '../../connector/engine/warm/ebs.ts';
import { EBS_BLOCK_BYTES, type WarmRecord } from '../../connector/engine/warm/types.ts';
import { changeTrackingEnabled } from '../../connector/vsphere/cbt.ts';
import { blocksOf, chainSha256, countingEbs, depsFor, ec2Lab, GRAIN, MiB, newRecord, SNAPSHOT_NAME, snapshotsOf, useWarmLab, vc, vcsim, vmIds } from '../support/warm-lab.ts';

useWarmLab([
  { name: 'warm-chain', powerState: 'poweredOn', disks: [{ capacityMiB: 256, seed: 1301 }, { capacityMiB: 128, seed: 1302 }] },
  { name: 'warm-late-reset', powerState: 'poweredOn', disks: [{ capacityMiB: 64, seed: 1305 }, { capacityMiB: 32, seed: 1306 }] },
]);

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
