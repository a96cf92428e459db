// A fleet connector reduced to what task sharing needs, for the fleet SIGKILL test: the PostgreSQL store, its row in
// the connectors table (heartbeat every fleet.heartbeatMs) and the migration engine claiming from the shared tasks.
// Input in FLEET_CHILD (JSON: { config, sdkUrl, caPem, ec2Url, vcenterId, fleetPollMs, submit? }); submitted task
// ids are printed as JSON lines, then { ready: true }.
import { EC2Client } from '@aws-sdk/client-ec2';
import { hostname } from 'node:os';
import { ConnectorConfig } from '../../connector/config.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import type { MigrationSubmission } from '../../connector/engine/types.ts';
import { PgConnectorRegistry } from '../../connector/fleet/registry.ts';
import { createStore } from '../../connector/store/index.ts';

interface ChildInput {
  config: unknown;
  sdkUrl: string;
  caPem: string;
  ec2Url: string;
  vcenterId: string;
  fleetPollMs: number;
  submit?: MigrationSubmission[];
}

const input = JSON.parse(process.env.FLEET_CHILD ?? '{}') as ChildInput;
const config = ConnectorConfig.parse(input.config);
const store = createStore({ ...config.store, dataDir: config.dataDir, defaultRegion: 'us-east-1' });
if (store.backend.kind !== 'postgres') throw new Error('fleet-child needs store.url');
await store.environments.list();
const me = config.fleet.connectorId!;
const registry = new PgConnectorRegistry(store.backend.db, config.fleet.leaseMs);
const entry = { id: me, vcenterId: input.vcenterId, version: 'test', host: hostname(), timeZone: 'UTC', startedAt: new Date().toISOString() };
await registry.heartbeat(entry, new Date());
const beat = setInterval(() => void registry.heartbeat(entry, new Date()).catch(() => undefined), config.fleet.heartbeatMs);
const clients = new Map<string, EC2Client>();
const { engine, close } = createEngine(
  config,
  {
    vcenter: { sdkUrl: input.sdkUrl, caPem: input.caPem },
    ec2: (region) => {
      let c = clients.get(region);
      if (!c) clients.set(region, (c = new EC2Client({ region, endpoint: input.ec2Url, credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' } })));
      return c;
    },
    store: store.backend,
    vcenterReporting: false,
  },
  { connectorId: async () => me, vcenterId: () => input.vcenterId, leaseMs: config.fleet.leaseMs, fleetPollMs: input.fleetPollMs, log: (m) => process.stderr.write(`${me}: ${m}\n`) },
);
await engine.start();
for (const sub of input.submit ?? []) {
  const t = await engine.submit(sub);
  process.stdout.write(`${JSON.stringify({ id: t.id })}\n`);
}
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.on('SIGTERM', () => {
  clearInterval(beat);
  void close()
    .then(() => store.close())
    .finally(() => process.exit(0));
});
