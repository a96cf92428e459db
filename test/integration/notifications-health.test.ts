// connector.unhealthy against the lab: the connector's own health probe (the doctor's vCenter check and the service
// account's login against the lab vcsim, EC2 in its region against the lab emulator, the store, free space) on its
// timer; the lab vCenter stops answering → exactly one notification after two failed probes, to every subscribed
// target whatever its environment filter; a restart mid-incident sends nothing again; recovery → one notice.
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsGateway } from '../../connector/aws/gateway.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { NotificationPayload, WEBHOOK_HEADERS } from '../../connector/contract/index.ts';
import { connectorHealthChecks, HealthMonitor, type HealthCheck } from '../../connector/notifications/health.ts';
import { NotificationService } from '../../connector/notifications/service.ts';
import { NotificationStore } from '../../connector/notifications/store.ts';
import { exportTasksOn, migrationTasksOn } from '../../connector/store/task-repositories.ts';
import { createStore, type SqliteStore } from '../../connector/store/index.ts';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labUsers } from '../../lab/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';

const INTERVAL_MS = 150;
let tls: ServerTls;
let server: Server;
let url: string;
const received: { headers: IncomingMessage['headers']; body: string }[] = [];
let vcsim: VcsimHandle;
let ec2: Ec2EmulatorHandle;
let dir: string;
let config: ConnectorConfig;
let aws: AwsGateway;
let store: SqliteStore;

beforeAll(async () => {
  tls = await generateSelfSigned(['127.0.0.1']);
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  vcsim = await startVcsim();
  ec2 = await startEc2Emulator({ s3: { endpoint: 'http://127.0.0.1:9', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, stageMs: 50, regions: ['us-east-1'] });
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-health-'));
  const admin = (await labUsers())[0]!;
  config = ConnectorConfig.parse({
    dataDir: dir,
    vcenter: { url: vcsim.origin, caPem: vcsim.certPem },
    aws: { endpoint: ec2.url, regions: ['us-east-1'], credentials: { accessKeyId: 'labKey', secretAccessKey: 'labSecret0123456789' } },
    engine: { vcenterAccount: { userName: admin.name, password: admin.password } },
    notifications: { webhookCaPem: tls.certPem, timeoutMs: 2_000, retryDelayMs: 50, retryMaxDelayMs: 200, maxAttempts: 4, pollMs: 50, healthIntervalMs: INTERVAL_MS },
  });
  aws = new AwsGateway(config.aws);
  store = createStore({ dataDir: dir, sqliteFile: join(dir, 'connector.sqlite'), defaultRegion: 'us-east-1' });
}, 120_000);

afterAll(async () => {
  await store?.close();
  aws?.close();
  await ec2?.stop();
  await vcsim?.stop();
  server?.closeAllConnections();
  await new Promise((ok) => server?.close(ok));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const payloads = () => received.map((r) => NotificationPayload.parse(JSON.parse(r.body)));

/** The real checks, each run counted; `seen` records the outbox's connector.unhealthy rows as each probe's vCenter check ends. */
function counted(notifications: NotificationStore) {
  const runs = { probes: 0, vcenterFailures: [] as number[] };
  const rows = () => (notifications.db.prepare(`SELECT COUNT(*) AS n FROM notification_outbox WHERE event = 'connector.unhealthy'`).get() as { n: number }).n;
  const checks: HealthCheck[] = connectorHealthChecks({ config, aws, store, timeoutMs: 2_000 }).map((c) => ({
    name: c.name,
    run: async () => {
      const r = await c.run();
      if (c.name === 'vcenter') {
        runs.probes++;
        if (r) runs.vcenterFailures.push(rows());
      }
      return r;
    },
  }));
  return { runs, checks };
}

function connector() {
  const notifications = new NotificationStore(join(dir, 'connector.sqlite'));
  const service = new NotificationService(notifications, { migrations: migrationTasksOn({ kind: 'sqlite', file: join(dir, 'connector.sqlite') }), exports: exportTasksOn({ kind: 'sqlite', file: join(dir, 'connector.sqlite') }) }, config.notifications);
  const { runs, checks } = counted(notifications);
  const monitor = new HealthMonitor(checks, service, config.notifications.healthIntervalMs);
  service.start();
  monitor.start();
  return {
    notifications,
    runs,
    monitor,
    stop: async () => {
      await monitor.stop();
      await service.stop();
      notifications.close();
    },
  };
}

describe('connector.unhealthy', () => {
  it('one notification after two failed probes, none again after a restart mid-incident, one when it recovers', async () => {
    const setup = new NotificationStore(join(dir, 'connector.sqlite'));
    // An environment filter does not hold back connector.unhealthy: the connector serves every environment.
    const ops = setup.createTarget({ kind: 'webhook', name: 'ops', url, events: ['connector.unhealthy'], environmentIds: ['env-0a1b2c3d4e5f'] }, 'admin');
    const other = setup.createTarget({ kind: 'webhook', name: 'migrations', url, events: ['migration.completed', 'migration.failed'], environmentIds: [] }, 'admin');
    setup.close();

    let c = connector();
    try {
      await until('three healthy probes', () => c.runs.probes >= 3);
      expect(c.runs.vcenterFailures).toEqual([]);
      expect(c.monitor.current.status).toBe('healthy');
      expect(received).toHaveLength(0);

      await vcsim.setReachable(false);
      await until('the notification', () => c.notifications.deliveries(ops.id)[0]?.outcome === 'delivered');
      // Queued by the second failed probe, not the first.
      expect(c.runs.vcenterFailures.slice(0, 2)).toEqual([0, 0]);
      const failuresThen = c.runs.vcenterFailures.length;
      await until('three more failed probes', () => c.runs.vcenterFailures.length >= failuresThen + 3);
    } finally {
      await c.stop();
    }
    expect(received).toHaveLength(1);
    const [down] = payloads();
    expect(down).toMatchObject({ kind: 'connector.unhealthy', test: false, connector: { state: 'unhealthy' } });
    expect(received[0]!.headers[WEBHOOK_HEADERS.event]).toBe('connector.unhealthy');
    expect(down!.environment).toBeUndefined();
    // What failed (vCenter only: EC2, the store and the disk still answer) and what to do.
    expect(down!.connector!.problems).toHaveLength(1);
    expect(down!.connector!.problems[0]).toMatch(/Connector cannot reach vCenter .*ECONNREFUSED.*Check vcenter\.url/);
    expect(down!.text).toContain(down!.connector!.since);

    // A restart while vCenter is still down: the incident is picked up from the outbox, nothing is sent again.
    c = connector();
    try {
      expect(c.monitor.current).toMatchObject({ status: 'unhealthy', firstFailureAt: down!.connector!.since });
      await until('three failed probes after the restart', () => c.runs.vcenterFailures.length >= 3);
      expect(received).toHaveLength(1);

      await vcsim.setReachable(true);
      await until('the recovery notice', () => received.length === 2);
      const probesThen = c.runs.probes;
      await until('three more probes', () => c.runs.probes >= probesThen + 3);
    } finally {
      await c.stop();
    }
    expect(received).toHaveLength(2);
    const up = payloads()[1]!;
    expect(up).toMatchObject({ kind: 'connector.unhealthy', connector: { state: 'recovered', since: down!.connector!.since, problems: [] } });
    expect(up.id).not.toBe(down!.id);
    expect(up.text).toMatch(/healthy again/);
    const check = new NotificationStore(join(dir, 'connector.sqlite'));
    try {
      expect(check.deliveries(other.id)).toHaveLength(0);
      expect(check.deliveries(ops.id).map((d) => d.outcome)).toEqual(['delivered', 'delivered']);
    } finally {
      check.close();
    }
  }, 120_000);
});
