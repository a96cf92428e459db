// @vitest-environment jsdom
// Issue 15: Administration → Notifications. Adding a webhook sends the contract's body and shows the signing secret
// once; Send test shows the connector's verdict and the delivery log; e-mail is offered only with a relay configured.
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Environment, NotificationDelivery, NotificationTarget, NotificationTargetInput } from '../../connector/contract/index.ts';
import { NotificationTargetInput as InputSchema } from '../../connector/contract/index.ts';
import { NotificationsPanel } from '../../ui/features/admin/NotificationsPanel.tsx';
import { testIds } from '../../ui/testIds.ts';
import { API, renderWithProviders } from './render.tsx';

configure({ asyncUtilTimeout: 5000, testIdAttribute: 'data-test' });

const env = { id: 'env-prod', name: 'Production' } as Environment;
let targets: NotificationTarget[] = [];
let relay: string | undefined;
const bodies: NotificationTargetInput[] = [];
const log: NotificationDelivery[] = [];
const server = setupServer(
  http.get(`${API}/notifications/targets`, () => HttpResponse.json({ targets, email: relay ? { configured: true, relay } : { configured: false } })),
  http.post(`${API}/notifications/targets`, async ({ request }) => {
    const body = InputSchema.parse(await request.json());
    bodies.push(body);
    const created: NotificationTarget = {
      id: 'nt-1',
      kind: body.kind,
      name: body.name,
      ...(body.kind === 'webhook' ? { url: body.url } : { recipients: body.recipients }),
      events: body.events,
      environmentIds: body.environmentIds,
      createdBy: 'admin',
      createdAt: '2026-12-03T17:00:00.000Z',
      updatedAt: '2026-12-03T17:00:00.000Z',
    };
    targets = [created];
    return HttpResponse.json({ ...created, secret: 'a1b2c3d4e5f6' }, { status: 201 });
  }),
  http.post(`${API}/notifications/targets/:id/test`, () => {
    const d: NotificationDelivery = { id: 1, at: '2026-12-03T17:01:00.000Z', notificationId: 'ntf-test-1', event: 'test', outcome: 'delivered', attempt: 1, statusCode: 204, message: 'HTTP 204', durationMs: 12 };
    log.unshift(d);
    targets = targets.map((x) => ({ ...x, lastDelivery: d }));
    return HttpResponse.json(d);
  }),
  http.get(`${API}/notifications/targets/:id/deliveries`, () => HttpResponse.json({ deliveries: log })),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  targets = [];
  relay = undefined;
  bodies.length = 0;
  log.length = 0;
});
afterAll(() => server.close());

describe('Administration → Notifications', () => {
  it('adds a webhook, shows its secret once, sends a test and shows it in the delivery log', async () => {
    renderWithProviders(<NotificationsPanel environments={[env]} />);
    expect(await screen.findByText('No notification targets.')).toBeTruthy();
    expect((screen.getByTestId(testIds.admin.notifyAdd('email')) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId(testIds.admin.notifyAdd('webhook')));
    fireEvent.change(screen.getByTestId(testIds.admin.notifyName), { target: { value: 'Ops channel' } });
    fireEvent.change(screen.getByTestId(testIds.admin.notifyAddress), { target: { value: 'https://hooks.example.com/vm2ec2' } });
    fireEvent.click(screen.getByTestId(testIds.admin.notifyEvent('cutover.ready')));
    fireEvent.click(screen.getByRole('checkbox', { name: 'Connector unhealthy' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'Production' }));
    fireEvent.click(screen.getByTestId(testIds.admin.notifySave));
    await waitFor(() => expect(bodies).toHaveLength(1));
    expect(bodies[0]).toEqual({ kind: 'webhook', name: 'Ops channel', url: 'https://hooks.example.com/vm2ec2', events: ['migration.completed', 'migration.failed', 'cutover.ready', 'connector.unhealthy'], environmentIds: ['env-prod'] });
    expect((await screen.findByTestId(testIds.admin.notifySecret)).textContent).toContain('a1b2c3d4e5f6');
    const row = await screen.findByTestId(testIds.admin.notifyRow('nt-1'));
    expect(row.textContent).toContain('Ready to cut over');

    fireEvent.click(screen.getByTestId(testIds.admin.notifyTest));
    expect((await screen.findByTestId(testIds.admin.notifyResult)).textContent).toBe('Delivered: HTTP 204');
    const logTable = await screen.findByTestId(testIds.admin.notifyLog);
    await waitFor(() => expect(within(logTable).getByText('Delivered (HTTP 204)')).toBeTruthy());
  });

  it('offers e-mail when the connector has a relay, and says which', async () => {
    relay = 'smtp.example.com:587';
    renderWithProviders(<NotificationsPanel environments={[]} />);
    expect(await screen.findByText('E-mail goes through the SMTP relay smtp.example.com:587.')).toBeTruthy();
    expect((screen.getByTestId(testIds.admin.notifyAdd('email')) as HTMLButtonElement).disabled).toBe(false);
  });
});
