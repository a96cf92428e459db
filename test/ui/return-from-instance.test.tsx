// @vitest-environment jsdom
// Bring back to vCenter from an imported instance's row (Imported Instances): administrators open the same form, which
// asks the server for the instance (not an export) and submits it; what the export would refuse shows before any
// choice; others see the action disabled with the reason; the task's row shows both steps.
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReturnChoices, ReturnRequestInput, ReturnTask } from '../../connector/contract/index.ts';
import { ExportsTab } from '../../ui/features/portal/ExportsTab.tsx';
import { InstancesTab } from '../../ui/features/portal/InstancesTab.tsx';
import { testIds } from '../../ui/testIds.ts';
import { API, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });
// jsdom has no layout: the table's column fitting observes nothing here.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

const INSTANCE = 'i-0123456789abcdef0';
const choices: ReturnChoices = {
  instanceId: INSTANCE,
  sourceNetworks: ['VM Network'],
  diskCapacityBytes: 1024 ** 3,
  suggestedName: INSTANCE,
  folders: [{ id: 'group-v1', name: 'Migration', path: 'DC0 / Migration', mayUse: true }],
  computeResources: [{ type: 'ClusterComputeResource', id: 'domain-c1', name: 'DC0_C0', path: 'DC0', mayUse: true }],
  datastores: [{ id: 'datastore-1', name: 'LocalDS_0', path: 'DC0', mayUse: true, freeBytes: 2 * 1024 ** 3, capacityBytes: 4 * 1024 ** 3, accessible: true }],
  networks: [{ type: 'DistributedVirtualPortgroup', id: 'dvportgroup-1', name: 'DC0_DVPG0', path: 'DC0', mayUse: true }],
};
const exporting: ReturnTask = {
  id: 'ret-000000000002',
  state: 'running',
  phase: 'exporting',
  source: 'instance',
  environmentId: 'env-prod',
  region: 'us-east-1',
  exportId: 'exp-00000000-0000-4000-8000-000000000002',
  exportTaskId: 'export-i-0fedcba9876543210',
  instanceId: INSTANCE,
  bucket: 'export-to-s3-lab-us-east-1',
  s3Key: '',
  name: 'web-back',
  folderId: 'group-v1',
  computeResource: { type: 'ClusterComputeResource', id: 'domain-c1' },
  datastoreId: 'datastore-1',
  networkMappings: [],
  diskProvisioning: 'thin',
  powerOn: false,
  requestedBy: 'administrator@vsphere.local',
  percent: 0,
  bytesUploaded: 0,
  createdAt: '2026-11-25T11:00:00.000Z',
  updatedAt: '2026-11-25T11:00:30.000Z',
};

let isAdministrator = true;
let refusal: string | undefined;
const choiceQueries: string[] = [];
const preflights: ReturnRequestInput[] = [];
const started: ReturnRequestInput[] = [];
const server = setupServer(
  http.get(`${API}/me`, () => HttpResponse.json({ userName: isAdministrator ? 'administrator@vsphere.local' : 'operator@vsphere.local', isAdministrator })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [] })),
  http.get(`${API}/instances`, () => HttpResponse.json({ items: [{ instanceId: INSTANCE, state: 'running' }] })),
  http.get(`${API}/exports`, () => HttpResponse.json({ items: [] })),
  http.get(`${API}/returns`, () => HttpResponse.json({ items: [exporting], total: 1 })),
  http.get(`${API}/returns/choices`, ({ request }) => {
    choiceQueries.push(new URL(request.url).search);
    if (refusal) return HttpResponse.json({ code: 'RETURN_BLOCKED', message: refusal, details: { checks: [{ code: 'INSTANCE_NOT_EXPORTABLE', severity: 'blocker', message: refusal }] } }, { status: 422 });
    return HttpResponse.json(choices);
  }),
  http.post(`${API}/returns/preflight`, async ({ request }) => {
    preflights.push((await request.json()) as ReturnRequestInput);
    return HttpResponse.json({ checks: [], sourceNetworks: ['VM Network'], diskCapacityBytes: 1024 ** 3, datastoreFreeBytes: 2 * 1024 ** 3 });
  }),
  http.post(`${API}/returns`, async ({ request }) => {
    const body = (await request.json()) as ReturnRequestInput;
    started.push(body);
    return HttpResponse.json({ ...exporting, name: body.name }, { status: 202 });
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  isAdministrator = true;
  refusal = undefined;
  choiceQueries.length = 0;
  preflights.length = 0;
  started.length = 0;
});
afterAll(() => server.close());

async function openMenu() {
  renderWithProviders(<InstancesTab environmentId="env-prod" />);
  // The first render of a file loads the whole kit: on a busy machine that takes more than findBy's default second.
  fireEvent.contextMenu((await screen.findByText(INSTANCE, {}, { timeout: 10_000 })).closest('tr')!);
  return screen.getByTestId(testIds.returns.openInstance) as HTMLButtonElement;
}

describe('Bring back to vCenter from Imported Instances', () => {
  it("opens the form for the instance and starts one task for it (export, then import)", async () => {
    const item = await openMenu();
    await waitFor(() => expect(item.getAttribute('aria-disabled') === 'true' || item.disabled).toBe(false));
    fireEvent.click(item);
    const form = within(await screen.findByRole('dialog', { name: 'Bring back to vCenter' }));
    expect(form.getByText(/^Export instance i-0123456789abcdef0 to S3 as an OVA file, then import it/)).toBeTruthy();
    expect(choiceQueries).toEqual([`?instanceId=${INSTANCE}&environmentId=env-prod`]);
    fireEvent.change(await form.findByRole('textbox', { name: 'Virtual machine name' }), { target: { value: 'web-back' } });
    await waitFor(() => expect(form.getByTestId(testIds.returns.checks).textContent).toBe('All checks passed.'), { timeout: 3000 });
    expect(preflights.at(-1)).toMatchObject({ instanceId: INSTANCE, environmentId: 'env-prod', name: 'web-back' });
    expect(preflights.at(-1)).not.toHaveProperty('exportId');
    const submit = form.getByTestId(testIds.returns.submit) as HTMLButtonElement;
    await waitFor(() => expect(submit.disabled).toBe(false));
    fireEvent.click(submit);
    await waitFor(() => expect(form.getByTestId(testIds.returns.started).textContent).toContain('the instance is exported to S3 first'));
    expect(started).toEqual([
      {
        instanceId: INSTANCE,
        environmentId: 'env-prod',
        name: 'web-back',
        folderId: 'group-v1',
        computeResource: { type: 'ClusterComputeResource', id: 'domain-c1' },
        datastoreId: 'datastore-1',
        networkMappings: [{ sourceNetwork: 'VM Network', network: { type: 'DistributedVirtualPortgroup', id: 'dvportgroup-1' } }],
        diskProvisioning: 'thin',
        powerOn: false,
      },
    ]);
  });

  it("shows what the export would refuse before any choice", async () => {
    refusal = 'The instance i-0123456789abcdef0 has encrypted EBS volumes (vol-1). VM Export can export an instance with one unencrypted EBS volume.';
    fireEvent.click(await openMenu());
    const form = within(await screen.findByRole('dialog', { name: 'Bring back to vCenter' }));
    expect(await form.findByText(/has encrypted EBS volumes/)).toBeTruthy();
    expect(form.queryByRole('textbox', { name: 'Virtual machine name' })).toBeNull();
  });

  it('is disabled for a user who is not a portal administrator, saying why', async () => {
    isAdministrator = false;
    const item = await openMenu();
    await waitFor(() => expect(item.title).toBe('Only administrators of the AWS Management Portal can bring an instance back: it is exported to S3 first.'));
    expect(item.getAttribute('aria-disabled') === 'true' || item.disabled).toBe(true);
    fireEvent.click(item);
    expect(screen.queryByRole('dialog', { name: 'Bring back to vCenter' })).toBeNull();
  });

  it("shows the task's export as step 1 of 2 in its row", async () => {
    renderWithProviders(<ExportsTab environmentId="env-prod" />);
    const row = within(await screen.findByTestId(testIds.returns.row('web-back')));
    expect(row.getByTestId(testIds.returns.progress).textContent).toContain('Step 1 of 2 · Exporting the instance to S3 (export task export-i-0fedcba9876543210)');
  });
});
