// Issue 15: Administration → Notifications → add webhook → Send test → delivered, against an HTTPS receiver started
// here whose certificate the lab connector trusts through notifications.webhookCaPem (global-setup).
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { testIds } from '../../ui/testIds.ts';
import { expect, test } from './fixtures.ts';

test.use({ viewport: { width: 1280, height: 720 } });

let server: Server;
let url = '';
const received: { signature: string; body: string }[] = [];

test.beforeAll(async () => {
  const tls = JSON.parse(process.env.LAB_WEBHOOK_TLS!) as { cert: string; key: string };
  server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ signature: String(req.headers['x-vm2ec2-signature-256']), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/vm2ec2-hook`;
});
test.afterAll(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

test('administrator adds a webhook, sends a test and sees it delivered', async ({ vsphere }) => {
  await vsphere.loginAs('administrator');
  const portal = await vsphere.openPortal();
  await portal.getByTestId(testIds.portal.admin).click();
  const admin = portal.getByTestId(testIds.admin.page);
  await admin.getByRole('tab', { name: 'Notifications' }).click();
  const panel = admin.getByTestId(testIds.admin.notifyPanel);
  await panel.getByTestId(testIds.admin.notifyAdd('webhook')).click();
  await panel.getByRole('textbox', { name: 'Name' }).fill('Operations channel');
  await panel.getByRole('textbox', { name: 'Webhook URL (https)' }).fill(url);
  await panel.getByRole('checkbox', { name: 'Export failed' }).check();
  await vsphere.shots('notifications-add-webhook');
  await panel.getByTestId(testIds.admin.notifySave).click();

  const secretAlert = panel.getByTestId(testIds.admin.notifySecret);
  await expect(secretAlert).toContainText('it is not shown again');
  const secret = (await secretAlert.locator('code').textContent())!;
  expect(secret).toMatch(/^[0-9a-f]{64}$/);

  await panel.getByTestId(testIds.admin.notifyTest).click();
  await expect(panel.getByTestId(testIds.admin.notifyResult)).toHaveText('Delivered: HTTP 204');
  await expect(panel.getByTestId(testIds.admin.notifyLog)).toContainText('Delivered (HTTP 204)');
  await expect(panel.getByTestId(testIds.admin.notifyTable)).toContainText('Operations channel');
  await vsphere.shots('notifications-delivered');

  expect(received).toHaveLength(1);
  const [r] = received;
  expect(r!.signature).toBe(`sha256=${createHmac('sha256', secret).update(r!.body).digest('hex')}`);
  expect(JSON.parse(r!.body)).toMatchObject({ kind: 'test', test: true });
});
