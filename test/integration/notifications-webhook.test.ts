// Webhook notifications against a local HTTPS receiver whose certificate the connector trusts only through
// notifications.webhookCaPem: signature, retries (500, timeout; not 400), one delivery per subscribed target and event,
// the startup sweep, and at-least-once across a SIGKILL of the worker between send and acknowledgement.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorConfig } from '../../connector/config.ts';
import { NotificationPayload, WEBHOOK_HEADERS, type NotificationTargetInput } from '../../connector/contract/index.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { NotificationService } from '../../connector/notifications/service.ts';
import { NotificationStore } from '../../connector/notifications/store.ts';
import { exportTasksOn, migrationTasksOn } from '../../connector/store/task-repositories.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}
type Behaviour = (req: Received, res: ServerResponse) => void;

let tls: ServerTls;
let server: Server;
let url: string;
let received: Received[] = [];
let behave: Behaviour = (_r, res) => res.writeHead(204).end();
let dir: string;
const services: NotificationService[] = [];
const stores: NotificationStore[] = [];

beforeAll(async () => {
  tls = await generateSelfSigned(['127.0.0.1']);
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      behave(r, res);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-notify-'));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  stores.splice(0).forEach(async (s) => await s.close());
  received = [];
  behave = (_r, res) => res.writeHead(204).end();
});

let fileNo = 0;
function options(extra: Record<string, unknown> = {}) {
  return ConnectorConfig.parse({
    vcenter: { url: 'https://vcenter.invalid' },
    notifications: { webhookCaPem: tls.certPem, timeoutMs: 400, retryDelayMs: 50, retryMaxDelayMs: 200, maxAttempts: 4, pollMs: 50, ...extra },
  }).notifications;
}
function setup(extra: Record<string, unknown> = {}) {
  const file = join(dir, `n${++fileNo}.sqlite`);
  const store = new NotificationStore(file);
  const service = new NotificationService(store, { migrations: migrationTasksOn({ kind: 'sqlite', file: file }), exports: exportTasksOn({ kind: 'sqlite', file: file }) }, options(extra));
  stores.push(store);
  services.push(service);
  return { file, store, service };
}
const webhook = (events: NotificationTargetInput['events'], environmentIds: string[] = []): NotificationTargetInput => ({ kind: 'webhook', name: 'ops hook', url, events, environmentIds });

function migration(over: Partial<MigrationRecord>): MigrationRecord {
  const now = new Date().toISOString();
  return {
    id: `import-vm-${Math.random().toString(16).slice(2, 10)}`,
    seq: 1,
    idKind: 'import',
    state: 'running',
    phase: 'importing',
    environmentId: 'env-a',
    region: 'us-east-1',
    vmId: 'vm-42',
    vmName: 'web-01',
    platform: 'Linux',
    subnetId: 'subnet-1',
    instanceType: 't3.micro',
    securityGroupIds: [],
    requestedBy: 'VSPHERE.LOCAL\\operator',
    bucket: 'b',
    prefix: 'p/',
    exportAttempts: 1,
    disks: [],
    createdAt: now,
    updatedAt: now,
    ...over,
  } as MigrationRecord;
}

async function until<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const payloads = () => received.map((r) => NotificationPayload.parse(JSON.parse(r.body)));

describe('webhook notifications', () => {
  it('signs the body with the target secret and sends the idempotency id as a header and in the payload', async () => {
    const { store, service } = setup();
    const target = store.createTarget(webhook(['migration.completed']), 'admin');
    service.start();
    const task = migration({ state: 'completed', phase: 'done', instanceId: 'i-0123456789abcdef0' });
    service.observer.migrationSaved!(task, { state: 'running', phase: 'cleaning-up' });
    await until('the delivery', () => store.deliveries(target.id)[0]?.outcome === 'delivered');
    expect(received).toHaveLength(1);
    const [r] = received;
    const expected = `sha256=${createHmac('sha256', target.secret!).update(r!.body).digest('hex')}`;
    expect(r!.headers[WEBHOOK_HEADERS.signature]).toBe(expected);
    expect(createHmac('sha256', 'another secret').update(r!.body).digest('hex')).not.toBe(expected.slice(7));
    const p = payloads()[0]!;
    expect(r!.headers[WEBHOOK_HEADERS.idempotency]).toBe(p.id);
    expect(r!.headers[WEBHOOK_HEADERS.event]).toBe('migration.completed');
    expect(p).toMatchObject({ kind: 'migration.completed', test: false, migration: { id: task.id, instanceId: 'i-0123456789abcdef0', state: 'completed' } });
    expect(p.text).toContain('web-01');
  });

  it('retries a 500 and a timeout with the same id, then records the delivery; a 400 is not retried', async () => {
    const { store, service } = setup();
    const target = store.createTarget(webhook(['migration.failed']), 'admin');
    let n = 0;
    behave = (_r, res) => {
      n++;
      if (n === 1) res.writeHead(500).end();
      else if (n === 2) setTimeout(() => res.writeHead(200).end(), 1_000); // past timeoutMs
      else res.writeHead(200).end();
    };
    service.start();
    service.observer.migrationSaved!(migration({ state: 'failed', phase: 'importing', error: 'EC2 refused the image' }), { state: 'running', phase: 'importing' });
    await until('the delivery', () => store.deliveries(target.id)[0]?.outcome === 'delivered');
    const log = store.deliveries(target.id).reverse();
    expect(log.map((d) => d.outcome)).toEqual(['retrying', 'retrying', 'delivered']);
    expect(log[0]!.statusCode).toBe(500);
    expect(log[1]!.message).toMatch(/no answer within 400 ms/);
    expect(new Set(payloads().map((p) => p.id)).size).toBe(1);
    expect(payloads()[0]!.migration?.error).toBe('EC2 refused the image');

    received = [];
    behave = (_r, res) => res.writeHead(400).end();
    const other = store.createTarget(webhook(['export.failed']), 'admin');
    service.observer.exportSaved!({ id: 'exp-1', seq: 2, state: 'failed', environmentId: 'env-a', region: 'us-east-1', instanceId: 'i-1', exportTaskId: 'export-i-1', bucket: 'b', s3Prefix: 'x/', statusMessage: 'no bucket', requestedBy: 'u', createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() }, { state: 'active' });
    await until('the refusal', () => store.deliveries(other.id)[0]?.outcome === 'failed');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(1);
    expect(store.deliveries(other.id)[0]!.message).toMatch(/HTTP 400: not retried/);
  });

  it('refuses a receiver whose certificate no configured CA signs (TLS validation is on)', async () => {
    const { store, service } = setup({ webhookCaPem: undefined, maxAttempts: 1 });
    const target = store.createTarget(webhook(['migration.completed']), 'admin');
    service.start();
    const d = await service.sendTest(target, 'admin');
    expect(d.outcome).toBe('failed');
    expect(d.message).toMatch(/self.signed|certificate/i);
    expect(received).toHaveLength(0);
  });

  it('one delivery per subscribed target and event, none for others; repeated saves add nothing', async () => {
    const { store, service } = setup();
    const all = store.createTarget(webhook(['migration.completed', 'cutover.ready', 'cutover.done']), 'admin');
    const envB = store.createTarget(webhook(['migration.completed'], ['env-b']), 'admin');
    const failures = store.createTarget(webhook(['migration.failed']), 'admin');
    service.start();
    const warm = migration({ mode: 'warm', state: 'running', phase: 'replicating' });
    service.observer.migrationSaved!(warm, { state: 'running', phase: 'initial-sync' });
    service.observer.migrationSaved!({ ...warm, phase: 'cutting-over' }, { state: 'running', phase: 'replicating' });
    service.observer.migrationSaved!({ ...warm, phase: 'replicating' }, { state: 'running', phase: 'cutting-over' }); // a failed cutover: replication continues
    const done = { ...warm, state: 'completed' as const, phase: 'done' as const, instanceId: 'i-0aaa' };
    service.observer.migrationSaved!(done, { state: 'running', phase: 'cleaning-up' });
    service.observer.migrationSaved!(done, { state: 'running', phase: 'launching' });
    expect(await service.sweep()).toBe(0);
    await until('three deliveries', () => store.deliveries(all.id).length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(payloads().map((p) => p.kind).sort()).toEqual(['cutover.done', 'cutover.ready', 'migration.completed']);
    expect(store.deliveries(envB.id)).toHaveLength(0);
    expect(store.deliveries(failures.id)).toHaveLength(0);
  });

  it('the startup sweep queues a terminal save that never reached the outbox', async () => {
    const { file, store, service } = setup();
    const target = store.createTarget(webhook(['migration.completed']), 'admin');
    const tasks = new SqliteMigrationTasks(file);
    const task = migration({ state: 'completed', phase: 'done', instanceId: 'i-0bbb' });
    await tasks.insert(task); // saved with no observer: as if the connector died right after the save
    await tasks.close();
    service.start();
    await until('the swept delivery', () => store.deliveries(target.id)[0]?.outcome === 'delivered');
    expect(payloads()).toHaveLength(1);
    expect(payloads()[0]!.migration?.id).toBe(task.id);
  });

  it('a SIGKILL between send and acknowledgement sends again with the same idempotency id, and only once more', async () => {
    const { file, store } = setup();
    const target = store.createTarget(webhook(['migration.completed']), 'admin');
    const tasks = new SqliteMigrationTasks(file);
    await tasks.insert(migration({ state: 'completed', phase: 'done', instanceId: 'i-0ccc' }));
    await tasks.close();
    const held: ServerResponse[] = [];
    behave = (_r, res) => held.push(res); // never answers: the worker is killed while waiting
    const child = startChild(file, { timeoutMs: 60_000 });
    try {
      await until('the first send', () => received.length === 1);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    } finally {
      child.kill('SIGKILL');
    }
    held.forEach((res) => res.destroy());
    expect(store.deliveries(target.id)).toHaveLength(0);
    behave = (_r, res) => res.writeHead(200).end();
    const again = startChild(file, {});
    try {
      await until('the delivery after the restart', () => store.deliveries(target.id)[0]?.outcome === 'delivered');
      await new Promise((r) => setTimeout(r, 400));
    } finally {
      again.kill('SIGKILL');
      await new Promise((r) => again.once('exit', r));
    }
    expect(received).toHaveLength(2);
    const ids = payloads().map((p) => p.id);
    expect(ids[0]).toBe(ids[1]);
    expect(received.map((r) => r.headers[WEBHOOK_HEADERS.idempotency])).toEqual(ids);
    expect(store.deliveries(target.id)).toHaveLength(1);
  });
});

function startChild(file: string, extra: Record<string, unknown>): ChildProcess {
  const opts = { webhookCaPem: tls.certPem, timeoutMs: 400, retryDelayMs: 50, retryMaxDelayMs: 200, maxAttempts: 4, pollMs: 50, ...extra };
  return spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'test/support/notifications-child.ts')], {
    env: { ...process.env, NOTIFY_FILE: file, NOTIFY_OPTIONS: JSON.stringify(opts) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
