// The scheduler benchmark on PostgreSQL (bench/scheduler.ts): a fleet of connector processes
// (bench/scheduler-fleet-child.ts) of one vCenter sharing one database on a cluster the benchmark starts, N migrations
// submitted at once spread over them, and one connector SIGKILLed mid-run. Each connector reports its task writes,
// takeovers and imports with its own timestamps; they are replayed here in time order into the same outside observer
// as the SQLite run, and the takeover is timed from the killed connector's last heartbeat in the store.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import type { MigrationState } from '../connector/contract/index.ts';
import { CONNECTOR_NODE_FLAGS } from '../connector/node-flags.ts';
import { PgStore } from '../connector/store/index.ts';
import { PgMigrationTasks } from '../connector/store/postgres/migration-tasks.ts';
import { pgConfigFromUrl } from '../connector/store/postgres/url.ts';
import { startPostgresCluster, type PostgresCluster } from '../lab/postgres/cluster.ts';
import { machine } from './machine.ts';
import type { FleetChildMessage, FleetParentMessage } from './scheduler-fleet-child.ts';
import { clock, Observer, TERMINAL } from './scheduler-observer.ts';
import { CREDENTIALS, distribution, processCpuSeconds, startSchedulerLab, type SchedulerLab } from './scheduler-lab.ts';
import { notThroughTheStore, outcome, schedulerOptions, type SchedulerOptions, type SchedulerResult, type Takeover } from './scheduler.ts';

const CHILD = join(import.meta.dirname, 'scheduler-fleet-child.ts');
type Timed = Extract<FleetChildMessage, { at: number }>;

interface Connector {
  id: string;
  child: ChildProcess;
  tail: string[];
  stats?: Extract<FleetChildMessage, { kind: 'stats' }>;
  submitted?: { ids: string[]; times: number[]; at: number };
  cpu0: number;
  cpu: number;
}

export async function benchFleet(input: SchedulerOptions, log: (line: string) => void): Promise<SchedulerResult> {
  const opts = schedulerOptions(input, true);
  const loadBefore = machine().loadAverage;
  const stops: (() => Promise<unknown>)[] = [];
  let lab: SchedulerLab | undefined;
  let cluster: PostgresCluster | undefined;
  const conns: Connector[] = [];
  try {
    lab = await startSchedulerLab(opts, log);
    const theLab = lab;
    cluster = await startPostgresCluster();
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench').finally(() => admin.end());
    const storeUrl = new URL(cluster.url);
    storeUrl.pathname = '/bench';
    // The schema steps run once here; the connectors then open a database that is up to date.
    const store = PgStore.create(pgConfigFromUrl(storeUrl.href), { defaultRegion: 'us-east-1' });
    await store.open();
    stops.push(() => store.close());
    const tasks = new PgMigrationTasks(store.backend.db);

    // Every timed report, and a live view (state and owner per task) to know when to kill and when the run ended.
    const events: Timed[] = [];
    const live = new Map<string, { state: MigrationState; owner: string | undefined }>();
    let terminal = 0;
    let lastTerminalAt = 0;
    const onMessage = (c: Connector, m: FleetChildMessage) => {
      if (m.kind === 'stats') c.stats = m;
      else if (m.kind === 'submitted') c.submitted = { ...m, at: clock() };
      else if (m.kind !== 'ready') events.push(m);
      if (m.kind === 'write') {
        const was = live.get(m.t.id)?.state;
        live.set(m.t.id, { state: m.t.state, owner: m.t.connectorId });
        if (TERMINAL.includes(m.t.state) && !TERMINAL.includes(was ?? 'queued')) {
          terminal += 1;
          lastTerminalAt = m.at;
        }
      }
    };

    log(`  starting PostgreSQL and ${opts.connectors} connectors (maxRunning ${opts.maxRunning} each, lease ${opts.leaseMs} ms, heartbeat ${opts.heartbeatMs} ms)`);
    for (let i = 1; i <= opts.connectors; i++) {
      const id = `conn-${i}`;
      const config = {
        dataDir: join(theLab.dir, id),
        vcenter: { url: theLab.vcenterUrl, caPem: theLab.vcsim.certPem },
        aws: { endpoint: theLab.ec2.url, regions: opts.regions, credentials: { ...CREDENTIALS } },
        store: { url: storeUrl.href },
        fleet: { connectorId: id, heartbeatMs: opts.heartbeatMs, leaseMs: opts.leaseMs },
        engine: { ...theLab.engineConfig, maxRunning: opts.maxRunning, maxImportsPerRegion: opts.maxImportsPerRegion, leaseKeepAliveMs: 1_000, pollMs: opts.pollMs, pollMaxMs: opts.pollMaxMs },
      };
      const child = spawn(process.execPath, [...CONNECTOR_NODE_FLAGS, '--import', 'tsx', CHILD], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
      const c: Connector = { id, child, tail: [], cpu0: 0, cpu: 0 };
      conns.push(c);
      // The whole log of each connector, where the run is to be examined (only the tail is kept otherwise).
      const logDir = process.env.SCHEDULER_FLEET_LOG_DIR;
      const logFile = logDir ? createWriteStream(join(logDir, `${id}.log`)) : undefined;
      createInterface({ input: child.stderr! }).on('line', (l) => {
        logFile?.write(`${new Date().toISOString()} ${l}\n`);
        c.tail.push(l);
        if (c.tail.length > 20) c.tail.shift();
      });
      child.on('message', (m) => onMessage(c, m as FleetChildMessage));
      await new Promise<void>((resolve, reject) => {
        const early = (code: number | null) => reject(new Error(`connector ${id} exited while starting (${code}): ${c.tail.slice(-5).join(' | ')}`));
        child.once('exit', early);
        const ready = (m: unknown) => {
          if ((m as FleetChildMessage).kind !== 'ready') return;
          child.off('exit', early);
          child.off('message', ready);
          resolve();
        };
        child.on('message', ready);
        child.send({ kind: 'input', input: { config, sdkUrl: theLab.vcsim.sdkUrl, caPem: theLab.vcsim.certPem, ec2Url: theLab.ec2.url, vcenterId: theLab.vcenterUrl, fleetPollMs: opts.fleetPollMs } } satisfies FleetParentMessage);
      });
    }
    const exitedEarly = () => conns.find((c) => c !== victim && (c.child.exitCode !== null || c.child.signalCode !== null));

    const vcsimCpu0 = processCpuSeconds(lab.vcsim.pid);
    const cpu0 = process.cpuUsage();
    for (const c of conns) c.cpu0 = processCpuSeconds(c.child.pid);
    log(`  submitting ${opts.migrations} migrations over ${opts.regions.join(', ')}, spread over the ${opts.connectors} connectors (maxImportsPerRegion ${opts.maxImportsPerRegion} across the fleet)`);
    const t0 = clock();
    conns.forEach((c, k) => c.child.send({ kind: 'submit', subs: Array.from({ length: opts.migrations }, (_, i) => i).filter((i) => i % conns.length === k).map((i) => theLab.request(i)) } satisfies FleetParentMessage));

    let victim: Connector | undefined;
    let killedAt: { terminal: number; owned: string[]; lastBeat: number } | undefined;
    const deadline = Date.now() + opts.timeoutMs;
    let lastLog = Date.now();
    const submittedAll = () => conns.every((c) => c.submitted);
    while ((!submittedAll() || terminal < opts.migrations) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const gone = exitedEarly();
      if (gone) throw new Error(`connector ${gone.id} exited during the run (${gone.child.exitCode ?? gone.child.signalCode}): ${gone.tail.slice(-5).join(' | ')}`);
      if (!victim && opts.killAt > 0 && submittedAll() && terminal >= opts.killAt * opts.migrations) {
        // The connector running the most tasks now.
        const running = new Map<string, number>();
        for (const t of live.values()) if (t.owner && (t.state === 'running' || t.state === 'cancelling')) running.set(t.owner, (running.get(t.owner) ?? 0) + 1);
        victim = [...conns].sort((a, b) => (running.get(b.id) ?? 0) - (running.get(a.id) ?? 0))[0]!;
        victim.cpu = processCpuSeconds(victim.child.pid) - victim.cpu0;
        const exited = new Promise((r) => victim!.child.once('exit', r));
        victim.child.kill('SIGKILL');
        await exited;
        // What it was running when it died (read after the kill: its last writes are in), and its last heartbeat.
        const owned = (await store.backend.db.query<{ id: string }>(`SELECT id FROM engine_tasks WHERE owner = $1 AND state IN ('running', 'cancelling')`, [victim.id])).rows.map((r) => r.id);
        const beat = (await store.backend.db.query<{ heartbeat_at: string }>('SELECT heartbeat_at FROM connectors WHERE id = $1', [victim.id])).rows[0]!.heartbeat_at;
        killedAt = { terminal, owned, lastBeat: Date.parse(beat) };
        log(`  SIGKILLed ${victim.id} with ${terminal}/${opts.migrations} finished; it was running ${owned.length}`);
      }
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        log(`  ${terminal}/${opts.migrations} finished`);
      }
    }
    const wallMs = (terminal > 0 ? lastTerminalAt : clock()) - t0;
    const cpu = process.cpuUsage(cpu0);
    for (const c of conns) if (c !== victim) c.cpu = processCpuSeconds(c.child.pid) - c.cpu0;
    const vcsimCpu = processCpuSeconds(lab.vcsim.pid) - vcsimCpu0;
    await Promise.all(conns.map((c) => stopChild(c.child)));

    const ids = conns.flatMap((c) => c.submitted?.ids ?? []);
    const times = conns.flatMap((c) => c.submitted?.times ?? []);
    const submitTotalMs = Math.max(0, ...conns.map((c) => (c.submitted?.at ?? t0) - t0));
    const ended = outcome(ids, await Promise.all(ids.map((id) => tasks.get(id))));
    const claims = conns.reduce((n, c) => n + (c.stats?.claims ?? 0), 0);
    notThroughTheStore(claims, ended.completed);

    // Replayed in time order: each connector's reports are ordered, between connectors only their clocks order them.
    const observer = new Observer(opts.maxRunning);
    events.sort((a, b) => a.at - b.at);
    for (const e of events) {
      if (e.kind === 'write') observer.write(e.t, e.at);
      else if (e.kind === 'import') observer.importSent(e.region, e.token, e.at);
      else if (e.kind === 'released') observer.released(e.id);
    }
    let takeover: Takeover | undefined;
    if (victim && killedAt) {
      const owned = new Set(killedAt.owned);
      const adoptedAt = new Map<string, number>();
      for (const e of events) if (e.kind === 'adopted') for (const id of e.ids) if (owned.has(id) && !adoptedAt.has(id)) adoptedAt.set(id, e.at);
      const firstWrite = new Map<string, number>();
      for (const mv of observer.moves) if (owned.has(mv.id) && mv.from === victim.id && !firstWrite.has(mv.id)) firstWrite.set(mv.id, mv.at);
      const since = (xs: Iterable<number>) => [...xs].map((x) => x - killedAt!.lastBeat);
      const adopted = since(adoptedAt.values());
      const wrote = since(firstWrite.values());
      const final = await Promise.all(killedAt.owned.map((id) => tasks.get(id)));
      takeover = {
        killed: victim.id,
        atTerminal: killedAt.terminal,
        tasks: killedAt.owned.length,
        takenOver: adoptedAt.size,
        completedOnPeers: final.filter((t) => t?.state === 'completed' && t.connectorId !== victim!.id).length,
        leaseMs: opts.leaseMs,
        firstMs: adopted.length ? Math.min(...adopted) : NaN,
        lastMs: adopted.length ? Math.max(...adopted) : NaN,
        firstWriteMs: wrote.length ? Math.min(...wrote) : NaN,
        lastWriteMs: wrote.length ? Math.max(...wrote) : NaN,
      };
    }
    const audit = await lab.audit(ids);
    const worst = (k: 'p50' | 'p99' | 'max') => Math.max(0, ...conns.map((c) => c.stats?.loop[k] ?? 0));
    const m = machine();
    return {
      backend: 'postgres',
      connectors: opts.connectors,
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
      submitMaxMs: Math.max(0, ...times),
      submitP99Ms: distribution(times).p99,
      wallSeconds: wallMs / 1000,
      tasksPerSecond: ended.completed / (wallMs / 1000),
      peakRssMiB: Math.max(0, ...conns.map((c) => c.stats?.rssMiB ?? 0)),
      cpuSeconds: { bench: (cpu.user + cpu.system) / 1e6, connectors: conns.reduce((n, c) => n + c.cpu, 0), vcsim: vcsimCpu },
      eventLoopDelayMs: { p50: worst('p50'), p99: worst('p99'), max: worst('max') },
      ...(takeover ? { takeover } : {}),
      loadBefore,
      loadAfter: m.loadAverage,
      cores: m.cores,
    };
  } finally {
    for (const c of conns) c.child.kill('SIGKILL');
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`  teardown: ${String(err)}`));
    await cluster?.stop().catch((err: unknown) => log(`  teardown: ${String(err)}`));
    await lab?.stop();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}
