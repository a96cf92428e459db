// Benchmark 1 (issue 7): disk streaming vCenter → S3. For each disk size, in one run and against the same lab vCenter:
// the connector's streamDiskToS3 into a discarding S3 sink, (a) a raw read of the lease URL (the source's limit),
// (b) a raw multipart write of the same byte count to the sink (the sink's limit), (c) download-to-file then upload
// (staged), and the connector against s3rver. Each contender runs in its own process (bench/disk-worker.ts) on a
// fresh export lease, so its peak RSS and CPU time are its own.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startS3, type S3Handle } from '../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../lab/vcsim/index.ts';
import { partSizeFor } from '../connector/engine/disk-copy.ts';
import { CONNECTOR_NODE_FLAGS } from '../connector/node-flags.ts';
import { Vim25Client } from '../connector/vsphere/vim25.ts';
import type { WorkerJob, WorkerMode, WorkerResult } from './disk-worker.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export type ContenderId = 'connector' | 'read' | 'read-https' | 'write' | 'staged' | 'connector-s3rver';

export const CONTENDERS: Record<ContenderId, string> = {
  connector: 'Connector `streamDiskToS3` → S3 sink (through its bandwidth limiter, no cap set)',
  read: '(a) Raw read of the lease URL to nothing (source limit; the connector\'s reader)',
  'read-https': '(a′) Same read with node:https (a plain Node client, for comparison)',
  write: '(b) Raw multipart write to the S3 sink (sink limit)',
  staged: '(c) Staged: download to a local file, then upload it (lib-storage)',
  'connector-s3rver': 'Connector `streamDiskToS3` → s3rver (writes to disk)',
};

export interface ContenderResult {
  id: ContenderId;
  bytes: number;
  ms: number;
  mbps: number;
  maxRssBytes: number;
  /** CPU seconds of the contender's process, of the lab vCenter, and of the S3 endpoint's process. */
  cpuS: number;
  sourceCpuS: number;
  sinkCpuS: number;
  downloadMs?: number;
  uploadMs?: number;
  /** 1-minute load average when the contender finished (other work on the machine). */
  load1: number;
}

export interface SizeResult {
  sizeGiB: number;
  /** Bytes of the stream-optimized VMDK the lease serves. */
  bytes: number;
  partSize: number;
  contenders: ContenderResult[];
  skipped: { id: ContenderId; why: string }[];
}

export interface DiskResult {
  sizes: SizeResult[];
  /** How the processes were placed on CPUs, when pinned. */
  pinned?: string;
  queueSize: number;
  loadBefore: string;
  loadAfter: string;
  tookMs: number;
  cores: number;
}

export interface DiskBenchOptions {
  sizesGiB: number[];
  /** Parts in flight (the engine's default is 2). */
  queueSize?: number;
  /** Run the connector against s3rver up to this size (s3rver writes every byte to disk); default 1. */
  s3rverUpToGiB?: number;
  /** Run the baselines (a)–(c) up to this size; default: every size. */
  baselinesUpToGiB?: number;
  /** Where the staged contender writes its file; default the OS temp directory. */
  tmpDir?: string;
  /** Run only these contenders (for profiling one of them). */
  only?: ContenderId[];
  /** Pin each contender to CPU 0 and the lab vCenter and the S3 endpoints (this process) to the other CPUs (taskset). */
  pin?: boolean;
}

/**
 * What `npm run bench` should run. Full: every contender at 1 and 10 GiB, the connector alone at 50 GiB (the four
 * baselines at 50 GiB would move 250 GiB and cannot fit the 8-minute budget on 2 cores; measured 2026-11-26 at
 * 60–170 MB/s per contender on the shared machine). Small: 1 GiB, every contender.
 */
export const DISK_BENCH_FULL: DiskBenchOptions = { sizesGiB: [1, 10, 50], baselinesUpToGiB: 10 };
export const DISK_BENCH_SMALL: DiskBenchOptions = { sizesGiB: [1] };

const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

/** utime + stime of a process in seconds (Linux /proc). */
async function processCpuS(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5)), in USER_HZ (100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const selfCpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function runWorker(job: WorkerJob, cpus?: string): Promise<WorkerResult> {
  // DISK_WORKER_CPU_PROF=<dir>: write a CPU profile of every contender (to find the cause of a miss).
  const prof = process.env.DISK_WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DISK_WORKER_CPU_PROF}`] : [];
  // Every contender runs under the connector's own V8 flags, so RSS and CPU are the connector's as deployed.
  const node = [process.execPath, ...CONNECTOR_NODE_FLAGS, ...prof, '--import', 'tsx', join(import.meta.dirname, 'disk-worker.ts')];
  const [command, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(command!, args, {
    env: { ...process.env, DISK_WORKER: JSON.stringify(job), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-8000)));
  return new Promise((resolve, reject) => {
    let result: WorkerResult | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) result = JSON.parse(line) as WorkerResult;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`disk bench worker (${job.mode}) exited with ${code}: ${stderr.trim()}`));
    });
  });
}

const vmName = (g: number): string => `bench-disk-${String(g).replace('.', '_')}g`;

export async function benchDisk(opts: DiskBenchOptions, log: (line: string) => void): Promise<DiskResult> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const queueSize = opts.queueSize ?? 2;
  const tmp = await mkdtemp(join(opts.tmpDir ?? os.tmpdir(), 'bench-disk-'));
  const stops: (() => Promise<unknown>)[] = [() => rm(tmp, { recursive: true, force: true })];
  const sizes: SizeResult[] = [];
  let pinnedText: string | undefined;
  try {
    // One powered-off VM per benchmark size.
    const vcsim: VcsimHandle = await startVcsim({ vms: opts.sizesGiB.map((g, i) => ({ name: vmName(g), disks: [{ capacityMiB: Math.round(g * 1024), seed: 20 + i }] })) });
    stops.push(() => vcsim.stop());
    const sink = await startS3({ sink: true, hash: false });
    stops.push(() => sink.stop());
    const maxS3rver = opts.s3rverUpToGiB ?? 1;
    let s3rver: S3Handle | undefined;
    if (opts.sizesGiB.some((g) => g <= maxS3rver)) {
      s3rver = await startS3();
      stops.push(() => s3rver!.stop());
    }
    let pinned: { contender: string; rest: string } | undefined;
    if (opts.pin) {
      const cores = os.availableParallelism();
      if (cores < 2) throw new Error('--pin needs at least 2 CPUs');
      pinned = { contender: '0', rest: cores === 2 ? '1' : `1-${cores - 1}` };
      // -a: every thread (vcsim's Go runtime, this process's libuv pool).
      for (const pid of [vcsim.pid, process.pid]) execFileSync('taskset', ['-a', '-p', '-c', pinned.rest, String(pid)], { stdio: 'ignore' });
      stops.push(async () => execFileSync('taskset', ['-a', '-p', '-c', `0-${cores - 1}`, String(process.pid)], { stdio: 'ignore' }));
      pinnedText = `contender on CPU ${pinned.contender}; lab vCenter and the S3 endpoints on CPU ${pinned.rest} (taskset)`;
    }
    const admin = (JSON.parse(readFileSync(new URL('../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] }).users[0]!;
    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vim.login(admin.name, admin.password);
    stops.push(() => vim.logout());
    const vms = await vim.listVirtualMachines();

    for (const sizeGiB of opts.sizesGiB) {
      const vm = vms.find((v) => v.name === vmName(sizeGiB));
      if (!vm) throw new Error(`the bench inventory has no VM ${vmName(sizeGiB)}`);
      const size: SizeResult = { sizeGiB, bytes: 0, partSize: 0, contenders: [], skipped: [] };
      sizes.push(size);
      const baselines = sizeGiB <= (opts.baselinesUpToGiB ?? Number.POSITIVE_INFINITY);
      const plan: ContenderId[] = ['connector', ...(baselines ? (['read', 'read-https', 'write', 'staged'] as const) : []), ...(s3rver && sizeGiB <= maxS3rver ? (['connector-s3rver'] as const) : [])];
      if (opts.only) plan.splice(0, plan.length, ...plan.filter((id) => opts.only!.includes(id)));
      if (!baselines) {
        for (const id of ['read', 'read-https', 'write', 'staged'] as const) size.skipped.push({ id, why: `not run above ${opts.baselinesUpToGiB} GiB (time budget)` });
      }
      for (const id of plan) {
        // A fresh lease per contender: lease URLs are single-use on some hosts.
        const lease = await vim.exportVm(vm.id);
        let ok = false;
        try {
          const info = await vim.waitForLease(lease);
          const dev = info.deviceUrl.find((d) => d.disk);
          if (!dev?.fileSize) throw new Error(`the export lease of ${vm.name} has no disk URL with a size`);
          size.bytes = dev.fileSize;
          size.partSize = partSizeFor(dev.fileSize);
          if (id === 'staged') {
            const free = await statfs(tmp);
            const avail = free.bavail * free.bsize;
            if (avail < dev.fileSize + 2 * GiB) {
              size.skipped.push({ id, why: `only ${(avail / GiB).toFixed(1)} GiB free in ${tmp} for a ${(dev.fileSize / GiB).toFixed(1)} GiB staging file` });
              ok = true;
              continue;
            }
          }
          const endpoint = id === 'connector-s3rver' ? s3rver! : sink;
          const mode: WorkerMode = id === 'connector-s3rver' ? 'connector' : id;
          const job: WorkerJob = {
            mode,
            url: vim.resolveDeviceUrl(dev.url),
            ...(dev.sslThumbprint ? { thumbprint: dev.sslThumbprint } : {}),
            ...(vim.sessionCookie ? { cookie: vim.sessionCookie } : {}),
            bytes: dev.fileSize,
            s3: { endpoint: endpoint.url, accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.secretAccessKey },
            bucket: 'bench',
            key: `${vm.name}-${id}.vmdk`,
            partSize: size.partSize,
            queueSize,
            ...(id === 'staged' ? { file: join(tmp, `${vm.name}.vmdk`) } : {}),
          };
          const src0 = await processCpuS(vcsim.pid);
          const sink0 = selfCpuS();
          const r = await runWorker(job, pinned?.contender);
          const sourceCpuS = mode === 'write' ? 0 : (await processCpuS(vcsim.pid)) - src0;
          // The sink and s3rver run in this process, which does nothing else meanwhile.
          const sinkCpuS = mode === 'read' || mode === 'read-https' ? 0 : selfCpuS() - sink0;
          if (r.bytes !== dev.fileSize) throw new Error(`${id} moved ${r.bytes} bytes, the lease announced ${dev.fileSize}`);
          const c: ContenderResult = {
            id,
            bytes: r.bytes,
            ms: r.ms,
            mbps: r.bytes / 1e6 / (r.ms / 1000),
            maxRssBytes: r.maxRssBytes,
            cpuS: r.cpuMs / 1000,
            sourceCpuS,
            sinkCpuS,
            load1: os.loadavg()[0] ?? 0,
            ...(r.downloadMs !== undefined ? { downloadMs: r.downloadMs } : {}),
            ...(r.uploadMs !== undefined ? { uploadMs: r.uploadMs } : {}),
          };
          size.contenders.push(c);
          log(
            `  ${sizeGiB} GiB ${id}: ${c.mbps.toFixed(0)} MB/s, ${(c.ms / 1000).toFixed(1)} s, peak RSS ${(c.maxRssBytes / MiB).toFixed(0)} MiB, ` +
              `CPU ${c.cpuS.toFixed(1)} s (vCenter ${c.sourceCpuS.toFixed(1)} s, S3 ${c.sinkCpuS.toFixed(1)} s), load ${loadAverage()}`,
          );
          ok = true;
        } finally {
          if (ok) await vim.leaseComplete(lease).catch(() => undefined);
          else await vim.leaseAbort(lease, 'disk benchmark failed').catch(() => undefined);
        }
      }
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
  return {
    sizes,
    ...(pinnedText ? { pinned: pinnedText } : {}),
    queueSize,
    loadBefore,
    loadAfter: loadAverage(),
    tookMs: performance.now() - started,
    cores: os.availableParallelism(),
  };
}
