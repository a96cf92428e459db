// @vitest-environment jsdom
// Bring back to vCenter from a completed export's row: the choices the server sends (unusable ones not selectable),
// every pre-flight blocker at once under its own field with submit disabled, then a free target submits; a running
// task's row shows its progress and cancels after the vSphere confirmation.
import { act, cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExportTask, ReturnChoices, ReturnCheck, ReturnRequestInput, ReturnTask } from '../../connector/contract/index.ts';
import { ExportsTab } from '../../ui/features/portal/ExportsTab.tsx';
import type { ConfirmationButton } from '../../ui/host/sdk-types.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });

const EXP = 'exp-00000000-0000-4000-8000-000000000001';
const exportTask: ExportTask = {
  id: EXP,
  state: 'completed',
  environmentId: 'env-prod',
  region: 'us-east-1',
  instanceId: 'i-0123456789abcdef0',
  exportTaskId: 'export-i-0a1b2c3d4e5f67890',
  bucket: 'export-to-s3-lab-us-east-1',
  s3Prefix: 'vms/',
  s3Key: 'vms/export-i-0a1b2c3d4e5f67890.ova',
  requestedBy: 'administrator@vsphere.local',
  createdAt: '2026-11-25T10:00:00.000Z',
  updatedAt: '2026-11-25T10:00:00.000Z',
};
const choices: ReturnChoices = {
  exportId: EXP,
  sourceNetworks: ['VM Network'],
  diskCapacityBytes: 1024 ** 3,
  suggestedName: 'i-0123456789abcdef0',
  folders: [
    { id: 'group-v1', name: 'Migration', path: 'DC0 / Migration', mayUse: true },
    { id: 'group-v2', name: 'Locked', path: 'DC0 / Locked', mayUse: false },
  ],
  computeResources: [{ type: 'ClusterComputeResource', id: 'domain-c1', name: 'DC0_C0', path: 'DC0', mayUse: true }],
  datastores: [{ id: 'datastore-1', name: 'LocalDS_0', path: 'DC0', mayUse: true, freeBytes: 512 * 1024 ** 2, capacityBytes: 2 * 1024 ** 3, accessible: true }],
  networks: [{ type: 'DistributedVirtualPortgroup', id: 'dvportgroup-1', name: 'DC0_DVPG0', path: 'DC0', mayUse: true }],
};
const running: ReturnTask = {
  id: 'ret-000000000001',
  state: 'running',
  phase: 'uploading',
  environmentId: 'env-prod',
  region: 'us-east-1',
  exportId: EXP,
  instanceId: 'i-0123456789abcdef0',
  bucket: exportTask.bucket,
  s3Key: exportTask.s3Key!,
  name: 'web-back',
  folderId: 'group-v1',
  computeResource: { type: 'ClusterComputeResource', id: 'domain-c1' },
  datastoreId: 'datastore-1',
  networkMappings: [],
  diskProvisioning: 'thin',
  powerOn: false,
  requestedBy: 'administrator@vsphere.local',
  percent: 40,
  bytesTotal: 1000 * 1024 ** 2,
  bytesUploaded: 400 * 1024 ** 2,
  throughputBps: 20 * 1024 ** 2,
  etaSeconds: 30,
  createdAt: '2026-11-25T11:00:00.000Z',
  updatedAt: '2026-11-25T11:00:30.000Z',
};

let returns: ReturnTask[] = [];
const preflights: ReturnRequestInput[] = [];
const started: ReturnRequestInput[] = [];
const cancelled: string[] = [];
const blockersFor = (b: ReturnRequestInput): ReturnCheck[] =>
  b.name === 'web-01'
    ? [
        { code: 'NAME_TAKEN', severity: 'blocker', message: 'A virtual machine named "web-01" already exists in the folder Migration. Choose another name.' },
        { code: 'DATASTORE_SPACE', severity: 'blocker', message: 'The datastore LocalDS_0 has 512 MB free, but the virtual disks need 1.0 GB.' },
      ]
    : [];
const server = setupServer(
  http.get(`${API}/exports`, () => HttpResponse.json({ items: [exportTask] })),
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'administrator@vsphere.local', isAdministrator: true })),
  http.get(`${API}/returns`, () => HttpResponse.json({ items: returns, total: returns.length })),
  http.get(`${API}/returns/choices`, ({ request }) => (new URL(request.url).searchParams.get('exportId') === EXP ? HttpResponse.json(choices) : HttpResponse.json({}, { status: 404 }))),
  http.post(`${API}/returns/preflight`, async ({ request }) => {
    const body = (await request.json()) as ReturnRequestInput;
    preflights.push(body);
    return HttpResponse.json({ checks: blockersFor(body), sourceNetworks: ['VM Network'], diskCapacityBytes: 1024 ** 3, datastoreFreeBytes: 512 * 1024 ** 2 });
  }),
  http.post(`${API}/returns`, async ({ request }) => {
    const body = (await request.json()) as ReturnRequestInput;
    started.push(body);
    return HttpResponse.json({ ...running, name: body.name }, { status: 202 });
  }),
  http.post(`${API}/returns/:id/cancel`, ({ params }) => {
    cancelled.push(String(params.id));
    returns = returns.map((r) => (r.id === params.id ? { ...r, state: 'cancelling' } : r));
    return HttpResponse.json(returns[0]);
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  returns = [];
  preflights.length = 0;
  started.length = 0;
  cancelled.length = 0;
});
afterAll(() => server.close());

describe('Bring back to vCenter', () => {
  it('shows every blocker under its field before submit, then submits a free target', async () => {
    renderWithProviders(<ExportsTab environmentId="env-prod" />);
    // The first render of a file loads the whole kit: on a busy machine that takes more than findBy's default second.
    fireEvent.contextMenu((await screen.findByText('export-i-0a1b2c3d4e5f67890', {}, { timeout: 10_000 })).closest('tr')!);
    fireEvent.click(screen.getByRole('menuitem', { name: 'Bring back to vCenter' }));
    const form = within(await screen.findByRole('dialog', { name: 'Bring back to vCenter' }));
    const name = await form.findByRole('textbox', { name: 'Virtual machine name' });
    expect((name as HTMLInputElement).value).toBe('i-0123456789abcdef0');
    // The folder the user may not import into is listed but cannot be chosen.
    const locked = form.getByRole('option', { name: 'DC0 / Locked — you cannot import here' }) as HTMLOptionElement;
    expect(locked.disabled).toBe(true);
    expect((form.getByRole('combobox', { name: 'Datastore' }) as HTMLSelectElement).selectedOptions[0]?.textContent).toBe('LocalDS_0 (512 MiB free of 2.0 GiB)');
    expect((form.getByRole('combobox', { name: 'Destination network for VM Network' }) as HTMLSelectElement).value).toBe('DistributedVirtualPortgroup:dvportgroup-1');

    fireEvent.change(name, { target: { value: 'web-01' } });
    const checks = await form.findByTestId('return-checks', {}, { timeout: 3000 });
    await waitFor(() => expect(within(checks).getAllByRole('listitem')).toHaveLength(2));
    expect(within(checks).getByTestId('return-check-NAME_TAKEN').textContent).toContain('Virtual machine name: A virtual machine named "web-01"');
    expect(within(checks).getByTestId('return-check-DATASTORE_SPACE').textContent).toContain('Datastore: The datastore LocalDS_0 has 512 MB free');
    // Each under its own field, too.
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(form.getByRole('combobox', { name: 'Datastore' }).getAttribute('aria-invalid')).toBe('true');
    expect((form.getByTestId('return-submit') as HTMLButtonElement).disabled).toBe(true);
    expect(preflights.at(-1)).toMatchObject({ exportId: EXP, name: 'web-01', folderId: 'group-v1', computeResource: { type: 'ClusterComputeResource', id: 'domain-c1' }, datastoreId: 'datastore-1' });

    fireEvent.change(name, { target: { value: 'web-back' } });
    fireEvent.click(form.getByTestId('return-provisioning-thick'));
    fireEvent.click(form.getByRole('checkbox', { name: 'Power on virtual machine after creation' }));
    await waitFor(() => expect(form.getByTestId('return-checks').textContent).toBe('All checks passed.'), { timeout: 3000 });
    const submit = form.getByTestId('return-submit') as HTMLButtonElement;
    await waitFor(() => expect(submit.disabled).toBe(false));
    fireEvent.click(submit);
    await waitFor(() => expect(form.getByTestId('return-started').textContent).toContain('Bringing "web-back" back to vCenter.'));
    expect(started).toEqual([
      {
        exportId: EXP,
        name: 'web-back',
        folderId: 'group-v1',
        computeResource: { type: 'ClusterComputeResource', id: 'domain-c1' },
        datastoreId: 'datastore-1',
        networkMappings: [{ sourceNetwork: 'VM Network', network: { type: 'DistributedVirtualPortgroup', id: 'dvportgroup-1' } }],
        diskProvisioning: 'thick',
        powerOn: true,
      },
    ]);
  });

  it("lists a running task's progress and cancels it from its row after the confirmation", async () => {
    returns = [running];
    const host = fakeHost();
    let confirmation: { content: string; buttons: ConfirmationButton[] } | undefined;
    host.confirm = (c) => {
      confirmation = c;
    };
    renderWithProviders(<ExportsTab environmentId="env-prod" />, host);
    const row = within(await screen.findByTestId('return-task-web-back'));
    expect(row.getByTestId('return-state').textContent).toBe('Running');
    expect(row.getByTestId('return-progress').textContent).toContain('Uploading the virtual disks · 400 MiB of 1000 MiB · 20.0 MiB/s · about 30 s left');
    fireEvent.click(row.getByRole('button', { name: 'Cancel bringing web-back back to vCenter' }));
    expect(confirmation?.content).toContain('the virtual machine it was creating is removed');
    expect(cancelled).toEqual([]);
    await act(async () => confirmation?.buttons[0]?.callback?.());
    await waitFor(() => expect(cancelled).toEqual([running.id]));
    await waitFor(() => expect(row.getByTestId('return-state').textContent).toBe('Cancelling'));
  });
});
