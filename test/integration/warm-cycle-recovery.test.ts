// Warm replication cycles that are stopped or go wrong, against the lab vCenter and the lab EBS direct APIs: resume
// after a stop mid-upload, a vCenter snapshot removed by someone else, EBS faults, abandoning a cycle, and TLS and the
// session on the /folder range reads. Uninterrupted cycles: warm-cycle.test.ts. The lab: test/support/warm-lab.ts.
import { describe, expect, it } from 'vitest';
import { abandonCycle, runCycle } from '../../connector/engine/warm/cycle.ts';
import { deleteEbsSnapshots } from '../../connector/engine/warm/ebs.ts';
import { EBS_BLOCK_BYTES, type WarmRecord } from '../../connector/engine/warm/types.ts';
import { datacenterPathOf, vmDisks } from '../../connector/vsphere/cbt.ts';
import { DatastoreReader, flatExtentPath, parseDatastorePath } from '../../connector/vsphere/datastore-http.ts';
import { blocksOf, chainSha256, countingEbs, depsFor, ebsSnapshotIds, ec2, ec2Lab, GRAIN, MiB, newRecord, SNAPSHOT_NAME, snapshotsOf, useWarmLab, vc, vcsim, vmIds } from '../support/warm-lab.ts';

useWarmLab([
  { name: 'warm-resume', powerState: 'poweredOn', disks: [{ capacityMiB: 256, seed: 1303 }] },
  { name: 'warm-abandon', powerState: 'poweredOn', disks: [{ capacityMiB: 128, seed: 1304 }] },
]);

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
