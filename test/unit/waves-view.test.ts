// A wave's state, counts, bytes left and ETA as computed from its migrations (connector/waves/view.ts).
import { describe, expect, it } from 'vitest';
import { Wave, type MigrationState, type MigrationTask } from '../../connector/contract/index.ts';
import type { WaveRecord } from '../../connector/waves/store.ts';
import { waveView } from '../../connector/waves/view.ts';

const GiB = 1024 ** 3;
const record = (over: Partial<WaveRecord> = {}): WaveRecord => ({
  id: 'wav-123456',
  name: 'Wave 1',
  priority: 50,
  environmentId: 'env-a',
  mode: 'cold',
  createdBy: 'operator@vsphere.local',
  createdAt: '2026-12-03T10:00:00.000Z',
  tasks: [1, 2, 3].map((i) => ({ id: `mig-00000${i}`, vmId: `vm-${i}`, vmName: `vm${i}`, diskBytes: 10 * GiB })),
  ...over,
});
const task = (i: number, state: MigrationState, over: Partial<MigrationTask> = {}): MigrationTask => ({
  id: `mig-00000${i}`,
  idKind: 'queued',
  state,
  phase: state === 'queued' ? 'queued' : state === 'completed' ? 'done' : 'uploading',
  mode: 'cold',
  environmentId: 'env-a',
  region: 'us-east-1',
  vmId: `vm-${i}`,
  platform: 'Linux',
  subnetId: 'subnet-1',
  instanceType: 'm5.large',
  securityGroupIds: ['sg-1'],
  requestedBy: 'operator@vsphere.local',
  disks: [],
  percent: 0,
  createdAt: '2026-12-03T10:00:00.000Z',
  updatedAt: '2026-12-03T10:00:00.000Z',
  ...over,
});
const disk = (expected: number, uploaded: number, throughputBps: number) => ({ key: 'd', capacityBytes: expected, expectedBytes: expected, bytesUploaded: uploaded, throughputBps, done: uploaded >= expected });

describe('a wave as the API shows it', () => {
  it('is scheduled while none of its migrations has started, with every VM\'s disks still to copy', () => {
    const v = waveView(record({ notBefore: '2026-12-04T21:00:00.000Z' }), [task(1, 'queued'), task(2, 'queued'), task(3, 'queued')]);
    expect(Wave.parse(v)).toEqual(v);
    expect(v).toMatchObject({ state: 'scheduled', total: 3, counts: { queued: 3, running: 0 }, bytesLeft: 30 * GiB, window: { notBefore: '2026-12-04T21:00:00.000Z' } });
    expect(v.etaSeconds).toBeUndefined();
  });

  it('is running once one has started: bytes left from the copies\' own progress, ETA at the rate the wave copies now', () => {
    const v = waveView(record(), [
      task(1, 'running', { disks: [disk(4 * GiB, 3 * GiB, 50e6)], throughputBps: 50e6 }),
      task(2, 'running', { disks: [disk(2 * GiB, 0, 50e6)], throughputBps: 50e6 }),
      task(3, 'queued'),
    ]);
    expect(v.state).toBe('running');
    expect(v.bytesLeft).toBe(1 * GiB + 2 * GiB + 10 * GiB);
    expect(v.etaSeconds).toBeCloseTo((13 * GiB) / 100e6, 6);
  });

  it('ends completed only when every migration completed, otherwise completed with failures', () => {
    const at = (t: string) => ({ finishedAt: t });
    expect(waveView(record(), [task(1, 'completed', at('2026-12-03T11:00:00.000Z')), task(2, 'completed', at('2026-12-03T12:00:00.000Z')), task(3, 'completed', at('2026-12-03T11:30:00.000Z'))])).toMatchObject({
      state: 'completed',
      bytesLeft: 0,
      finishedAt: '2026-12-03T12:00:00.000Z',
    });
    expect(waveView(record(), [task(1, 'completed'), task(2, 'failed'), task(3, 'cancelled')]).state).toBe('completed-with-failures');
    // Every migration cancelled without a Cancel wave (the start window closed before any could start): cancelled.
    expect(waveView(record({ windowClosedAt: '2026-12-03T11:00:00.000Z' }), [task(1, 'cancelled'), task(2, 'cancelled'), task(3, 'cancelled')])).toMatchObject({ state: 'cancelled', windowClosedAt: '2026-12-03T11:00:00.000Z' });
  });

  it('is cancelling while a cancelled wave still undoes a migration, then cancelled; a migration the engine lost counts as cancelled', () => {
    const cancelled = record({ cancelledBy: 'operator@vsphere.local', cancelledAt: '2026-12-03T10:30:00.000Z' });
    expect(waveView(cancelled, [task(1, 'cancelling', { disks: [disk(4 * GiB, GiB, 0)] }), task(2, 'cancelled'), task(3, 'completed')])).toMatchObject({ state: 'cancelling', bytesLeft: 0 });
    const done = waveView(cancelled, [task(1, 'cancelled'), undefined, task(3, 'completed')]);
    expect(done).toMatchObject({ state: 'cancelled', counts: { cancelled: 2, completed: 1 }, cancelledBy: 'operator@vsphere.local' });
  });
});
