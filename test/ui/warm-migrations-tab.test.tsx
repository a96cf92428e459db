// @vitest-environment jsdom
import { act, cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { formatWhen } from '../../ui/features/portal/MigrationProgress.tsx';
import { MigrationsTab } from '../../ui/features/portal/MigrationsTab.tsx';
import type { ConfirmationButton } from '../../ui/host/sdk-types.ts';
import { env, OPERATOR, task, warmView } from './fixtures.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });

const warmTask = (id: string, over: Partial<MigrationTask>): MigrationTask => task({ id, phase: 'replicating', mode: 'warm', ...over });
const prod = env({ subnetIds: ['subnet-0a1b2c3d4e5f67890', 'subnet-0b1b2c3d4e5f67890'] });

const LAST_SYNC = '2026-12-03T10:40:00.000Z';
let items: MigrationTask[] = [];
let me = { userName: OPERATOR, isAdministrator: false };
const calls: { path: string; body: unknown }[] = [];
const record = async (request: Request) => {
  const text = await request.text();
  calls.push({ path: new URL(request.url).pathname.replace(/^.*\/api\/v1/, ''), body: text ? (JSON.parse(text) as unknown) : undefined });
};
const server = setupServer(
  http.get(`${API}/migrations`, () => HttpResponse.json({ items, total: items.length })),
  // The tab also lists the environment's waves (issue 14): none here.
  http.get(`${API}/waves`, () => HttpResponse.json({ items: [], total: 0 })),
  http.get(`${API}/me`, () => HttpResponse.json(me)),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [prod] })),
  http.get(`${API}/environments/env-prod/subnets`, () =>
    HttpResponse.json({
      subnets: [
        { id: 'subnet-0a1b2c3d4e5f67890', vpcId: prod.vpcId, name: 'app-a', cidrBlock: '10.0.1.0/24', availabilityZone: 'us-east-1a', availableIpAddressCount: 250 },
        { id: 'subnet-0b1b2c3d4e5f67890', vpcId: prod.vpcId, name: 'test-b', cidrBlock: '10.0.2.0/24', availabilityZone: 'us-east-1b', availableIpAddressCount: 251 },
      ],
    }),
  ),
  http.post(`${API}/migrations/:id/test-instance`, async ({ request, params }) => {
    await record(request);
    items = items.map((m) => (m.id === params.id ? { ...m, warm: { ...m.warm!, test: { state: 'launching', subnetId: 'subnet-0b1b2c3d4e5f67890', requestedBy: OPERATOR, requestedAt: LAST_SYNC } } } : m));
    return HttpResponse.json(items.find((m) => m.id === params.id));
  }),
  http.post(`${API}/migrations/:id/test-instance/finish`, async ({ request, params }) => {
    await record(request);
    return HttpResponse.json(items.find((m) => m.id === params.id));
  }),
  http.post(`${API}/migrations/:id/cutover`, async ({ request, params }) => {
    await record(request);
    return HttpResponse.json(items.find((m) => m.id === params.id));
  }),
  http.post(`${API}/migrations/:id/cancel`, async ({ request, params }) => {
    await record(request);
    return HttpResponse.json(items.find((m) => m.id === params.id));
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  items = [];
  me = { userName: OPERATOR, isAdministrator: false };
  calls.length = 0;
});
afterAll(() => server.close());

const at = (iso: string) => formatWhen(iso);
const rowOf = async (id: string) => (await screen.findByTestId(`portal-migration-${id}`)) as HTMLTableRowElement;
const fact = (row: HTMLElement, name: string) => within(row).queryByTestId(`migration-warm-${name}`)?.textContent ?? null;
/** Opens a row's Actions menu and returns its items by label. */
const openActions = async (id: string) => {
  fireEvent.click(await screen.findByRole('button', { name: `Actions for migration task ${id}` }));
  const menu = screen.getByRole('menu', { name: `Actions for migration task ${id}` });
  const item = (name: string) => within(menu).getByRole('menuitem', { name }) as HTMLButtonElement;
  return { menu, item };
};
function captureConfirm() {
  const host = fakeHost();
  const seen: { title: string; content: string; buttons: ConfirmationButton[] }[] = [];
  host.confirm = (c) => void seen.push(c);
  return { host, seen };
}

describe('formatWhen', () => {
  it('shows the time alone for today, else the date too, in the locale', () => {
    const now = new Date(2026, 11, 3, 15, 0, 0);
    expect(formatWhen(new Date(2026, 11, 3, 10, 40, 5).toISOString(), now)).toBe(new Date(2026, 11, 3, 10, 40, 5).toLocaleTimeString());
    expect(formatWhen(new Date(2026, 11, 2, 23, 59, 0).toISOString(), now)).toBe(new Date(2026, 11, 2, 23, 59, 0).toLocaleString());
    expect(formatWhen(new Date(2026, 11, 2, 23, 59, 0).toISOString(), now)).toContain('2026');
  });
});

describe('VM-to-EC2 Migrations tab: warm migrations', () => {
  it('shows each phase with its facts: initial sync with bytes and ETA, replication lag and last cycle, full sync, test, cutover, downtime', async () => {
    items = [
      warmTask('mig-initial', {
        phase: 'initial-sync',
        percent: 40,
        throughputBps: 50 * 1024 ** 2,
        etaSeconds: 100,
        disks: [{ key: 'Hard disk 1', capacityBytes: 2 * 1024 ** 3, expectedBytes: 1024 ** 3, bytesUploaded: 400 * 1024 ** 2, throughputBps: 50 * 1024 ** 2, done: false }],
        warm: warmView({ cycles: 0, cycleRunning: true, fullSync: true, fullSyncReason: 'first sync of every disk' }),
      }),
      warmTask('mig-repl', {
        warm: warmView({ lastSyncAt: LAST_SYNC, lastCycleChangedBytes: 3 * 1024 ** 2, lastCycleSentBytes: 3.5 * 1024 ** 2, lagSeconds: 125, nextCycleAt: '2026-12-03T10:55:00.000Z' }),
      }),
      warmTask('mig-reset', { warm: warmView({ cycleRunning: true, fullSync: true, fullSyncReason: 'Changed Block Tracking was reset on the VM', lastSyncAt: LAST_SYNC, lagSeconds: 30 }) }),
      warmTask('mig-test', { warm: warmView({ lastSyncAt: LAST_SYNC, lagSeconds: 60, test: { state: 'running', subnetId: 'subnet-0b1b2c3d4e5f67890', requestedBy: OPERATOR, requestedAt: LAST_SYNC, instanceId: 'i-0aaaaaaaaaaaaaaa1' } }) }),
      warmTask('mig-cut', { phase: 'cutting-over', percent: 80, warm: warmView({ lastSyncAt: LAST_SYNC, lagSeconds: 90, cutover: { requestedBy: OPERATOR, requestedAt: LAST_SYNC } }) }),
      warmTask('mig-done', {
        state: 'completed',
        phase: 'done',
        percent: 100,
        instanceId: 'i-0bbbbbbbbbbbbbbb2',
        warm: warmView({
          cycles: 6,
          lastSyncAt: LAST_SYNC,
          lastCycleChangedBytes: 1024 ** 2,
          imagePath: 'import-image',
          cutover: { requestedBy: OPERATOR, requestedAt: LAST_SYNC, sourcePoweredOffAt: '2026-12-03T10:41:00.000Z', instanceLaunchedAt: '2026-12-03T10:43:05.000Z', downtimeSeconds: 125 },
        }),
      }),
    ];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);

    const initial = await rowOf('mig-initial');
    expect(within(initial).getByTestId('migration-warm-stage').parentElement!.textContent).toBe('Initial sync: copying the disks into Amazon EBS · 50.0 MiB/s · about 1 min 40 s left');
    expect(within(initial).getByRole('progressbar').getAttribute('value')).toBe('40');
    expect(fact(initial, 'copied')).toBe('Copied 400 MiB of 1.0 GiB');
    expect(fact(initial, 'full-sync')).toBe('Full sync: first sync of every disk');
    expect(fact(initial, 'lag')).toBeNull();

    const repl = await rowOf('mig-repl');
    expect(within(repl).getByTestId('migration-warm-stage').textContent).toBe('Replicating');
    // No end to measure against while replicating: the facts replace the bar.
    expect(within(repl).queryByRole('progressbar')).toBeNull();
    expect(fact(repl, 'last-sync')).toBe(`Last sync: ${at(LAST_SYNC)}`);
    expect(fact(repl, 'changed')).toBe('Changed in last cycle: 3.0 MiB (3.5 MiB sent)');
    expect(fact(repl, 'lag')).toBe('Replication lag (RPO): 2 min 5 s');
    expect(fact(repl, 'next-sync')).toBe(`Next sync: ${at('2026-12-03T10:55:00.000Z')}`);
    expect(fact(repl, 'full-sync')).toBeNull();
    expect(fact(repl, 'copied')).toBeNull();

    const reset = await rowOf('mig-reset');
    expect(within(reset).getByTestId('migration-warm-stage').textContent).toBe('Replicating · copying changed blocks');
    expect(fact(reset, 'full-sync')).toBe('Full sync: Changed Block Tracking was reset on the VM');
    expect(fact(reset, 'next-sync')).toBe('Next sync: In progress');

    const test = await rowOf('mig-test');
    expect(within(test).getByTestId('migration-warm-stage').textContent).toBe('Test instance running');
    expect(fact(test, 'test')).toBe('Test instance: i-0aaaaaaaaaaaaaaa1');

    const cut = await rowOf('mig-cut');
    expect(within(cut).getByTestId('migration-warm-stage').textContent).toBe('Cutting over · shutting down the guest OS');
    expect(fact(cut, 'lag')).toBeNull();
    expect(fact(cut, 'next-sync')).toBeNull();

    const done = await rowOf('mig-done');
    expect(within(done).getByTestId('migration-warm-stage').textContent).toBe('Completed');
    expect(fact(done, 'downtime')).toBe(`Downtime: 2 min 5 s (VM powered off ${at('2026-12-03T10:41:00.000Z')}, instance launched ${at('2026-12-03T10:43:05.000Z')})`);
    expect(fact(done, 'instance')).toBe('Instance ID: i-0bbbbbbbbbbbbbbb2');
    expect(fact(done, 'changed')).toBeNull();
    expect(fact(done, 'image-path')).toBe('Image: VM Import (AWS installed the drivers)');
    expect(within(done).getByTestId('migration-instance').textContent).toBe('i-0bbbbbbbbbbbbbbb2');
    expect(fact(done, 'lag')).toBeNull();
    // A finished task has no actions.
    expect(within(done).queryByRole('button', { name: /Actions for/ })).toBeNull();
  });

  it('offers the actions each phase allows', async () => {
    items = [
      warmTask('mig-initial', { phase: 'initial-sync', percent: 10, warm: warmView({ cycles: 0, cycleRunning: true }) }),
      warmTask('mig-repl', { warm: warmView({ lastSyncAt: LAST_SYNC }) }),
      warmTask('mig-test', { warm: warmView({ lastSyncAt: LAST_SYNC, test: { state: 'running', subnetId: prod.subnetIds[1]!, requestedBy: OPERATOR, requestedAt: LAST_SYNC, instanceId: 'i-0aaaaaaaaaaaaaaa1' } }) }),
      warmTask('mig-cut', { phase: 'cutting-over', warm: warmView({ cutover: { requestedBy: OPERATOR, requestedAt: LAST_SYNC } }) }),
    ];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);
    const enabled = async (id: string) => {
      const { item } = await openActions(id);
      const names = ['Launch test instance', 'Finish test', 'Cut over', 'Stop replication'].filter((n) => !item(n).disabled);
      fireEvent.keyDown(document, { key: 'Escape' });
      return names;
    };
    expect(await enabled('mig-initial')).toEqual(['Stop replication']);
    expect(await enabled('mig-repl')).toEqual(['Launch test instance', 'Cut over', 'Stop replication']);
    expect(await enabled('mig-test')).toEqual(['Finish test', 'Cut over', 'Stop replication']);
    expect(await enabled('mig-cut')).toEqual(['Stop replication']);
    // A disabled item says when it becomes available.
    const { item } = await openActions('mig-initial');
    expect(item('Cut over').title).toBe('Available after the initial sync, while no test instance is being launched or finished.');
  });

  it('launches a test instance in the subnet the user picks and shows its instance ID once running', async () => {
    items = [warmTask('mig-repl', { warm: warmView({ lastSyncAt: LAST_SYNC }) })];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);
    const { item } = await openActions('mig-repl');
    fireEvent.click(item('Launch test instance'));
    const dialog = await screen.findByRole('dialog', { name: 'Launch test instance' });
    expect(dialog.textContent).toContain(`Launches an instance of ubuntu-web-01 from the last sync (${at(LAST_SYNC)})`);
    const subnet = within(dialog).getByRole('combobox', { name: 'Subnet' }) as HTMLSelectElement;
    // The migration's own subnet first; the user may pick another of the environment.
    await waitFor(() => expect(subnet.value).toBe('subnet-0a1b2c3d4e5f67890'));
    fireEvent.change(subnet, { target: { value: 'subnet-0b1b2c3d4e5f67890' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Launch' }));
    await waitFor(() => expect(calls).toEqual([{ path: '/migrations/mig-repl/test-instance', body: { subnetId: 'subnet-0b1b2c3d4e5f67890' } }]));
    expect(await within(dialog).findByText('Launching the test instance from the last sync…')).toBeTruthy();
    // The engine reports the instance running: the list refreshes and the dialog shows its ID.
    items = items.map((m) => ({ ...m, warm: { ...m.warm!, test: { ...m.warm!.test!, state: 'running', instanceId: 'i-0ccccccccccccccc3' } } }));
    // The list polls while a task is active.
    await waitFor(() => expect(within(dialog).getByTestId('portal-test-instance-id').textContent).toBe('i-0ccccccccccccccc3'), { timeout: 6000 });
  });

  it('cuts over only after a confirmation saying the VM is shut down, one final sync, then the launch', async () => {
    items = [warmTask('mig-guest', { warm: warmView({ lastSyncAt: LAST_SYNC }) }), warmTask('mig-user', { vmName: 'rhel-db-01', warm: warmView({ shutdown: 'user', lastSyncAt: LAST_SYNC }) })];
    const { host, seen } = captureConfirm();
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, host);
    fireEvent.click((await openActions('mig-guest')).item('Cut over'));
    expect(seen[0]?.title).toBe('Cut Over to Amazon EC2');
    expect(seen[0]?.content).toBe(
      'The VM ubuntu-web-01 will be shut down (Shut Down Guest OS, through VMware Tools). Once it is powered off, one final sync copies the blocks changed since the last sync, then the instance is launched. Downtime starts when the VM powers off. The VM stays powered off afterwards.',
    );
    expect(seen[0]?.buttons.map((b) => b.label)).toEqual(['Cut over', 'Cancel']);
    expect(calls).toEqual([]);
    await act(async () => seen[0]?.buttons[0]?.callback?.());
    await waitFor(() => expect(calls).toEqual([{ path: '/migrations/mig-guest/cutover', body: undefined }]));

    fireEvent.click((await openActions('mig-user')).item('Cut over'));
    expect(seen[1]?.content).toBe(
      'You must power off the VM rhel-db-01 yourself: the connector waits until it is powered off. Then one final sync copies the blocks changed since the last sync, and the instance is launched. Downtime starts when the VM powers off. The VM stays powered off afterwards.',
    );
    // Cancel in the confirmation does nothing.
    await act(async () => seen[1]?.buttons[1]?.callback?.());
    expect(calls).toHaveLength(1);

    // A running test instance is ended first, and the confirmation says so.
    cleanup();
    items = [warmTask('mig-test', { warm: warmView({ lastSyncAt: LAST_SYNC, test: { state: 'running', subnetId: prod.subnetIds[1]!, requestedBy: OPERATOR, requestedAt: LAST_SYNC, instanceId: 'i-0aaaaaaaaaaaaaaa1' } }) })];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, host);
    fireEvent.click((await openActions('mig-test')).item('Cut over'));
    expect(seen[2]?.content).toMatch(/The VM stays powered off afterwards\. The test instance i-0aaaaaaaaaaaaaaa1 is terminated first\.$/);
  });

  it('Stop replication and Finish test say what they remove before doing it', async () => {
    items = [warmTask('mig-test', { warm: warmView({ lastSyncAt: LAST_SYNC, test: { state: 'running', subnetId: prod.subnetIds[0]!, requestedBy: OPERATOR, requestedAt: LAST_SYNC, instanceId: 'i-0aaaaaaaaaaaaaaa1' } }) })];
    const { host, seen } = captureConfirm();
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, host);
    fireEvent.click((await openActions('mig-test')).item('Finish test'));
    expect(seen[0]?.content).toBe('Finish the test of ubuntu-web-01? The test instance i-0aaaaaaaaaaaaaaa1 is terminated and its image deregistered. Replication continues.');
    await act(async () => seen[0]?.buttons[0]?.callback?.());
    await waitFor(() => expect(calls.map((c) => c.path)).toEqual(['/migrations/mig-test/test-instance/finish']));

    fireEvent.click((await openActions('mig-test')).item('Stop replication'));
    expect(seen[1]?.title).toBe('Stop Replication');
    expect(seen[1]?.content).toContain('Everything this replication created is removed on both sides: its vCenter snapshot, the Amazon EBS snapshots, and any test instance with its image');
    expect(seen[1]?.buttons.map((b) => [b.label, b.style])).toEqual([
      ['Stop replication', 'DANGER'],
      ['Cancel', undefined],
    ]);
    await act(async () => seen[1]?.buttons[0]?.callback?.());
    await waitFor(() => expect(calls.map((c) => c.path)).toEqual(['/migrations/mig-test/test-instance/finish', '/migrations/mig-test/cancel']));
  });

  it("shows the server's refusal, and tells others in advance who may act", async () => {
    items = [warmTask('mig-repl', { warm: warmView({ lastSyncAt: LAST_SYNC }) })];
    server.use(
      http.post(`${API}/migrations/:id/cutover`, () =>
        HttpResponse.json({ code: 'WARM_ACTION_NOT_AVAILABLE', message: 'The initial sync of ubuntu-web-01 has not finished yet; cut over once it is replicating.' }, { status: 409 }),
      ),
    );
    const { host, seen } = captureConfirm();
    const view = renderWithProviders(<MigrationsTab environmentId="env-prod" />, host);
    fireEvent.click((await openActions('mig-repl')).item('Cut over'));
    await act(async () => seen[0]?.buttons[0]?.callback?.());
    const alert = await screen.findByTestId('api-error');
    expect(alert.textContent).toContain('The initial sync of ubuntu-web-01 has not finished yet');
    expect(alert.textContent).toContain('WARM_ACTION_NOT_AVAILABLE');
    view.unmount();

    me = { userName: 'someone@vsphere.local', isAdministrator: false };
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);
    await rowOf('mig-repl');
    await waitFor(async () => {
      const { item } = await openActions('mig-repl');
      expect(item('Cut over').disabled).toBe(true);
      expect(item('Stop replication').title).toBe('You cannot change this migration task. The user who requested it, an environment Owner or an administrator can do this.');
      fireEvent.keyDown(document, { key: 'Escape' });
    });
  });
});
