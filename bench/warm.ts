// Benchmark 5 (issue 13): warm migration against Migrate now, side by side in one run on the same lab VM (a powered-on
// VM with one disk, 10 GiB in the full run). One engine built by createEngine as the connector builds it, in this
// process; the lab S3 and the EC2 emulator (with the EBS direct APIs) run in a child process (bench/warm-aws.ts) and
// vcsim in its own, so this process's memory is the connector's. Between cycles the benchmark changes a fixed share
// of the disk's 512 KiB blocks through the lab vCenter (whole blocks), and measures:
//  - bytes each cycle sent ÷ bytes changed (target ≤ 1.05),
//  - the connector's RSS while it replicates (target flat, < 300 MiB),
//  - cutover downtime warm (source powered off → instance launched) against cold (the whole Migrate now migration:
//    its point in time → instance launched), both without the EC2 emulator's scaled import stages (target ≤ 10 %).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ConnectorConfig, type ConnectorConfigInput } from '../connector/config.ts';
import { createEngine } from '../connector/engine/factory.ts';
import { SqliteMigrationTasks } from '../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord, MigrationSubmission } from '../connector/engine/types.ts';
import type { MigrationPhase, MigrationState } from '../connector/contract/index.ts';
import { powerOff } from '../connector/vsphere/cbt.ts';
import { Vim25Client } from '../connector/vsphere/vim25.ts';
import { startVcsim } from '../lab/vcsim/index.ts';
import { machine } from './machine.ts';
import { ObservedTasks } from './observed-tasks.ts';
import { peakRssBytes } from './peak-rss.ts';
import type { WarmAwsReady, WarmAwsStats } from './warm-aws.ts';

const MiB = 1024 * 1024;
const BLOCK = 512 * 1024;
const REGION = 'us-east-1';
const TERMINAL: readonly MigrationState[] = ['completed', 'failed', 'cancelled'];
const CREDENTIALS = { accessKeyId: 'lab', secretAccessKey: 'lab' };
const VM_NAME = 'bench-warm-01';

export interface WarmBenchOptions {
  diskGiB: number;
  /** Share of the disk's 512 KiB blocks changed before each cycle (and before the cutover). */
  changedFraction: number;
  /** Replication cycles after the initial sync, before the cutover. */
  cycles: number;
  /** EC2 emulator stage length (an import is 5 stages); default 200 ms. */
  stageMs?: number;
  /** `engine.warmMinuteMs`: one minute of the replication interval, in ms; default 2,000 (the 5-minute interval = 10 s). */
  minuteMs?: number;
  /** Give up after this long; default 45 min. */
  timeoutMs?: number;
}

export const WARM_BENCH_FULL: WarmBenchOptions = { diskGiB: 10, changedFraction: 0.02, cycles: 3 };
export const WARM_BENCH_SMALL: WarmBenchOptions = { diskGiB: 1, changedFraction: 0.02, cycles: 2 };

export interface WarmCycleResult {
  n: number;
  /** Bytes the benchmark overwrote before this cycle (whole 512 KiB blocks). */
  changedBytes: number;
  /** What the engine recorded for the cycle: vCenter's changed areas, and the bytes it sent to EBS. */
  recordedChangedBytes: number;
  sentBytes: number;
  /** PutSnapshotBlock calls the emulator accepted during the cycle. */
  putCalls: number;
  seconds: number;
  peakRssMiB: number;
}

export interface DowntimeResult {
  /** ms: from the start point (warm: source powered off; cold: the migration started) to the instance ID first stored. */
  totalMs: number;
  /** ms the task spent in the importing phase (ImportImage and the emulator's scaled stages, polled by the engine). */
  importMs: number;
  /** totalMs − importMs. */
  withoutImportMs: number;
  /** ms per phase, in order. */
  phases: { phase: MigrationPhase; ms: number }[];
}

export interface WarmResult {
  opts: Required<WarmBenchOptions>;
  diskBytes: number;
  initialSync: { seconds: number; sentBytes: number; putCalls: number; peakRssMiB: number };
  cycles: WarmCycleResult[];
  finalCycle?: { changedBytes: number; sentBytes: number; putCalls: number };
  warm: DowntimeResult & { engineDowntimeSeconds?: number; imagePath?: string; state: MigrationState; error?: string };
  cold: DowntimeResult & { state: MigrationState; error?: string };
  /** Peak RSS of this process (the connector) at the end of replication (VmHWM, since it started) and the RSS samples' spread. */
  rss: {
    hwmAfterReplicationMiB: number;
    initialSyncPeakMiB: number;
    cyclesPeakMiB: number;
    beforeStartMiB: number;
    /** process.memoryUsage() at the highest RSS sample while replicating, MiB: what of it V8 and ArrayBuffers held. */
    atPeak?: { rssMiB: number; heapTotalMiB: number; heapUsedMiB: number; arrayBuffersMiB: number };
    /** The V8 flags this process ran with (connector/node-flags.ts). */
    nodeFlags?: string[];
  };
  leftovers: { vcenterSnapshots: number; ebsSnapshots: { id: string; status: string }[] };
  cpuSeconds: { connector: number; aws: number };
  loadBefore: string;
  loadAfter: string;
  cores: number;
  tookSeconds: number;
}

/** When each task first reached each phase and first held its instance ID, from the task store's writes. */
class WriteTimes {
  readonly phaseAt = new Map<string, Map<MigrationPhase, number>>();
  readonly instanceAt = new Map<string, number>();
  seen(t: MigrationRecord): void {
    const now = Date.now();
    let phases = this.phaseAt.get(t.id);
    if (!phases) this.phaseAt.set(t.id, (phases = new Map()));
    if (!phases.has(t.phase)) phases.set(t.phase, now);
    if (t.instanceId && !this.instanceAt.has(t.id)) this.instanceAt.set(t.id, now);
  }
}

/** The lab S3 and EC2 emulator in a child process, with a request/answer channel for the emulator's counters. */
async function startAwsChild(stageMs: number): Promise<{ ready: WarmAwsReady; stats(): Promise<WarmAwsStats>; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'warm-aws.ts')], {
    env: { ...process.env, WARM_AWS: JSON.stringify({ stageMs, regions: [REGION] }), NODE_NO_WARNINGS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = new Map<number, (v: { result?: WarmAwsStats; error?: string }) => void>();
  let nextId = 1;
  const ready = await new Promise<WarmAwsReady>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (line.startsWith('READY ')) resolve(JSON.parse(line.slice(6)) as WarmAwsReady);
      else if (line.startsWith('{')) {
        const a = JSON.parse(line) as { id: number; result?: WarmAwsStats; error?: string };
        waiting.get(a.id)?.(a);
        waiting.delete(a.id);
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the lab AWS process exited with ${code} before it was ready`)));
  });
  return {
    ready,
    stats: () =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, (a) => (a.result ? resolve(a.result) : reject(new Error(a.error ?? 'no answer'))));
        child.stdin!.write(`${JSON.stringify({ id, op: 'stats' })}\n`);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `count` distinct random indexes below `total`. */
function pick(total: number, count: number): number[] {
  const s = new Set<number>();
  while (s.size < Math.min(total, count)) s.add(Math.floor(Math.random() * total));
  return [...s].sort((a, b) => a - b);
}

function downtime(tasks: WriteTimes, rec: MigrationRecord, startMs: number): DowntimeResult {
  const phases = [...(tasks.phaseAt.get(rec.id) ?? new Map<MigrationPhase, number>())].sort((a, b) => a[1] - b[1]);
  const end = tasks.instanceAt.get(rec.id) ?? Number.NaN;
  const importStart = tasks.phaseAt.get(rec.id)?.get('importing');
  const afterImport = phases.find(([p, at]) => importStart !== undefined && at > importStart && p !== 'importing')?.[1];
  const importMs = importStart !== undefined && afterImport !== undefined ? Math.min(afterImport, end) - importStart : 0;
  const inWindow = phases.filter(([, at]) => at <= end);
  return {
    totalMs: end - startMs,
    importMs,
    withoutImportMs: end - startMs - importMs,
    phases: inWindow.map(([phase, at], i) => ({ phase, ms: (inWindow[i + 1]?.[1] ?? end) - Math.max(at, startMs) })).filter((p) => p.ms > 0),
  };
}

export async function benchWarm(input: WarmBenchOptions, log: (line: string) => void): Promise<WarmResult> {
  const opts: Required<WarmBenchOptions> = { stageMs: 200, minuteMs: 2_000, timeoutMs: 45 * 60_000, ...input };
  const t0 = Date.now();
  const loadBefore = machine().loadAverage;
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`  teardown: ${String(err)}`));
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'vm2ec2-bench-warm-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const admin = (JSON.parse(readFileSync(new URL('../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] }).users[0]!;

    log(`  starting vcsim (one powered-on VM, ${opts.diskGiB} GiB disk), S3 and the EC2 emulator (stage ${opts.stageMs} ms) in a child process`);
    const vcsim = await startVcsim({ vms: [{ name: VM_NAME, powerState: 'poweredOn', disks: [{ capacityMiB: opts.diskGiB * 1024, seed: 31 }] }] });
    stops.push(() => vcsim.stop());
    const aws = await startAwsChild(opts.stageMs);
    stops.push(() => aws.stop());

    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vim.login(admin.name, admin.password);
    stops.push(() => vim.logout());
    const vmRef = (await vim.listVirtualMachines()).find((v) => v.name === VM_NAME);
    if (!vmRef) throw new Error(`the benchmark vCenter has no VM ${VM_NAME}`);
    const vm = await vim.getVirtualMachine(vmRef.id);
    const disk = vm.disks[0];
    if (!disk) throw new Error(`${VM_NAME} has no disk`);
    const totalBlocks = Math.floor(disk.capacityBytes / BLOCK);
    const perCycle = Math.max(1, Math.round(totalBlocks * opts.changedFraction));

    const ec2 = new EC2Client({ region: REGION, endpoint: aws.ready.ec2Url, credentials: { ...CREDENTIALS } });
    stops.push(async () => ec2.destroy());
    const subnet = ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [])[0];
    if (!subnet?.SubnetId || !subnet.VpcId) throw new Error(`the EC2 emulator has no subnet in ${REGION}`);
    const sg = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [subnet.VpcId] }] }))).SecurityGroups?.[0];
    if (!sg?.GroupId) throw new Error(`the EC2 emulator has no security group in ${subnet.VpcId}`);

    const configInput = {
      dataDir: dir,
      vcenter: { url: new URL(vcsim.sdkUrl).origin, caPem: vcsim.certPem },
      aws: { endpoint: aws.ready.ec2Url, ebsEndpoint: aws.ready.ebsUrl, regions: [REGION], credentials: { ...CREDENTIALS } },
      engine: {
        s3Endpoint: aws.ready.s3.url,
        s3Credentials: { accessKeyId: aws.ready.s3.accessKeyId, secretAccessKey: aws.ready.s3.secretAccessKey },
        vcenterAccount: { userName: admin.name, password: admin.password },
        leaseKeepAliveMs: 1_000,
        pollMs: 20,
        pollMaxMs: 80,
        warmMinuteMs: opts.minuteMs,
        powerOffPollMs: 50,
      },
    } satisfies ConnectorConfigInput;
    const config = ConnectorConfig.parse(configInput);
    const store = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
    stops.push(async () => await store.close());
    const times = new WriteTimes();
    const built = createEngine(config, { vcenter: { sdkUrl: vcsim.sdkUrl, caPem: vcsim.certPem }, ec2: () => ec2, awsCredentials: { ...CREDENTIALS } }, { tasks: new ObservedTasks(store, (t) => times.seen(t)) });
    stops.push(() => built.close());

    // RSS samples, labelled with what the engine is doing.
    let stage = 'start';
    const peaks = new Map<string, number>();
    const highest: { m?: NodeJS.MemoryUsage } = {};
    const sample = () => {
      const m = process.memoryUsage();
      peaks.set(stage, Math.max(peaks.get(stage) ?? 0, m.rss));
      if ((stage === 'initial-sync' || stage.startsWith('cycle ')) && m.rss > (highest.m?.rss ?? 0)) highest.m = m;
    };
    sample();
    const beforeStart = process.memoryUsage().rss;
    const rssTimer = setInterval(sample, 100);
    stops.push(async () => clearInterval(rssTimer));
    const cpu0 = process.cpuUsage();
    const awsCpu0 = (await aws.stats()).cpuSeconds;

    const deadline = Date.now() + opts.timeoutMs;
    const waitFor = async (id: string, what: string, ok: (r: MigrationRecord) => boolean): Promise<MigrationRecord> => {
      for (;;) {
        const r = await store.get(id);
        if (r && ok(r)) return r;
        if (r && TERMINAL.includes(r.state)) throw new Error(`${what}: the migration ended ${r.state}${r.error ? `: ${r.error}` : ''}`);
        if (Date.now() > deadline) throw new Error(`${what}: not reached within ${opts.timeoutMs / 1000} s (phase ${r?.phase}, state ${r?.state})`);
        await sleep(25);
      }
    };
    const changeBlocks = async (seed: number): Promise<number> => {
      for (const b of pick(totalBlocks, perCycle)) await vcsim.writeDisk(vm.id, disk.key, { offset: b * BLOCK, length: BLOCK, seed });
      return perCycle * BLOCK;
    };

    await built.engine.start();
    const base: MigrationSubmission = {
      environmentId: 'env-bench',
      region: REGION,
      vmId: vm.id,
      vmName: VM_NAME,
      platform: 'Linux',
      subnetId: subnet.SubnetId,
      instanceType: 't3.micro',
      securityGroupIds: [sg.GroupId],
      requestedBy: admin.name,
    };

    // ---- warm: initial sync, cycles with known changes, cutover ----
    log(`  warm: initial sync of ${opts.diskGiB} GiB`);
    stage = 'initial-sync';
    const put0 = (await aws.stats()).putBlockCalls;
    const syncStart = Date.now();
    // The lab's VMs run no VMware Tools, so the cutover is the form's "I will power off the VM myself": the benchmark powers
    // it off right after asking for the cutover, and the downtime counts from that request to vCenter.
    const warmId = (await built.engine.submit({ ...base, mode: 'warm', replicationIntervalMinutes: 5, cutoverShutdown: 'user' })).id;
    let rec = await waitFor(warmId, 'initial sync', (r) => (r.warm?.cycles ?? 0) >= 1 && !r.warm?.cycle);
    const put1 = (await aws.stats()).putBlockCalls;
    const initialSync = { seconds: (Date.now() - syncStart) / 1000, sentBytes: rec.warm?.lastCycleSentBytes ?? 0, putCalls: put1 - put0, peakRssMiB: (peaks.get('initial-sync') ?? 0) / MiB };
    log(`  initial sync: ${initialSync.seconds.toFixed(1)} s, ${initialSync.putCalls} blocks, peak RSS ${initialSync.peakRssMiB.toFixed(0)} MiB`);

    const cycles: WarmCycleResult[] = [];
    for (let i = 0; i < opts.cycles; i++) {
      const n = (rec.warm?.cycles ?? 0) + 1;
      stage = `cycle ${n}`;
      const changed = await changeBlocks(1000 + n);
      const before = (await aws.stats()).putBlockCalls;
      const started = Date.now();
      rec = await waitFor(warmId, `cycle ${n}`, (r) => (r.warm?.cycles ?? 0) >= n && !r.warm?.cycle);
      const after = (await aws.stats()).putBlockCalls;
      const c: WarmCycleResult = {
        n,
        changedBytes: changed,
        recordedChangedBytes: rec.warm?.lastCycleChangedBytes ?? 0,
        sentBytes: rec.warm?.lastCycleSentBytes ?? 0,
        putCalls: after - before,
        seconds: (Date.now() - started) / 1000,
        peakRssMiB: (peaks.get(stage) ?? 0) / MiB,
      };
      cycles.push(c);
      log(`  cycle ${n}: changed ${(c.changedBytes / MiB).toFixed(0)} MiB, sent ${(c.sentBytes / MiB).toFixed(0)} MiB (${c.putCalls} blocks), peak RSS ${c.peakRssMiB.toFixed(0)} MiB`);
    }
    const hwmAfterReplication = peakRssBytes();
    const atPeak = highest.m;

    log('  warm: changing blocks once more, then Cut over');
    stage = 'cutover';
    const finalChanged = await changeBlocks(9999);
    const putBeforeCutover = (await aws.stats()).putBlockCalls;
    const cyclesBeforeCutover = rec.warm?.cycles ?? 0;
    await built.engine.cutover(warmId, admin.name);
    const powerOffAt = Date.now();
    await powerOff(vim, vm.id);
    rec = await waitFor(warmId, 'warm cutover', (r) => {
      if (!r.warm?.cutover && r.warning?.startsWith('Cut over')) throw new Error(`the cutover was refused: ${r.warning}`);
      return TERMINAL.includes(r.state);
    });
    const putAfterCutover = (await aws.stats()).putBlockCalls;
    const warm = {
      ...downtime(times, rec, powerOffAt),
      state: rec.state,
      ...(rec.error ? { error: rec.error } : {}),
      ...(rec.warm?.imagePath ? { imagePath: rec.warm.imagePath } : {}),
      ...(rec.warm?.cutover?.sourcePoweredOffAt && rec.warm.cutover.instanceLaunchedAt
        ? { engineDowntimeSeconds: (Date.parse(rec.warm.cutover.instanceLaunchedAt) - Date.parse(rec.warm.cutover.sourcePoweredOffAt)) / 1000 }
        : {}),
    };
    const finalCycle = (rec.warm?.cycles ?? 0) > cyclesBeforeCutover ? { changedBytes: finalChanged, sentBytes: rec.warm?.lastCycleSentBytes ?? 0, putCalls: putAfterCutover - putBeforeCutover } : undefined;
    log(`  warm ${rec.state}: downtime ${(warm.totalMs / 1000).toFixed(2)} s, of it importing ${(warm.importMs / 1000).toFixed(2)} s`);

    const vcenterSnapshots = (await vim.getVirtualMachine(vm.id)).snapshotCount;
    const ebsLeft = (await aws.stats()).snapshots.map((s) => ({ id: s.id, status: s.status }));

    // ---- cold: Migrate now on the same VM (now powered off by the cutover) ----
    log(`  cold: Migrate now of the same ${opts.diskGiB} GiB disk`);
    stage = 'cold';
    const coldId = (await built.engine.submit({ ...base, mode: 'cold' })).id;
    let coldRec = await waitFor(coldId, 'cold migration', (r) => TERMINAL.includes(r.state));
    coldRec = await store.get(coldId) ?? coldRec;
    const coldStart = coldRec.startedAt ? Date.parse(coldRec.startedAt) : (times.phaseAt.get(coldId)?.get('exporting') ?? Number.NaN);
    const cold = { ...downtime(times, coldRec, coldStart), state: coldRec.state, ...(coldRec.error ? { error: coldRec.error } : {}) };
    log(`  cold ${coldRec.state}: ${(cold.totalMs / 1000).toFixed(2)} s, of it importing ${(cold.importMs / 1000).toFixed(2)} s`);

    const cpu = process.cpuUsage(cpu0);
    const awsCpu = (await aws.stats()).cpuSeconds - awsCpu0;
    const cyclePeaks = [...peaks].filter(([k]) => k.startsWith('cycle ')).map(([, v]) => v);
    const m = machine();
    return {
      opts,
      diskBytes: disk.capacityBytes,
      initialSync,
      cycles,
      ...(finalCycle ? { finalCycle } : {}),
      warm,
      cold,
      rss: {
        hwmAfterReplicationMiB: hwmAfterReplication / MiB,
        initialSyncPeakMiB: (peaks.get('initial-sync') ?? 0) / MiB,
        cyclesPeakMiB: Math.max(0, ...cyclePeaks) / MiB,
        beforeStartMiB: beforeStart / MiB,
        ...(atPeak
          ? { atPeak: { rssMiB: atPeak.rss / MiB, heapTotalMiB: atPeak.heapTotal / MiB, heapUsedMiB: atPeak.heapUsed / MiB, arrayBuffersMiB: atPeak.arrayBuffers / MiB } }
          : {}),
        nodeFlags: process.execArgv.filter((a) => a.startsWith('--max-') || a.startsWith('--v8-')),
      },
      leftovers: { vcenterSnapshots, ebsSnapshots: ebsLeft },
      cpuSeconds: { connector: (cpu.user + cpu.system) / 1e6, aws: awsCpu },
      loadBefore,
      loadAfter: m.loadAverage,
      cores: m.cores,
      tookSeconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await stopAll();
  }
}
