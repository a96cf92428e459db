// Benchmark 4: the scheduler at scale, on both store backends in one run. SQLite: N migrations submitted at once to
// one engine (built by createEngine as the connector builds it, scheduling through the store's claims as the connector
// does) in this process. PostgreSQL: the same N over a fleet of connector processes sharing one database, one of them
// SIGKILLed mid-run (bench/scheduler-fleet.ts). Both against vcsim, the lab S3 and the EC2 emulator on a fast clock
// (bench/scheduler-lab.ts), spread over several regions; limits are observed from outside the engines.
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ConnectorConfig, type ConnectorConfigInput } from '../connector/config.ts';
import { createEngine } from '../connector/engine/factory.ts';
import { SqliteMigrationTasks } from '../connector/store/sqlite/migration-tasks.ts';
import type { MigrationState } from '../connector/contract/index.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';
import { machine } from './machine.ts';
import { observeFleetTasks } from './observed-fleet-tasks.ts';
import { clock, Observer, TERMINAL } from './scheduler-observer.ts';
import { CREDENTIALS, distribution, processCpuSeconds, startSchedulerLab, type Audit, type Distribution, type SchedulerLab } from './scheduler-lab.ts';

export type { Distribution } from './scheduler-lab.ts';

export interface SchedulerOptions {
  migrations: number;
  /** Regions the migrations are spread over round-robin; default the emulator's three. */
  regions?: string[];
  /** Each engine's per-connector limit (`engine.maxRunning`); default 8 alone, 4 per connector in a fleet. */
  maxRunning?: number;
  /** The per-region import limit (engine and EC2's quota); default 2, so it binds below the running tasks. */
  maxImportsPerRegion?: number;
  /** The EC2 emulator's stage length (an import is 5 stages, an instance start and stop 2); default 20 ms. */
  stageMs?: number;
  /** The engine's EC2 poll interval (first and longest); default 20 / 80 ms (one poll per emulator stage). */
  pollMs?: number;
  pollMaxMs?: number;
  /** Inventory VMs (powered off, one disk each of 1–2 MiB), at least one per migration. Default: one per migration. */
  vms?: number;
  /** Give up waiting after this long (tasks still open are reported as lost); default 10 min. */
  timeoutMs?: number;
  /** Fleet only: connector processes (default 3), their lease and heartbeat (3 s, 500 ms), their store poll (1 s, the connector's). */
  connectors?: number;
  leaseMs?: number;
  heartbeatMs?: number;
  fleetPollMs?: number;
  /** Fleet only: one connector is SIGKILLed once this share of the migrations has ended (default 0.3; 0: none). */
  killAt?: number;
}

/** After the SIGKILL of one fleet connector: from its last heartbeat to a peer owning (and then writing) its tasks. */
export interface Takeover {
  killed: string;
  /** Migrations ended when it was killed. */
  atTerminal: number;
  /** Its running tasks at the kill. */
  tasks: number;
  /** Taken over by a peer, and of those ended completed. */
  takenOver: number;
  completedOnPeers: number;
  leaseMs: number;
  /** Last heartbeat → a peer owns the task (store), first and last of its tasks. */
  firstMs: number;
  lastMs: number;
  /** Last heartbeat → the peer's first write of the task (it runs it), first and last. */
  firstWriteMs: number;
  lastWriteMs: number;
}

export interface SchedulerResult extends Audit {
  backend: 'sqlite' | 'postgres';
  /** Connector processes sharing the store (1 on SQLite). */
  connectors: number;
  opts: Required<SchedulerOptions>;
  submitted: number;
  /** Tasks started by a claim from the store (adoptOrClaim), as the connector schedules; all of them but any resumed. */
  claims: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Not terminal when the run ended (must be 0). */
  lost: number;
  /** Distinct failure messages with counts. */
  errors: { message: string; count: number }[];
  /** The most running at once on one connector. */
  maxRunningObserved: number;
  runningViolations: number;
  /** Of the connector violations, those a takeover caused (the peer resumed more tasks than it had slots free). */
  takeoverViolations: number;
  /** Per region: the most EC2 import tasks active at once, seen in the emulator. */
  maxImportsObserved: Record<string, number>;
  importViolations: number;
  /** Free connector slot → that connector's next queued task started, each freed slot matched FIFO with the next start. */
  slotDelayMs: Distribution;
  /** The same starts measured from the most recent release (≤ the FIFO figure). */
  slotDelayRecentMs: Distribution;
  /** Free import slot in a region with a task waiting → that region's next ImportImage. */
  importSlotDelayMs: Distribution;
  /** Time spent in submit(): the whole burst, and the slowest single call. */
  submitTotalMs: number;
  submitMaxMs: number;
  submitP99Ms: number;
  /** First submit → last task terminal. */
  wallSeconds: number;
  tasksPerSecond: number;
  /** Peak RSS of the process holding the engine (in a fleet: the largest connector process). */
  peakRssMiB: number;
  /** CPU seconds from first submit to the end: this process (S3, EC2 emulator; alone also the engine), connector processes, vcsim. */
  cpuSeconds: { bench: number; connectors: number; vcsim: number };
  /** Event-loop delay of the engine's process (in a fleet: the worst connector), ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  takeover?: Takeover;
  loadBefore: string;
  loadAfter: string;
  cores: number;
}

export type BackendRun = SchedulerResult | { backend: 'sqlite' | 'postgres'; notMeasured: string };
export interface SchedulerRuns {
  sqlite: BackendRun;
  postgres: BackendRun;
}

const ALL_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
export const LOOP_RESOLUTION_MS = 10;
/** The histogram records the time between its timer's runs, so its own period is taken off. */
export const lag = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);

export function schedulerOptions(input: SchedulerOptions, fleet: boolean): Required<SchedulerOptions> {
  const opts: Required<SchedulerOptions> = {
    regions: ALL_REGIONS,
    maxRunning: fleet ? 4 : 8,
    maxImportsPerRegion: 2,
    stageMs: 20,
    pollMs: 20,
    pollMaxMs: 80,
    vms: input.migrations,
    timeoutMs: 600_000,
    connectors: fleet ? 3 : 1,
    leaseMs: 3_000,
    heartbeatMs: 500,
    fleetPollMs: 1_000,
    killAt: fleet ? 0.3 : 0,
    ...input,
  };
  if (opts.vms < opts.migrations) throw new Error(`${opts.migrations} migrations need as many VMs (a VM has one active migration at a time); vms is ${opts.vms}`);
  return opts;
}

/** Counts and failures of the submitted tasks as the store has them at the end. */
export function outcome(ids: readonly string[], records: (MigrationRecord | undefined)[]) {
  const count = (s: MigrationState) => records.filter((r) => r?.state === s).length;
  const errors = new Map<string, number>();
  for (const r of records) if (r?.error) errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
  return {
    submitted: ids.length,
    completed: count('completed'),
    failed: count('failed'),
    cancelled: count('cancelled'),
    lost: records.filter((r) => !r || !TERMINAL.includes(r.state)).length,
    errors: [...errors].map(([message, n]) => ({ message, count: n })).sort((a, b) => b.count - a.count),
  };
}

/** A run whose engines started tasks without claiming them from the store did not measure the product's path. */
export function notThroughTheStore(claims: number, completed: number): void {
  if (completed > 0 && claims === 0) {
    throw new Error('the engine started its tasks without claiming them from the store (adoptOrClaim): the benchmark\'s task store wrapper hides the store\'s fleet claims');
  }
}

/** Both backends, one after the other, each on a fresh lab; a backend that fails is reported as such. */
export async function benchScheduler(input: SchedulerOptions, log: (line: string) => void): Promise<SchedulerRuns> {
  const failed = (backend: 'sqlite' | 'postgres', err: unknown) => {
    log(`  ${backend}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return { backend, notMeasured: (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '' };
  };
  log(' SQLite: one connector');
  const sqlite = await benchSqlite(input, log).catch((err: unknown) => failed('sqlite', err));
  log(` PostgreSQL: ${input.connectors ?? 3} connectors`);
  const { benchFleet } = await import('./scheduler-fleet.ts');
  const postgres = await benchFleet(input, log).catch((err: unknown) => failed('postgres', err));
  return { sqlite, postgres };
}

/** One connector on its SQLite file, in this process. */
export async function benchSqlite(input: SchedulerOptions, log: (line: string) => void): Promise<SchedulerResult> {
  const opts = schedulerOptions(input, false);
  const loadBefore = machine().loadAverage;
  const stops: (() => Promise<unknown>)[] = [];
  let lab: SchedulerLab | undefined;
  try {
    lab = await startSchedulerLab(opts, log);
    const theLab = lab;
    const observer = new Observer(opts.maxRunning);
    const ec2Clients = new Map<string, EC2Client>();
    const ec2For = (region: string) => {
      let c = ec2Clients.get(region);
      if (!c) {
        c = new EC2Client({ region, endpoint: theLab.ec2.url, credentials: { ...CREDENTIALS } });
        // Once per send (the initialize step runs before the SDK's retries): when the engine asks for an import.
        c.middlewareStack.add(
          (next, context) => (args) => {
            if (context.commandName === 'ImportImageCommand') observer.importSent(region, (args.input as { ClientToken?: string }).ClientToken);
            return next(args);
          },
          { step: 'initialize', name: 'benchImportSent' },
        );
        ec2Clients.set(region, c);
      }
      return c;
    };
    stops.push(async () => ec2Clients.forEach((c) => c.destroy()));

    const configInput = {
      dataDir: lab.dir,
      vcenter: { url: lab.vcenterUrl, caPem: lab.vcsim.certPem },
      aws: { endpoint: lab.ec2.url, regions: opts.regions, credentials: { ...CREDENTIALS } },
      engine: {
        ...lab.engineConfig,
        maxRunning: opts.maxRunning,
        maxImportsPerRegion: opts.maxImportsPerRegion,
        leaseKeepAliveMs: 1_000,
        pollMs: opts.pollMs,
        pollMaxMs: opts.pollMaxMs,
      },
    } satisfies ConnectorConfigInput;
    const config = ConnectorConfig.parse(configInput);
    const store = new SqliteMigrationTasks(join(lab.dir, 'connector.sqlite'));
    stops.push(async () => await store.close());
    // As the connector runs it: with its connector id, claiming from the store and counting import slots there.
    let claims = 0;
    const tasks = observeFleetTasks(store, { write: (t) => observer.write(t), adopted: () => undefined, claimed: () => (claims += 1) });
    const built = createEngine(
      config,
      { vcenter: { sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem }, ec2: ec2For },
      { tasks, connectorId: async () => 'bench-sqlite', vcenterId: () => theLab.vcenterUrl },
    );
    stops.push(() => built.close());

    let peakRss = process.memoryUsage().rss;
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
    stops.push(async () => clearInterval(rssTimer));
    const cpu0 = process.cpuUsage();
    const vcsimCpu0 = processCpuSeconds(lab.vcsim.pid);
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    stops.push(async () => loop.disable());
    await built.engine.start();
    log(`  submitting ${opts.migrations} migrations over ${opts.regions.join(', ')} (maxRunning ${opts.maxRunning}, maxImportsPerRegion ${opts.maxImportsPerRegion})`);
    const ids: string[] = [];
    const submitTimes: number[] = [];
    const t0 = clock();
    for (let i = 0; i < opts.migrations; i++) {
      const s = clock();
      ids.push((await built.engine.submit(lab.request(i))).id);
      submitTimes.push(clock() - s);
    }
    const submitTotalMs = clock() - t0;
    log(`  submitted in ${(submitTotalMs / 1000).toFixed(2)} s; waiting for the queue to drain`);

    const deadline = Date.now() + opts.timeoutMs;
    let lastLog = Date.now();
    while (observer.terminal < opts.migrations && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        log(`  ${observer.terminal}/${opts.migrations} finished, ${observer.running} running, ${observer.queued} queued`);
      }
    }
    const wallMs = (observer.terminal > 0 ? observer.lastTerminalAt : clock()) - t0;
    clearInterval(rssTimer);
    loop.disable();
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = { bench: (cpu.user + cpu.system) / 1e6, connectors: 0, vcsim: processCpuSeconds(lab.vcsim.pid) - vcsimCpu0 };

    const ended = outcome(ids, await Promise.all(ids.map((id) => store.get(id))));
    notThroughTheStore(claims, ended.completed);
    const audit = await lab.audit(ids);
    const m = machine();
    return {
      backend: 'sqlite',
      connectors: 1,
      opts,
      claims,
      ...ended,
      maxRunningObserved: observer.maxRunning,
      runningViolations: observer.runningViolations,
      takeoverViolations: observer.takeoverViolations,
      maxImportsObserved: lab.maxImports,
      importViolations: lab.importViolations(),
      ...audit,
      slotDelayMs: distribution(observer.slotDelays),
      slotDelayRecentMs: distribution(observer.slotDelaysRecent),
      importSlotDelayMs: distribution(observer.importSlotDelays),
      submitTotalMs,
      submitMaxMs: Math.max(0, ...submitTimes),
      submitP99Ms: distribution(submitTimes).p99,
      wallSeconds: wallMs / 1000,
      tasksPerSecond: ended.completed / (wallMs / 1000),
      peakRssMiB: peakRss / 1024 ** 2,
      cpuSeconds,
      eventLoopDelayMs: { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max) },
      loadBefore,
      loadAfter: m.loadAverage,
      cores: m.cores,
    };
  } finally {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`  teardown: ${String(err)}`));
    await lab?.stop();
  }
}
