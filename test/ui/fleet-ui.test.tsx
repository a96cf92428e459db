// @vitest-environment jsdom
// Issue 14 in the plug-in: a throttled copy says so in its progress line; Connector status lists the fleet's connectors;
// Administration → Bandwidth refuses a bad cap before sending and sends the cap and windows the connector takes.
import { cleanup, configure, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthSetting, type BandwidthSettingView, type FleetConnectorList, type MigrationTask } from '../../connector/contract/index.ts';
import { BandwidthPanel } from '../../ui/features/admin/BandwidthPanel.tsx';
import { FleetConnectors } from '../../ui/features/admin/FleetConnectors.tsx';
import { toUserTime } from '../../ui/features/admin/fleet.queries.ts';
import { MigrationProgress, MigrationsTab } from '../../ui/features/portal/MigrationsTab.tsx';
import { createTranslator } from '../../ui/i18n/i18n.ts';
import { testIds } from '../../ui/testIds.ts';
import { task } from './fixtures.ts';
import { API, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });
const t = createTranslator('en-US');

const copying = (over: Partial<MigrationTask>): MigrationTask =>
  task({
    id: 'mig-1',
    environmentId: 'env-1',
    vmId: 'vm-1',
    securityGroupIds: [],
    disks: [{ key: '2000', capacityBytes: 2 ** 30, expectedBytes: 2 ** 30, bytesUploaded: 2 ** 28, throughputBps: 50 * 2 ** 20, done: false }],
    percent: 20,
    throughputBps: 50 * 2 ** 20,
    ...over,
  });

const fleet: FleetConnectorList = {
  leaseMs: 30_000,
  checkedAt: '2026-12-03T10:00:00.000Z',
  connectors: [
    { id: 'conn-a', vcenterId: 'vc-uuid-1', version: '1.4.0', host: 'a.example.com', timeZone: 'Europe/Berlin', startedAt: '2026-12-03T09:00:00.000Z', heartbeatAt: '2026-12-03T09:59:58.000Z', heartbeatAgeMs: 2_000, health: 'alive', self: true, effectiveCapMBps: 50 },
    { id: 'conn-b', vcenterId: 'vc-uuid-1', version: '1.3.2', host: 'b.example.com', timeZone: 'UTC', startedAt: '2026-12-03T08:00:00.000Z', heartbeatAt: '2026-12-03T09:58:00.000Z', heartbeatAgeMs: 120_000, health: 'lost', self: false, effectiveCapMBps: null },
  ],
};
let view: BandwidthSettingView = { connectorId: 'conn-a', capMBps: null, schedule: [], timeZone: 'Europe/Berlin', utcOffsetMinutes: 60, effectiveCapMBps: null };
const puts: unknown[] = [];
let migrations: MigrationTask[] = [];
const server = setupServer(
  http.get(`${API}/migrations`, () => HttpResponse.json({ items: migrations, total: migrations.length })),
  http.get(`${API}/waves`, () => HttpResponse.json({ items: [], total: 0 })),
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'operator@vsphere.local', isAdministrator: false })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [] })),
  http.get(`${API}/fleet/connectors`, () => HttpResponse.json(fleet)),
  http.get(`${API}/fleet/connectors/:id/bandwidth`, () => HttpResponse.json(view)),
  http.put(`${API}/fleet/connectors/:id/bandwidth`, async ({ request }) => {
    const body = BandwidthSetting.parse(await request.json());
    puts.push(body);
    view = { ...view, ...body, effectiveCapMBps: body.capMBps, updatedAt: '2026-12-03T10:01:00.000Z', updatedBy: 'administrator@vsphere.local' };
    return HttpResponse.json(view);
  }),
);
beforeAll(() => server.listen());
afterEach(() => cleanup());
afterAll(() => server.close());

describe('throttled copy', () => {
  it('says the cap beside the throughput while the copy waits on it, and nothing otherwise', () => {
    render(<MigrationProgress task={copying({ throttled: { capMBps: 50 } })} t={t} />);
    expect(screen.getByTestId(testIds.fleet.throttled).textContent).toBe('Throttled: 50 MB/s cap');
    cleanup();
    render(<MigrationProgress task={copying({})} t={t} />);
    expect(screen.queryByTestId(testIds.fleet.throttled)).toBeNull();
  });
});

describe('Runs on', () => {
  it('names the connector running each task once tasks carry it, and is absent when no task names one', async () => {
    migrations = [copying({ id: 'mig-1', environmentId: 'env-1', connectorId: 'conn-b' })];
    renderWithProviders(<MigrationsTab environmentId="env-1" />);
    const row = await screen.findByTestId(testIds.portal.migrationRow('mig-1'));
    expect(screen.getByRole('columnheader', { name: /Runs on/ })).toBeTruthy();
    expect(within(row).getByTestId(testIds.fleet.runsOn).textContent).toBe('conn-b');
    cleanup();
    // Ended before tasks carried their connector: nothing to show.
    migrations = [task({ id: 'mig-2', environmentId: 'env-1', state: 'completed', phase: 'done' })];
    renderWithProviders(<MigrationsTab environmentId="env-1" />);
    await screen.findByTestId(testIds.portal.migrationRow('mig-2'));
    expect(screen.queryByRole('columnheader', { name: /Runs on/ })).toBeNull();
  });

  it('appears when the only task without a connector is a handed-back one, so everyone sees it is waiting', async () => {
    migrations = [task({ id: 'mig-1', environmentId: 'env-1' })];
    renderWithProviders(<MigrationsTab environmentId="env-1" />);
    const row = await screen.findByTestId(testIds.portal.migrationRow('mig-1'));
    expect(screen.getByRole('columnheader', { name: /Runs on/ })).toBeTruthy();
    expect(within(row).getByTestId(testIds.fleet.runsOn).textContent).toBe('Waiting for a connector');
  });

  it('says a handed-back task (no owner until a peer takes it over) is waiting for a connector; an ended one has none', async () => {
    migrations = [
      task({ id: 'mig-1', environmentId: 'env-1', connectorId: 'conn-a' }),
      task({ id: 'mig-2', environmentId: 'env-1' }),
      task({ id: 'mig-3', environmentId: 'env-1', state: 'cancelling' }),
      task({ id: 'mig-4', environmentId: 'env-1', state: 'queued', phase: 'queued' }),
      task({ id: 'mig-5', environmentId: 'env-1', state: 'failed', phase: 'uploading' }),
    ];
    renderWithProviders(<MigrationsTab environmentId="env-1" />);
    const runsOn = async (id: string) => within(await screen.findByTestId(testIds.portal.migrationRow(id))).getByTestId(testIds.fleet.runsOn).textContent;
    expect(await runsOn('mig-1')).toBe('conn-a');
    expect(await runsOn('mig-2')).toBe(t('migrations.waitingForConnector'));
    expect(await runsOn('mig-3')).toBe('Waiting for a connector');
    expect(await runsOn('mig-4')).toBe(t('common.none'));
    expect(await runsOn('mig-5')).toBe(t('common.none'));
  });
});

describe('Connector status', () => {
  it("lists every connector with its health, this one marked, and the cap in force", async () => {
    renderWithProviders(<FleetConnectors />);
    const table = await screen.findByTestId(testIds.fleet.table);
    const a = within(table).getByTestId(testIds.fleet.row('conn-a'));
    const b = within(table).getByTestId(testIds.fleet.row('conn-b'));
    expect(a.textContent).toContain('conn-a (this connector)');
    expect(within(a).getByTestId(testIds.fleet.health).textContent).toBe('Connected');
    expect(within(b).getByTestId(testIds.fleet.health).textContent).toBe('Not responding');
    expect(a.textContent).toContain('50 MB/s');
    expect(b.textContent).toContain('Unlimited');
    expect(b.textContent).toContain('(2 min ago)');
  });
});

describe('Administration → Bandwidth', () => {
  it('refuses a cap of 0 before sending, then sends the cap and a window the connector accepts', async () => {
    renderWithProviders(<BandwidthPanel />);
    const panel = await screen.findByTestId(testIds.fleet.bandwidthPanel);
    await waitFor(() => expect(within(panel).getByTestId(testIds.fleet.bandwidthCurrent).textContent).toContain('Cap now: Unlimited'));
    fireEvent.click(within(panel).getByTestId(testIds.fleet.bandwidthMode('capped')));
    fireEvent.change(within(panel).getByTestId(testIds.fleet.bandwidthCap), { target: { value: '0' } });
    expect(within(panel).getByText('Enter a whole number of MB/s from 1 to 100000.')).toBeTruthy();
    expect((within(panel).getByTestId(testIds.fleet.bandwidthSave) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(within(panel).getByTestId(testIds.fleet.bandwidthCap), { target: { value: '100' } });
    fireEvent.click(within(panel).getByTestId(testIds.fleet.bandwidthAddWindow));
    const w = within(panel).getByTestId(testIds.fleet.bandwidthWindow(0));
    fireEvent.change(within(w).getByRole('textbox', { name: 'Cap (MB/s, empty for unlimited)' }), { target: { value: '50' } });
    fireEvent.click(within(panel).getByTestId(testIds.fleet.bandwidthSave));
    await within(panel).findByTestId(testIds.fleet.bandwidthSaved);
    expect(puts).toEqual([{ capMBps: 100, schedule: [{ from: '08:00', to: '18:00', capMBps: 50 }] }]);
    expect(within(panel).getByTestId(testIds.fleet.bandwidthCurrent).textContent).toContain('Cap now: 100 MB/s');
  });

  it("shows the connector's windows in the user's time zone", () => {
    // 08:00 in UTC+1 is 07:00 UTC, 12:30 in UTC+5:30, and 02:00 the same day in UTC-5.
    const at = (offset: number) => ({ getTimezoneOffset: () => -offset }) as Date;
    expect(toUserTime('08:00', 60, at(0))).toBe('07:00');
    expect(toUserTime('08:00', 60, at(330))).toBe('12:30');
    expect(toUserTime('08:00', 60, at(-300))).toBe('02:00');
    expect(toUserTime('00:30', 60, at(0))).toBe('23:30');
  });
});
