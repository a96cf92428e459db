// The bandwidth cap on warm replication (issue 14): an initial sync through the connector's limiter against the lab
// vCenter and the lab EBS direct APIs takes the time its bytes need at the cap, every block still sent once, and the
// task hears that it is throttled.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { createEbsClient } from '../../connector/aws/ebs-writer.ts';
import { ensureChangeTracking, runCycle } from '../../connector/engine/warm/cycle.ts';
import { EBS_BLOCK_BYTES, type WarmRecord } from '../../connector/engine/warm/types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { BandwidthLimiter } from '../../connector/bandwidth/limiter.ts';
import { MB } from '../../connector/bandwidth/schedule.ts';
import { writeBandwidth } from '../../connector/bandwidth/setting.ts';
import { SqliteStore } from '../../connector/store/index.ts';
import { admin } from './engine-helpers.ts';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'lab', secretAccessKey: 'lab' };

let vcsim: VcsimHandle;
let s3: S3Handle;
let ec2Lab: Ec2EmulatorHandle;
let vc: Vim25Client;
let dir: string;
let store: SqliteStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-warm-bw-'));
  store = new SqliteStore(join(dir, 'c.sqlite'), { defaultRegion: REGION });
  vcsim = await startVcsim({ vms: [{ name: 'warm-capped', powerState: 'poweredOn', disks: [{ capacityMiB: 16, seed: 1401 }] }] });
  s3 = await startS3({ buckets: ['lab-imports'] });
  ec2Lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 1000 });
  vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
  await vc.login(admin.name, admin.password);
}, 180_000);

afterAll(async () => {
  await vc?.logout().catch(() => undefined);
  vc?.close();
  await ec2Lab?.stop();
  await s3?.stop();
  await vcsim?.stop();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bandwidth cap on warm replication', () => {
  it('an initial sync of 16 MiB under a 4 MB/s cap takes about 4 s, sends every block once, and is marked throttled', async () => {
    await writeBandwidth(store.settings, 'conn-warm', { capMBps: 4, schedule: [] }, 'administrator@vsphere.local', new Date());
    const limiter = new BandwidthLimiter({ settings: store.settings, connectorId: async () => 'conn-warm', timeZone: 'UTC' });
    await limiter.start();
    const vmId = (await vc.listVirtualMachines()).find((v) => v.name === 'warm-capped')!.id;
    const { enabledByUs, disks } = await ensureChangeTracking(vc, vmId);
    const w: WarmRecord = { intervalMinutes: 15, shutdown: 'guest', cbtEnabledByUs: enabledByUs, disks, cycles: 0, supersededSnapshots: [] };
    const heard: number[] = [];
    const ebs = createEbsClient({ region: REGION, endpoint: ec2Lab.ebsUrl, credentials: CREDS });
    const started = performance.now();
    await runCycle(w, {
      vc,
      ebs,
      vmId,
      snapshotName: 'vm2ec2-warm-bw-test',
      tags: [{ Key: 'vm2ec2:test', Value: 'warm-capped' }],
      signal: new AbortController().signal,
      now: () => new Date(),
      checkpoint: () => {},
      throttle: limiter.forTask('mig-warm', (cap) => heard.push(cap)),
    });
    const seconds = (performance.now() - started) / 1000;
    limiter.stop();
    ebs.destroy();
    const d = w.disks[0]!;
    expect(ec2Lab.ebs.putCallsFor(d.ebsSnapshotId!)).toBe((16 * MB) / EBS_BLOCK_BYTES);
    expect(w.lastCycleSentBytes).toBe(16 * MB);
    // 16 MiB at 4 MB/s: 4 s of copying (plus snapshot set-up); unthrottled the lab does it in about 1.4 s under load.
    expect(seconds).toBeGreaterThan(4 * 0.85);
    expect(seconds).toBeLessThan(4 * 3);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.every((c) => c === 4)).toBe(true);
    expect(limiter.throttledCap('mig-warm')).toBe(4);
  }, 120_000);
});
