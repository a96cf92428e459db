// E-mail notifications through a local SMTP relay (smtp-server) that offers STARTTLS with a test certificate and
// requires authentication: the connector upgrades, logs in with the configured credentials and delivers the payload.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorConfig } from '../../connector/config.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { NotificationService } from '../../connector/notifications/service.ts';
import { NotificationStore } from '../../connector/notifications/store.ts';
import { exportTasksOn, migrationTasksOn } from '../../connector/store/task-repositories.ts';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';

interface Mail {
  from: string;
  to: string[];
  data: string;
  secure: boolean;
  user: string | undefined;
}
let tls: ServerTls;
let smtp: SMTPServer;
let port: number;
let dir: string;
const mails: Mail[] = [];

beforeAll(async () => {
  tls = await generateSelfSigned(['127.0.0.1']);
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-mail-'));
  smtp = new SMTPServer({
    secure: false,
    key: tls.keyPem,
    cert: tls.certPem,
    authMethods: ['PLAIN', 'LOGIN'],
    // Credentials only over TLS (STARTTLS first).
    allowInsecureAuth: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'relay-user' && auth.password === 'relay-pass') cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          user: session.user as string | undefined,
        });
        cb();
      });
    },
    logger: false,
  });
  await new Promise<void>((ok) => smtp.listen(0, '127.0.0.1', ok));
  port = (smtp.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((ok) => smtp.close(() => ok()));
  await rm(dir, { recursive: true, force: true });
});

function service(email: Record<string, unknown>, file: string) {
  const opts = ConnectorConfig.parse({
    vcenter: { url: 'https://vcenter.invalid' },
    notifications: { timeoutMs: 3_000, retryDelayMs: 50, maxAttempts: 2, pollMs: 50, email: { host: '127.0.0.1', port, from: 'vm2ec2@example.com', caPem: tls.certPem, ...email } },
  }).notifications;
  const store = new NotificationStore(join(dir, file));
  return { store, service: new NotificationService(store, { migrations: migrationTasksOn({ kind: 'sqlite', file: join(dir, file) }), exports: exportTasksOn({ kind: 'sqlite', file: join(dir, file) }) }, opts) };
}

describe('e-mail notifications', () => {
  it('delivers over STARTTLS with the configured credentials, with the idempotency id in a header', async () => {
    const { store, service: s } = service({ user: 'relay-user', password: 'relay-pass' }, 'ok.sqlite');
    const target = store.createTarget({ kind: 'email', name: 'ops', recipients: ['ops@example.com', 'lead@example.com'], events: ['migration.completed'], environmentIds: [] }, 'admin');
    s.start();
    const now = new Date().toISOString();
    const task = { id: 'import-vm-mail1', state: 'completed', phase: 'done', environmentId: 'env-a', region: 'us-east-1', vmId: 'vm-7', vmName: 'db-01', instanceId: 'i-0mail', requestedBy: 'op', createdAt: now, updatedAt: now } as unknown as MigrationRecord;
    s.observer.migrationSaved!(task, { state: 'running', phase: 'cleaning-up' });
    const end = Date.now() + 10_000;
    while (store.deliveries(target.id)[0]?.outcome !== 'delivered' && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    await s.stop();
    const [log] = store.deliveries(target.id);
    expect(log?.outcome, log?.message).toBe('delivered');
    expect(mails).toHaveLength(1);
    const m = mails[0]!;
    expect(m).toMatchObject({ from: 'vm2ec2@example.com', to: ['ops@example.com', 'lead@example.com'], secure: true, user: 'relay-user' });
    expect(m.data).toMatch(/^Subject: \[vm2ec2\] Migration of db-01 to Amazon EC2 completed/m);
    // Header names are case-insensitive (nodemailer writes -ID).
    expect(m.data).toMatch(new RegExp(`^X-Vm2ec2-Idempotency-Id: ${log!.notificationId}\r?$`, 'im'));
    store.close();
  });

  it('refused credentials are a permanent failure with the relay’s answer; no e-mail goes out', async () => {
    mails.length = 0;
    const { store, service: s } = service({ user: 'relay-user', password: 'wrong' }, 'bad.sqlite');
    const target = store.createTarget({ kind: 'email', name: 'ops', recipients: ['ops@example.com'], events: [], environmentIds: [] }, 'admin');
    const d = await s.sendTest(target, 'admin');
    expect(d.outcome).toBe('failed');
    expect(d.message).toMatch(/did not take the e-mail: .*535/);
    expect(mails).toHaveLength(0);
    store.close();
  });

  it('a relay without a CA the connector trusts is refused (no fallback to plain text)', async () => {
    mails.length = 0;
    const { store, service: s } = service({ user: 'relay-user', password: 'relay-pass', caPem: undefined }, 'untrusted.sqlite');
    const target = store.createTarget({ kind: 'email', name: 'ops', recipients: ['ops@example.com'], events: [], environmentIds: [] }, 'admin');
    const d = await s.sendTest(target, 'admin');
    expect(d.outcome).toBe('failed');
    expect(d.message).toMatch(/certificate|self.signed/i);
    expect(mails).toHaveLength(0);
    store.close();
  });
});
