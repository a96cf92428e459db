// Bandwidth cap (issue 14): the connector's real disk copy (streamDiskToS3, lab vCenter export lease → discarding S3
// sink) through its BandwidthLimiter at several caps, one copy and four copies sharing the cap, each for a fixed time.
// Throughput is the bytes the cap let through (granted minus given back) over the wall time since the first byte was asked for;
// the bucket starts empty, so no start-up burst inflates it. Target: within ±10 % of the cap. An unlimited copy first
// shows the machine's own ceiling (a cap above it cannot be met, and is reported as such).
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { labS3ClientConfig, startS3 } from '../lab/s3/index.ts';
import { startVcsim } from '../lab/vcsim/index.ts';
import { streamDiskToS3 } from '../connector/engine/disk-copy.ts';
import { Vim25Client, type MoRef } from '../connector/vsphere/vim25.ts';
import { BandwidthLimiter, type ByteThrottle } from '../connector/bandwidth/limiter.ts';
import { MB } from '../connector/bandwidth/schedule.ts';
import { writeBandwidth } from '../connector/bandwidth/setting.ts';
import { SqliteStore } from '../connector/store/index.ts';

export interface BandwidthCase {
  capMBps: number | null;
  copies: number;
  seconds: number;
  bytes: number;
  measuredMBps: number;
  /** measured / cap − 1 (absent when unlimited). */
  error?: number;
  load1: number;
}

export interface BandwidthResult {
  cases: BandwidthCase[];
  seconds: number;
}

export interface BandwidthBenchOptions {
  capsMBps: number[];
  copies: number[];
  seconds: number;
}

export const BANDWIDTH_BENCH_FULL: BandwidthBenchOptions = { capsMBps: [2, 10, 50], copies: [1, 4], seconds: 20 };
export const BANDWIDTH_BENCH_SMALL: BandwidthBenchOptions = { capsMBps: [2, 10], copies: [1, 2], seconds: 5 };

export async function benchBandwidth(opts: BandwidthBenchOptions, log: (line: string) => void): Promise<BandwidthResult> {
  const tmp = await mkdtemp(join(os.tmpdir(), 'bench-bw-'));
  const vcsim = await startVcsim({ vms: [{ name: 'bw-bench', disks: [{ capacityMiB: 8192, seed: 40 }] }] });
  const sink = await startS3({ sink: true, hash: false });
  const s3 = new S3Client(labS3ClientConfig(sink));
  const store = new SqliteStore(join(tmp, 'bench.sqlite'), { defaultRegion: 'us-east-1' });
  const admin = (JSON.parse(readFileSync(new URL('../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] }).users[0]!;
  const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
  const cases: BandwidthCase[] = [];
  try {
    await vim.login(admin.name, admin.password);
    await s3.send(new CreateBucketCommand({ Bucket: 'bw' }));
    const vm = (await vim.listVirtualMachines()).find((v) => v.name === 'bw-bench')!;
    const plan: { cap: number | null; copies: number }[] = [{ cap: null, copies: 1 }, ...opts.capsMBps.flatMap((cap) => opts.copies.map((copies) => ({ cap, copies })))];
    let n = 0;
    for (const { cap, copies } of plan) {
      const id = `bench-${n++}`;
      await writeBandwidth(store.settings, id, { capMBps: cap, schedule: [] }, 'bench', new Date());
      const limiter = new BandwidthLimiter({ settings: store.settings, connectorId: async () => id, timeZone: 'UTC' });
      await limiter.start();
      const leases: MoRef[] = [];
      const sources = [];
      for (let i = 0; i < copies; i++) {
        const ref = await vim.exportVm(vm.id);
        leases.push(ref);
        const info = await vim.waitForLease(ref);
        const dev = info.deviceUrl.find((d) => d.disk)!;
        sources.push({ url: vim.resolveDeviceUrl(dev.url), thumbprint: dev.sslThumbprint!, cookie: vim.sessionCookie!, bytes: dev.fileSize! });
      }
      const count: { bytes: number; first?: number } = { bytes: 0 };
      const ac = new AbortController();
      const runs = sources.map((s, i) =>
        streamDiskToS3({ url: s.url, thumbprint: s.thumbprint, cookie: s.cookie }, { s3, bucket: 'bw', key: `${id}-${i}`, expectedBytes: s.bytes }, { signal: ac.signal, throttle: counting(limiter.forTask(`${id}-${i}`), count) }).catch(
          (err: unknown) => {
            if ((err as Error).name !== 'AbortError') throw err;
          },
        ),
      );
      const finished = Promise.all(runs);
      await Promise.race([finished, new Promise((r) => setTimeout(r, opts.seconds * 1000))]);
      const seconds = (performance.now() - (count.first ?? performance.now())) / 1000;
      const bytes = count.bytes;
      ac.abort();
      await finished;
      limiter.stop();
      for (const ref of leases) await vim.leaseAbort(ref, 'bandwidth benchmark').catch(() => undefined);
      const measuredMBps = bytes / seconds / MB;
      const c: BandwidthCase = { capMBps: cap, copies, seconds, bytes, measuredMBps, ...(cap !== null ? { error: measuredMBps / cap - 1 } : {}), load1: os.loadavg()[0] ?? 0 };
      cases.push(c);
      log(`  cap ${cap === null ? 'unlimited' : `${cap} MB/s`}, ${copies} cop${copies === 1 ? 'y' : 'ies'}: ${measuredMBps.toFixed(2)} MB/s${c.error !== undefined ? ` (${(100 * c.error).toFixed(1)} %)` : ''}`);
    }
    return { cases, seconds: opts.seconds };
  } finally {
    await vim.logout().catch(() => undefined);
    vim.close();
    s3.destroy();
    await store.close();
    await sink.stop();
    await vcsim.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Counts the bytes the cap let through, from the first byte asked for (connection set-up is not the cap's). */
function counting(th: ByteThrottle, count: { bytes: number; first?: number }): ByteThrottle {
  return {
    take: (n) => {
      count.first ??= performance.now();
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

export function renderBandwidthSection(r: BandwidthResult): string {
  const ceiling = r.cases.find((c) => c.capMBps === null)?.measuredMBps;
  const lines = [
    '## Bandwidth cap',
    '',
    `The connector's disk copy (\`streamDiskToS3\`, lab vCenter export lease → discarding S3 sink) drawing from one \`BandwidthLimiter\` token bucket, ` +
      `for ${r.seconds} s per case; several copies share the one cap as a connector's running migrations do. Throughput is the bytes the cap let through ` +
      'from the first byte the copies asked for (the bucket starts empty). Target: within ±10 % of the cap. MB = 2^20 bytes.',
    '',
    '| Cap | Copies | Measured | Off by | Load (1 min) |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const c of r.cases) {
    const met =
      c.error === undefined ? '' : judged(c, ceiling) ? (Math.abs(c.error) <= 0.1 ? ' (met)' : ' (missed)') : ` (not judged: the unthrottled copy moved only ${ceiling!.toFixed(1)} MB/s on this machine)`;
    lines.push(`| ${c.capMBps === null ? 'unlimited' : `${c.capMBps} MB/s`} | ${c.copies} | ${c.measuredMBps.toFixed(2)} MB/s | ${c.error === undefined ? '–' : `${(100 * c.error).toFixed(1)} %${met}`} | ${c.load1.toFixed(2)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** A cap can only be checked below what the machine copies without one (with a 10 % margin). */
const judged = (c: BandwidthCase, ceiling: number | undefined): boolean => c.capMBps !== null && (ceiling === undefined || c.capMBps <= ceiling * 0.9);

export function bandwidthHeadline(r: BandwidthResult): string {
  const ceiling = r.cases.find((c) => c.capMBps === null)?.measuredMBps;
  const capped = r.cases.filter((c) => judged(c, ceiling));
  const notJudged = r.cases.filter((c) => c.capMBps !== null && !judged(c, ceiling));
  const worst = capped.reduce((w, c) => Math.max(w, Math.abs(c.error!)), 0);
  const caps = (cs: BandwidthCase[]) => [...new Set(cs.map((c) => c.capMBps))].join(' / ');
  return (
    `Bandwidth cap: measured throughput within ${(100 * worst).toFixed(1)} % of the cap (target ±10 %: ${worst <= 0.1 ? 'met' : 'missed'}) at ${caps(capped)} MB/s, one copy and several sharing it` +
    (notJudged.length ? `; ${caps(notJudged)} MB/s not judged (the unthrottled copy moved ${ceiling!.toFixed(1)} MB/s on this machine).` : '.')
  );
}
