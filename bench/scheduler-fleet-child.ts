// One connector of the scheduler benchmark's PostgreSQL fleet (bench/scheduler-fleet.ts), reduced to what scheduling
// needs: the store on the fleet's database, its row in the connectors table (heartbeat every fleet.heartbeatMs) and
// the engine built by createEngine, claiming its work from the shared tasks as the connector does. Over the IPC
// channel it gets its input and the migrations to submit, and reports every task write, takeover and ImportImage
// (timestamped here), and its memory and event-loop delay.
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ConnectorConfig } from '../connector/config.ts';
import { createEngine } from '../connector/engine/factory.ts';
import type { MigrationSubmission } from '../connector/engine/types.ts';
import { PgConnectorRegistry } from '../connector/fleet/registry.ts';
import { createStore } from '../connector/store/index.ts';
import { migrationTasksOn } from '../connector/store/task-repositories.ts';
import { observeFleetTasks } from './observed-fleet-tasks.ts';
import { clock, observedWrite, type ObservedWrite } from './scheduler-observer.ts';

export interface FleetChildInput {
  config: unknown;
  sdkUrl: string;
  caPem: string;
  ec2Url: string;
  vcenterId: string;
  fleetPollMs: number;
}

export type FleetChildMessage =
  | { kind: 'ready' }
  | { kind: 'write'; at: number; t: ObservedWrite }
  | { kind: 'adopted'; at: number; ids: string[] }
  | { kind: 'released'; at: number; id: string }
  | { kind: 'import'; at: number; region: string; token: string | undefined }
  | { kind: 'submitted'; ids: string[]; times: number[] }
  | { kind: 'stats'; rssMiB: number; claims: number; loop: { p50: number; p99: number; max: number } };

export type FleetParentMessage = { kind: 'input'; input: FleetChildInput } | { kind: 'submit'; subs: MigrationSubmission[] };

const send = (m: FleetChildMessage) => process.send?.(m);
const LOOP_RESOLUTION_MS = 10;
const lag = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);

async function main(input: FleetChildInput): Promise<void> {
  const config = ConnectorConfig.parse(input.config);
  const store = createStore({ ...config.store, dataDir: config.dataDir, defaultRegion: 'us-east-1' });
  if (store.backend.kind !== 'postgres') throw new Error('the fleet benchmark connector needs store.url');
  await store.environments.list();
  const me = config.fleet.connectorId!;
  const registry = new PgConnectorRegistry(store.backend.db, config.fleet.leaseMs);
  const entry = { id: me, vcenterId: input.vcenterId, version: 'bench', host: hostname(), timeZone: 'UTC', startedAt: new Date().toISOString() };
  await registry.heartbeat(entry, new Date());
  const beat = setInterval(() => void registry.heartbeat(entry, new Date()).catch(() => undefined), config.fleet.heartbeatMs);

  let claims = 0;
  const clients = new Map<string, EC2Client>();
  const ec2 = (region: string) => {
    let c = clients.get(region);
    if (!c) {
      c = new EC2Client({ region, endpoint: input.ec2Url, credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' } });
      c.middlewareStack.add(
        (next, context) => (args) => {
          if (context.commandName === 'ImportImageCommand') send({ kind: 'import', at: clock(), region, token: (args.input as { ClientToken?: string }).ClientToken });
          return next(args);
        },
        { step: 'initialize', name: 'benchImportSent' },
      );
      clients.set(region, c);
    }
    return c;
  };
  const tasks = observeFleetTasks(migrationTasksOn(store.backend), {
    write: (t) => send({ kind: 'write', at: clock(), t: observedWrite(t) }),
    adopted: (ts) => send({ kind: 'adopted', at: clock(), ids: ts.map((t) => t.id) }),
    released: (id) => send({ kind: 'released', at: clock(), id }),
    claimed: () => (claims += 1),
  });
  const { engine, close } = createEngine(
    config,
    { vcenter: { sdkUrl: input.sdkUrl, caPem: input.caPem }, ec2, store: store.backend },
    { tasks, connectorId: async () => me, vcenterId: () => input.vcenterId, leaseMs: config.fleet.leaseMs, fleetPollMs: input.fleetPollMs, log: (m) => process.stderr.write(`${me}: ${m}\n`) },
  );

  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  let peakRss = process.memoryUsage().rss;
  const stats = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    send({ kind: 'stats', rssMiB: peakRss / 1024 ** 2, claims, loop: { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max) } });
  };
  const statsTimer = setInterval(stats, 500);

  process.on('message', (raw: unknown) => {
    const m = raw as FleetParentMessage;
    if (m.kind !== 'submit') return;
    void (async () => {
      loop.enable();
      const ids: string[] = [];
      const times: number[] = [];
      for (const sub of m.subs) {
        const s = clock();
        ids.push((await engine.submit(sub)).id);
        times.push(clock() - s);
      }
      send({ kind: 'submitted', ids, times });
    })().catch((err: unknown) => {
      process.stderr.write(`${me}: submitting failed: ${String(err)}\n`);
      process.exit(1);
    });
  });
  process.once('SIGTERM', () => {
    clearInterval(beat);
    clearInterval(statsTimer);
    stats();
    void close()
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
  await engine.start();
  send({ kind: 'ready' });
}

process.once('message', (raw: unknown) => {
  const m = raw as FleetParentMessage;
  if (m.kind !== 'input') return;
  main(m.input).catch((err: unknown) => {
    process.stderr.write(`fleet connector: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
});
