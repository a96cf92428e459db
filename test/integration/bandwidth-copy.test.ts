// The bandwidth cap on the real disk copy: the lab vCenter's export lease streamed into the lab S3 sink through the
// connector's limiter. The measured rate is checked with generous bounds (the bench measures it against ±10 %); the
// point here is that the cap holds and that two copies share one bucket rather than getting one each.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { labS3ClientConfig, startS3, type S3SinkHandle } from '../../lab/s3/index.ts';
import { streamDiskToS3, type DiskSource } from '../../connector/engine/disk-copy.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { BandwidthLimiter, type ByteThrottle } from '../../connector/bandwidth/limiter.ts';
import { MB } from '../../connector/bandwidth/schedule.ts';
import { writeBandwidth } from '../../connector/bandwidth/setting.ts';
import { SqliteStore } from '../../connector/store/index.ts';

const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] };
const admin = inventory.users.find((u) => u.name.startsWith('administrator@'))!;
const VM = 'bsd-firewall-01'; // one 64 MiB disk

let vc: VcsimHandle;
let vim: Vim25Client;
let sink: S3SinkHandle;
let s3: S3Client;
let dir: string;
let store: SqliteStore;
const leases: MoRef[] = [];

async function lease(): Promise<{ source: DiskSource; bytes: number }> {
  const vm = (await vim.listVirtualMachines()).find((v) => v.name === VM)!;
  const ref = await vim.exportVm(vm.id);
  leases.push(ref);
  const info = await vim.waitForLease(ref);
  const dev = info.deviceUrl.find((d) => d.disk)!;
  return { source: { url: vim.resolveDeviceUrl(dev.url), thumbprint: dev.sslThumbprint!, cookie: vim.sessionCookie! }, bytes: dev.fileSize! };
}

/** Counts the bytes the cap let through (granted minus given back). */
function counting(th: ByteThrottle, count: { bytes: number }): ByteThrottle {
  return {
    take: (n) => {
      const g = th.take(n);
      count.bytes += g;
      return g;
    },
    giveBack: (n) => {
      count.bytes -= n;
      th.giveBack(n);
    },
    waitMs: (n) => th.waitMs(n),
    waited: () => th.waited(),
  };
}

async function limiterAt(capMBps: number | null, id: string): Promise<BandwidthLimiter> {
  await writeBandwidth(store.settings, id, { capMBps, schedule: [] }, 'administrator@vsphere.local', new Date());
  const limiter = new BandwidthLimiter({ settings: store.settings, connectorId: async () => id, timeZone: 'UTC' });
  await limiter.start();
  return limiter;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-bwcopy-'));
  store = new SqliteStore(join(dir, 'c.sqlite'), { defaultRegion: 'us-east-1' });
  vc = await startVcsim();
  vim = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  await vim.login(admin.name, admin.password);
  sink = await startS3({ sink: true });
  s3 = new S3Client(labS3ClientConfig(sink));
  await s3.send(new CreateBucketCommand({ Bucket: 'disks' }));
}, 120_000);

afterAll(async () => {
  const bounded = (p: Promise<unknown> | undefined) => Promise.race([(p ?? Promise.resolve()).catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
  for (const l of leases) await bounded(vim?.leaseComplete(l));
  await bounded(vim?.logout());
  s3?.destroy();
  await bounded(sink?.stop());
  await bounded(vc?.stop());
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('bandwidth cap on the disk copy', { timeout: 120_000 }, () => {
  it('a copy under a 2 MB/s cap moves 2 MB/s, and the task is marked as waiting on the cap', async () => {
    const limiter = await limiterAt(2, 'conn-2mb');
    const { source, bytes } = await lease();
    const count = { bytes: 0 };
    const ac = new AbortController();
    const started = performance.now();
    const run = streamDiskToS3(source, { s3, bucket: 'disks', key: 'capped.vmdk', expectedBytes: bytes, partSize: 5 * MB }, { signal: ac.signal, throttle: counting(limiter.forTask('mig-a'), count) });
    await new Promise((r) => setTimeout(r, 6_000));
    const rate = count.bytes / ((performance.now() - started) / 1000);
    expect(limiter.throttledCap('mig-a')).toBe(2);
    ac.abort();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    limiter.stop();
    // 12 MiB in 6 s at the cap; unthrottled the lab copies this disk in well under a second.
    expect(rate / MB).toBeGreaterThan(2 * 0.8);
    expect(rate / MB).toBeLessThan(2 * 1.2);
  });

  it('two copies share the one cap: 4 MB/s together, not each', async () => {
    const limiter = await limiterAt(4, 'conn-4mb');
    const [a, b] = await Promise.all([lease(), lease()]);
    const counts = [{ bytes: 0 }, { bytes: 0 }];
    const ac = new AbortController();
    const started = performance.now();
    const runs = [a, b].map((l, i) =>
      streamDiskToS3(l.source, { s3, bucket: 'disks', key: `shared-${i}.vmdk`, expectedBytes: l.bytes, partSize: 5 * MB }, { signal: ac.signal, throttle: counting(limiter.forTask(`mig-${i}`), counts[i]!) }),
    );
    await new Promise((r) => setTimeout(r, 6_000));
    const seconds = (performance.now() - started) / 1000;
    const [ra, rb] = counts.map((c) => c.bytes / seconds / MB) as [number, number];
    ac.abort();
    // Both at once: awaiting one while the other rejects left that rejection unhandled for a moment.
    await Promise.all(runs.map((run) => expect(run).rejects.toMatchObject({ name: 'AbortError' })));
    limiter.stop();
    expect(ra + rb).toBeGreaterThan(4 * 0.8);
    expect(ra + rb).toBeLessThan(4 * 1.2);
    // Both copies progress: one bucket, drawn by each in turn.
    expect(Math.min(ra, rb)).toBeGreaterThan(0.5);
  });
});
