// Notifications through the lab connector's API over real HTTPS: administrators only (a refusal audited), the
// signing secret returned once and never again, Send test, and a lab migration that ends → one delivery per
// subscribed target with the right kind, none for a target of another event or environment.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NotificationDeliveryLog,
  NotificationPayload,
  NotificationTargetCreated,
  NotificationTargetList,
} from '../../connector/contract/index.ts';
import { generateSelfSigned } from '../../connector/tls.ts';
import { auditOf, loginLabUsers, migrationEnvironment, migrationUntil, requestMigration, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let server: Server;
let url = '';
const received: { signature: string; idempotency: string; body: string; path: string }[] = [];
let admin: ApiUser;
let operator: ApiUser;

beforeAll(async () => {
  const tls = await generateSelfSigned(['127.0.0.1']);
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ signature: String(req.headers['x-vm2ec2-signature-256']), idempotency: String(req.headers['x-vm2ec2-idempotency-id']), body: Buffer.concat(chunks).toString('utf8'), path: req.url ?? '' });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  lab = await startApiLab({ importRoleReady: true, connector: { notifications: { webhookCaPem: tls.certPem, retryDelayMs: 50, pollMs: 50 } } });
  ({ admin, operator } = await loginLabUsers(lab));
}, 180_000);
afterAll(async () => {
  await lab?.stop();
  server?.closeAllConnections();
  await new Promise((ok) => server?.close(ok));
});

describe('notification targets through the API', { timeout: 240_000 }, () => {
  it('refuses non-administrators with 403 and audits the refusal', async () => {
    const res = await operator.call('POST', '/notifications/targets', { kind: 'webhook', name: 'x', url: `${url}/x`, events: [], environmentIds: [] });
    expect(res.status).toBe(403);
    expect((await operator.call('GET', '/notifications/targets')).status).toBe(403);
    const audit = await auditOf(admin, 'admin.access', 20);
    expect(audit.some((e) => e.actor.toLowerCase().includes('operator') && e.outcome === 'denied' && e.message.includes('/notifications/targets'))).toBe(true);
  });

  it('refuses an e-mail target without a relay and an http:// URL, saying what to fix', async () => {
    const email = await admin.call('POST', '/notifications/targets', { kind: 'email', name: 'ops', recipients: ['ops@example.com'], events: [], environmentIds: [] });
    expect(email.status).toBe(422);
    expect((email.body as { message: string }).message).toMatch(/notifications\.email/);
    const plain = await admin.call('POST', '/notifications/targets', { kind: 'webhook', name: 'x', url: 'http://example.com/', events: [], environmentIds: [] });
    expect(plain.status).toBe(400);
    expect(JSON.stringify(plain.body)).toMatch(/must be an https:\/\/ URL/);
  });

  it('a completed lab migration: one delivery per subscribed target with the right kind; the secret is shown once', async () => {
    const { env, subnetId, groupId } = await migrationEnvironment(admin, 'Notify');
    const { env: other } = await migrationEnvironment(admin, 'Elsewhere');

    const add = async (name: string, events: string[], environmentIds: string[]) => {
      const res = await admin.call('POST', '/notifications/targets', { kind: 'webhook', name, url: `${url}/${name}`, events, environmentIds });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return NotificationTargetCreated.parse(res.body);
    };
    const a = await add('a', ['migration.completed', 'migration.failed'], [env.id]);
    const b = await add('b', ['migration.completed'], []);
    await add('c', ['migration.failed'], []);
    await add('d', ['migration.completed'], [other.id]);
    expect(a.secret).toMatch(/^[0-9a-f]{64}$/);
    const listed = NotificationTargetList.parse((await admin.call('GET', '/notifications/targets')).body);
    expect(JSON.stringify(listed)).not.toContain(a.secret!);
    expect(listed.targets).toHaveLength(4);

    const vmId = (await lab.vmIds()).get('ubuntu-web-01')!;
    const started = await requestMigration(admin, { environmentId: env.id, vmId, subnetId, groupId });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = (started.body as { id: string }).id;
    const task = await migrationUntil(admin, id, (t) => ['completed', 'failed', 'cancelled'].includes(t.state));
    expect(task.state).toBe('completed');
    for (const end = Date.now() + 10_000; received.length < 2 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500)); // anything extra would arrive now
    expect(received.map((r) => r.path).sort()).toEqual(['/a', '/b']);
    for (const r of received) {
      const p = NotificationPayload.parse(JSON.parse(r.body));
      expect(p).toMatchObject({ kind: 'migration.completed', environment: { id: env.id, name: 'Notify' }, migration: { id, vmName: 'ubuntu-web-01', state: 'completed' } });
      expect(r.idempotency).toBe(p.id);
    }
    const toA = received.find((r) => r.path === '/a')!;
    expect(toA.signature).toBe(`sha256=${createHmac('sha256', a.secret!).update(toA.body).digest('hex')}`);
    const log = NotificationDeliveryLog.parse((await admin.call('GET', `/notifications/targets/${b.id}/deliveries`)).body);
    expect(log.deliveries.map((d) => [d.event, d.outcome])).toEqual([['migration.completed', 'delivered']]);

    const test = await admin.call('POST', `/notifications/targets/${b.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ event: 'test', outcome: 'delivered', statusCode: 200 });
    const audit = await auditOf(admin, 'notification.test', 5);
    expect(audit[0]?.message).toContain('"b"');
    expect(JSON.stringify(await auditOf(admin, 'notification.target', 20))).not.toContain(a.secret!);
  });
});
