// @vitest-environment jsdom
import { act, cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExportTask } from '../../connector/contract/index.ts';
import { ExportsTab } from '../../ui/features/portal/ExportsTab.tsx';
import type { ConfirmationButton } from '../../ui/host/sdk-types.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });

const exportTask = (over: Partial<ExportTask>): ExportTask => ({
  id: 'exp-000001',
  state: 'active',
  environmentId: 'env-prod',
  region: 'us-east-1',
  instanceId: 'i-0123456789abcdef0',
  exportTaskId: 'export-i-0a1b2c3d4e5f67890',
  bucket: 'export-to-s3-lab-us-east-1',
  s3Prefix: 'vms/web',
  requestedBy: 'administrator@vsphere.local',
  createdAt: '2026-11-25T10:00:00.000Z',
  updatedAt: '2026-11-25T10:00:00.000Z',
  ...over,
});

let items: ExportTask[] = [];
const cancelled: string[] = [];
const server = setupServer(
  http.get(`${API}/exports`, () => HttpResponse.json({ items })),
  // Bring back to vCenter tasks are listed under the exports.
  http.get(`${API}/returns`, () => HttpResponse.json({ items: [], total: 0 })),
  // The tab is the administrator's (the portal asks who the user is).
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'administrator@vsphere.local', isAdministrator: true })),
  http.post(`${API}/exports/:id/cancel`, ({ params }) => {
    cancelled.push(String(params.id));
    items = items.map((e) => (e.id === params.id ? { ...e, state: 'cancelling' } : e));
    return HttpResponse.json(items.find((e) => e.id === params.id));
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  items = [];
  cancelled.length = 0;
});
afterAll(() => server.close());

describe('EC2-to-S3 Migrations tab', () => {
  it('cancels an export through the row context menu and the vSphere confirmation', async () => {
    items = [exportTask({}), exportTask({ id: 'exp-000002', environmentId: 'env-other', exportTaskId: 'export-i-0ffffffffffffffff' })];
    const host = fakeHost();
    let confirmation: { content: string; buttons: ConfirmationButton[] } | undefined;
    host.confirm = (c) => {
      confirmation = c;
    };
    renderWithProviders(<ExportsTab environmentId="env-prod" />, host);
    const cell = await screen.findByText('export-i-0a1b2c3d4e5f67890');
    // Only this environment's exports are listed.
    expect(screen.queryByText('export-i-0ffffffffffffffff')).toBeNull();
    fireEvent.contextMenu(cell.closest('tr')!);
    fireEvent.click(screen.getByRole('menuitem', { name: 'Cancel Export Task' }));
    expect(confirmation?.content).toContain('export-i-0a1b2c3d4e5f67890');
    expect(cancelled).toEqual([]);
    const labels = confirmation?.buttons.map((b) => b.label);
    expect(labels).toEqual(['Continue', 'Cancel']);
    await act(async () => confirmation?.buttons[0]?.callback?.());
    await waitFor(() => expect(cancelled).toEqual(['exp-000001']));
    await waitFor(() => expect(screen.getByText('Cancelling')).toBeTruthy());
  });

  it('says what each export is doing: the phase and time so far while running (EC2 reports no percentage), else the outcome', async () => {
    const started = new Date(Date.now() - 4 * 60_000 - 5_000).toISOString();
    items = [
      exportTask({ createdAt: started, statusMessage: 'Running' }),
      exportTask({ id: 'exp-000002', exportTaskId: 'export-i-0000000000000000b', createdAt: started }),
      exportTask({ id: 'exp-000003', exportTaskId: 'export-i-0000000000000000c', state: 'completed', s3Key: 'vms/web/export-i-0000000000000000c.ova' }),
      exportTask({ id: 'exp-000004', exportTaskId: 'export-i-0000000000000000d', state: 'failed', statusMessage: 'EC2 could not export i-0123456789abcdef0 (ClientError: root volume).' }),
    ];
    renderWithProviders(<ExportsTab environmentId="env-prod" />);
    const statusOf = async (exportTaskId: string) => within((await screen.findByText(exportTaskId)).closest('tr')!).getByTestId('export-status');
    const running = await statusOf('export-i-0a1b2c3d4e5f67890');
    expect(running.textContent).toBe('Exporting the instance to Amazon S3 · EC2: Running · 4 min so far');
    expect(running.getAttribute('title')).toContain('no percentage');
    expect((await statusOf('export-i-0000000000000000b')).textContent).toBe('Exporting the instance to Amazon S3 · 4 min so far');
    expect((await statusOf('export-i-0000000000000000c')).textContent).toBe('The OVA file is in the export bucket');
    expect((await statusOf('export-i-0000000000000000d')).textContent).toBe('EC2 could not export i-0123456789abcdef0 (ClientError: root volume).');
    expect(screen.queryByRole('progressbar')).toBeNull();
  });

  it('opens the row menu from the keyboard and offers cancel only for exports in progress', async () => {
    items = [exportTask({ state: 'completed', s3Key: 'vms/web/export-i-0a1b2c3d4e5f67890.ova' })];
    renderWithProviders(<ExportsTab environmentId="env-prod" />);
    const row = (await screen.findByText('export-i-0a1b2c3d4e5f67890')).closest('tr')!;
    fireEvent.keyDown(row, { key: 'ContextMenu' });
    expect((screen.getByRole('menuitem', { name: 'Cancel Export Task' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.keyDown(document, { key: 'Escape' });
    expect(screen.queryByRole('menu')).toBeNull();
  });
});
