// @vitest-environment jsdom
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationTask, Wave } from '../../connector/contract/index.ts';
import { MigrationsTab } from '../../ui/features/portal/MigrationsTab.tsx';
import type { ConfirmationButton } from '../../ui/host/sdk-types.ts';
import { env, OPERATOR, task } from './fixtures.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

configure({ asyncUtilTimeout: 5000, testIdAttribute: 'data-test' });

const member = (id: string, vmName: string, state: MigrationTask['state']): MigrationTask =>
  task({ id, state, phase: state === 'queued' ? 'queued' : state === 'completed' ? 'done' : 'exporting', vmId: `vm-${id}`, vmName });
const wave = (over: Partial<Wave>): Wave => ({
  id: 'wav-000001',
  name: 'Web tier',
  priority: 40,
  environmentId: 'env-prod',
  mode: 'cold',
  createdBy: OPERATOR,
  createdAt: '2026-12-03T10:00:00.000Z',
  state: 'running',
  total: 3,
  counts: { queued: 1, running: 1, cancelling: 0, completed: 1, failed: 0, cancelled: 0 },
  bytesLeft: 3 * 1024 ** 3,
  etaSeconds: 125,
  taskIds: ['mig-000001', 'mig-000002', 'mig-000003'],
  window: { notBefore: '2026-12-04T03:00:00.000Z' },
  ...over,
});

let waves: Wave[] = [];
const cancelled: string[] = [];
const tasks = [member('mig-000001', 'web-01', 'completed'), member('mig-000002', 'web-02', 'running'), member('mig-000003', 'web-03', 'queued'), member('mig-000009', 'lone-vm', 'running')];
const server = setupServer(
  http.get(`${API}/migrations`, () => HttpResponse.json({ items: tasks, total: tasks.length })),
  http.get(`${API}/waves`, ({ request }) => {
    expect(new URL(request.url).searchParams.get('environmentId')).toBe('env-prod');
    return HttpResponse.json({ items: waves, total: waves.length });
  }),
  http.post(`${API}/waves/:id/cancel`, ({ params }) => {
    cancelled.push(String(params['id']));
    waves = waves.map((w) => (w.id === params['id'] ? { ...w, state: 'cancelling' } : w));
    return HttpResponse.json(waves.find((w) => w.id === params['id']));
  }),
  http.get(`${API}/me`, () => HttpResponse.json({ userName: OPERATOR, isAdministrator: false })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [env()] })),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  waves = [];
  cancelled.length = 0;
});
afterAll(() => server.close());

describe('VM-to-EC2 Migrations: wave rows', () => {
  it('sums up a wave, narrows the task list to it, and cancels it after the vSphere confirmation', async () => {
    waves = [wave({})];
    const host = fakeHost();
    let confirmation: { title: string; content: string; buttons: ConfirmationButton[] } | undefined;
    host.confirm = (c) => {
      confirmation = c;
    };
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, host);
    const row = await screen.findByTestId('waves-row:Web tier');
    expect(within(row).getByTestId('waves-state').textContent).toBe('Running');
    expect(within(row).getByTestId('waves-counts').textContent).toBe('1 running · 1 queued · 1 completed');
    expect(within(row).getByTestId('waves-progress').textContent).toBe('3.0 GiB left, about 2 min 5 s');

    // All four tasks, then only the wave's three.
    expect(await screen.findByText('lone-vm')).toBeTruthy();
    fireEvent.click(within(row).getByRole('button', { name: 'Web tier: show the migrations of this wave' }));
    expect(screen.getByTestId('waves-filtered').textContent).toContain('Showing the 3 migration(s) of wave Web tier.');
    expect(screen.queryByText('lone-vm')).toBeNull();
    expect(screen.getByText('web-03')).toBeTruthy();
    fireEvent.click(screen.getByTestId('waves-show-all'));
    expect(screen.getByText('lone-vm')).toBeTruthy();

    fireEvent.click(within(row).getByRole('button', { name: 'Cancel wave Web tier' }));
    expect(confirmation?.title).toBe('Cancel Wave');
    // Two of the three have not ended: the confirmation says how many it cancels and what it leaves alone.
    expect(confirmation?.content).toBe(
      'Cancel the wave Web tier? Its 2 migration task(s) that have not ended are cancelled and what they created in AWS is cleaned up. Completed migrations and their instances are not affected.',
    );
    expect(cancelled).toEqual([]);
    confirmation?.buttons.find((b) => b.label === 'Cancel Wave')?.callback?.();
    await waitFor(() => expect(cancelled).toEqual(['wav-000001']));
    await waitFor(() => expect(within(screen.getByTestId('waves-row:Web tier')).getByTestId('waves-state').textContent).toBe('Cancelling'));
    expect(within(screen.getByTestId('waves-row:Web tier')).queryByRole('button', { name: 'Cancel wave Web tier' })).toBeNull();
  });

  it('shows no wave section when the environment has none, and no Cancel for an ended wave', async () => {
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, fakeHost());
    expect(await screen.findByText('lone-vm')).toBeTruthy();
    expect(screen.queryByTestId('waves-panel')).toBeNull();
    cleanup();
    waves = [wave({ state: 'completed', counts: { queued: 0, running: 0, cancelling: 0, completed: 3, failed: 0, cancelled: 0 }, bytesLeft: 0 })];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, fakeHost());
    const row = await screen.findByTestId('waves-row:Web tier');
    expect(within(row).getByTestId('waves-counts').textContent).toBe('3 completed');
    expect(within(row).queryByRole('button', { name: 'Cancel wave Web tier' })).toBeNull();
    cleanup();
    // The not-after time passed before any started: the row says the window closed rather than when it opens.
    waves = [wave({ state: 'cancelled', counts: { queued: 0, running: 0, cancelling: 0, completed: 0, failed: 0, cancelled: 3 }, windowClosedAt: '2026-12-04T05:00:00.000Z' })];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />, fakeHost());
    expect((await screen.findByTestId('waves-row:Web tier')).textContent).toMatch(/Window closed .*2026.*: migrations not started by then were cancelled/);
  });
});
