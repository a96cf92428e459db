// @vitest-environment jsdom
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PreflightResult, VmDetail, Wave, WaveBlocked, WaveCreateInput } from '../../connector/contract/index.ts';
import { checkWindow, localToIso } from '../../ui/features/wave/startWindow.ts';
import { contextVms } from '../../ui/host/host.ts';
import { WavePage } from '../../ui/features/wave/WavePage.tsx';
import { env } from './fixtures.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

// The plugin marks its controls with data-test (the attribute the Playwright journeys use too).
configure({ asyncUtilTimeout: 5000, testIdAttribute: 'data-test' });

const vm = (id: string, name: string, guestId: string): VmDetail => ({
  id,
  name,
  guestId,
  guestFullName: guestId.startsWith('win') ? 'Microsoft Windows Server 2019 (64-bit)' : 'Ubuntu Linux (64-bit)',
  powerState: 'poweredOff',
  numCpu: 2,
  memoryMB: 4096,
  disks: [{ key: 2000, label: 'Hard disk 1', capacityBytes: 1024 ** 3, backingType: 'flat' }],
  nics: [],
  snapshotCount: 0,
});
const VMS = [vm('vm-1', 'web-01', 'ubuntu64Guest'), vm('vm-2', 'web-02', 'ubuntu64Guest'), vm('vm-3', 'app-win', 'windows9Server64Guest'), vm('vm-4', 'big-db', 'ubuntu64Guest')];
const BLOCKER = { code: 'DISK_TOO_LARGE' as const, severity: 'blocker' as const, message: 'Hard disk 1 is 300 GiB; VM Import accepts at most 215 GB.', fix: 'Shrink the disk.' };

const calls = { preflight: [] as { vmId: string; q: URLSearchParams }[], waves: [] as WaveCreateInput[], authorized: [] as string[] };
let waveAnswer: () => Response = () => HttpResponse.json({}, { status: 500 });

const server = setupServer(
  http.get(`${API}/vms/:id`, ({ params }) => HttpResponse.json(VMS.find((v) => v.id === params['id']))),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [env()] })),
  http.get(`${API}/regions`, () => HttpResponse.json({ regions: [{ name: 'us-east-1', displayName: 'US East (N. Virginia)', isDefault: true }] })),
  http.get(`${API}/environments/:id/subnets`, () =>
    HttpResponse.json({ subnets: [{ id: 'subnet-0a1b2c3d4e5f67890', vpcId: 'vpc-0a1b2c3d4e5f67890', name: 'app-a', cidrBlock: '10.0.1.0/24', availabilityZone: 'us-east-1a', availableIpAddressCount: 250 }] }),
  ),
  http.get(`${API}/environments/:id/security-groups`, () => HttpResponse.json({ securityGroups: [{ id: 'sg-0a1b2c3d4e5f67890', vpcId: 'vpc-0a1b2c3d4e5f67890', name: 'web', description: 'web' }] })),
  http.get(`${API}/environments/:id/instance-types`, () => HttpResponse.json({ instanceTypes: [{ name: 'm5.large' }, { name: 'm5.xlarge' }] })),
  http.get(`${API}/vms/:id/preflight`, ({ params, request }) => {
    const vmId = String(params['id']);
    const q = new URL(request.url).searchParams;
    calls.preflight.push({ vmId, q });
    const checks = vmId === 'vm-4' ? [BLOCKER] : [];
    const result: PreflightResult = { vmId, environmentId: q.get('environmentId') ?? '', ready: checks.length === 0, suggestedPlatform: 'Linux', checks };
    return HttpResponse.json(result);
  }),
  http.post(`${API}/import-authorizations`, async ({ request }) => {
    const body = (await request.json()) as { vmId: string };
    calls.authorized.push(body.vmId);
    return HttpResponse.json({ token: `tok.${body.vmId}.sig`, expiresAt: '2026-11-25T00:05:00.000Z', environmentId: 'env-prod', vmId: body.vmId }, { status: 201 });
  }),
  http.post(`${API}/waves`, async ({ request }) => {
    calls.waves.push((await request.json()) as WaveCreateInput);
    return waveAnswer();
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  calls.preflight = [];
  calls.waves = [];
  calls.authorized = [];
});
afterAll(() => server.close());

/** The action invoked on several selected VMs: getContextObjects() holds every target. */
function renderWave(ids: string[]) {
  const host = { ...fakeHost(), contextObjects: () => ids.map((id) => ({ type: 'VirtualMachine', id, vcGuid: '00000000-0000-0000-0000-000000000001' })) };
  return renderWithProviders(<WavePage />, host);
}
const begin = () => screen.getByRole('button', { name: 'Begin migration to Amazon EC2' }) as HTMLButtonElement;
const row = (name: string) => screen.getByTestId(`wave-row:${name}`);

const created = (over: Partial<Wave> = {}): Wave => ({
  id: 'wav-000001',
  name: 'Web tier',
  priority: 40,
  environmentId: 'env-prod',
  mode: 'cold',
  createdBy: 'vsphere.local\\operator',
  createdAt: '2026-12-03T19:00:00.000Z',
  state: 'scheduled',
  total: 3,
  counts: { queued: 3, running: 0, cancelling: 0, completed: 0, failed: 0, cancelled: 0 },
  bytesLeft: 3 * 1024 ** 3,
  taskIds: ['mig-000001', 'mig-000002', 'mig-000003'],
  ...over,
});

describe('the action\u2019s targets', () => {
  it('takes every VM of getContextObjects() once, whatever else was selected', () => {
    const vc = '00000000-0000-0000-0000-000000000001';
    const host = { ...fakeHost(), contextObjects: () => [{ type: 'VirtualMachine', id: 'vm-1', vcGuid: vc }, { type: 'HostSystem', id: 'host-9', vcGuid: vc }, { type: 'VirtualMachine', id: 'vm-2', vcGuid: vc }, { type: 'VirtualMachine', id: 'vm-1', vcGuid: vc }] };
    expect(contextVms(host)).toEqual({ vmIds: ['vm-1', 'vm-2'] });
    const broken = { ...fakeHost(), contextObjects: () => { throw new Error('no context'); } };
    expect('problem' in contextVms(broken)).toBe(true);
  });
});

describe('start window', () => {
  it('sends the typed local time as ISO 8601 with the offset of the user’s zone at that instant', () => {
    const iso = localToIso('2026-12-04T22:00')!;
    expect(iso).toMatch(/^2026-12-04T22:00:00[+-]\d{2}:\d{2}$/);
    expect(Date.parse(iso)).toBe(new Date(2026, 11, 4, 22, 0).getTime());
    expect(localToIso('tomorrow')).toBeUndefined();
  });

  it('says in the contract’s words when the window ends before it begins', () => {
    expect(checkWindow('2026-12-04T22:00', '2026-12-04T21:00').problem).toEqual({
      field: 'notAfter',
      message: 'The start window ends before it begins: the not-after time must be later than the not-before time.',
    });
    expect(checkWindow('', '')).toEqual({});
  });
});

describe('Migrate VMs to EC2 (wave form)', () => {
  it('checks every selected VM on its own row, keeps Begin disabled while a row has a blocker, and sends the wave with per-VM overrides', async () => {
    waveAnswer = () => HttpResponse.json(created(), { status: 201 });
    renderWave(['vm-1', 'vm-2', 'vm-3', 'vm-4']);
    // One pre-flight per VM, each with its own detected OS.
    await waitFor(() => expect(within(row('big-db')).getByTestId('wave-row-check').textContent).toBe('1 blocker(s)'));
    expect(within(row('web-01')).getByTestId('wave-row-check').textContent).toBe('Ready');
    expect(within(row('big-db')).getByTestId('wave-row-blockers:big-db').textContent).toContain('Hard disk 1 is 300 GiB');
    expect((within(row('app-win')).getByTestId('wave-row-os') as HTMLSelectElement).value).toBe('Windows');
    expect(calls.preflight.find((c) => c.vmId === 'vm-3')?.q.get('platform')).toBe('Windows');

    fireEvent.change(screen.getByTestId('wave-name'), { target: { value: 'Web tier' } });
    await waitFor(() => expect(screen.getByTestId('migrate-instance-type').querySelectorAll('option').length).toBe(3));
    fireEvent.change(screen.getByTestId('migrate-instance-type'), { target: { value: 'm5.large' } });
    fireEvent.change(screen.getByTestId('wave-priority'), { target: { value: '40' } });
    fireEvent.change(screen.getByTestId('wave-not-before'), { target: { value: '2026-12-04T22:00' } });
    await waitFor(() => expect(screen.getByTestId('wave-first-problem').textContent).toBe('Remove the VMs with blockers from the wave, or resolve their blockers, to continue.'));
    expect(begin().disabled).toBe(true);

    // Per-VM overrides: another instance type for web-02, a private IP for web-01 (checked against the subnet first).
    fireEvent.change(within(row('web-02')).getByTestId('wave-row-instance-type'), { target: { value: 'm5.xlarge' } });
    fireEvent.change(within(row('web-01')).getByTestId('wave-row-private-ip'), { target: { value: '10.0.2.9' } });
    expect(within(row('web-01')).getByText(/10\.0\.1\.0\/24/)).toBeTruthy();
    fireEvent.change(within(row('web-01')).getByTestId('wave-row-private-ip'), { target: { value: '10.0.1.20' } });

    fireEvent.click(within(row('big-db')).getByTestId('wave-row-remove'));
    expect(screen.queryByTestId('wave-row:big-db')).toBeNull();
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.click(begin());

    expect(await screen.findByTestId('wave-result')).toBeTruthy();
    expect(screen.getByTestId('wave-result').textContent).toContain('Wave Web tier was created: 3 migration task(s), ID wav-000001.');
    expect(calls.authorized.sort()).toEqual(['vm-1', 'vm-2', 'vm-3']);
    const sent = calls.waves[0]!;
    expect(sent).toMatchObject({
      name: 'Web tier',
      priority: 40,
      environmentId: 'env-prod',
      platform: 'Linux',
      subnetId: 'subnet-0a1b2c3d4e5f67890',
      instanceType: 'm5.large',
      securityGroupIds: ['sg-0a1b2c3d4e5f67890'],
      mode: 'cold',
    });
    expect(Date.parse(sent.window!.notBefore!)).toBe(new Date(2026, 11, 4, 22, 0).getTime());
    expect(sent.vms).toEqual([
      { vmId: 'vm-1', token: 'tok.vm-1.sig', overrides: { privateIpAddress: '10.0.1.20' } },
      { vmId: 'vm-2', token: 'tok.vm-2.sig', overrides: { instanceType: 'm5.xlarge' } },
      { vmId: 'vm-3', token: 'tok.vm-3.sig', overrides: { platform: 'Windows' } },
    ]);
  });

  it('puts a refused import authorization on its VM’s row and sends no wave', async () => {
    server.use(
      http.post(`${API}/import-authorizations`, async ({ request }) => {
        const body = (await request.json()) as { vmId: string };
        if (body.vmId !== 'vm-2') return HttpResponse.json({ token: `tok.${body.vmId}.sig`, expiresAt: '2026-11-25T00:05:00.000Z', environmentId: 'env-prod', vmId: body.vmId }, { status: 201 });
        return HttpResponse.json({ code: 'VM_EXPORT_DENIED', message: 'Your vCenter role does not allow exporting "web-02" (privilege vApp > Export, VApp.Export).' }, { status: 403 });
      }),
    );
    renderWave(['vm-1', 'vm-2']);
    fireEvent.change(await screen.findByTestId('wave-name'), { target: { value: 'Web tier' } });
    await waitFor(() => expect(screen.getByTestId('migrate-instance-type').querySelectorAll('option').length).toBe(3));
    fireEvent.change(screen.getByTestId('migrate-instance-type'), { target: { value: 'm5.large' } });
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.click(begin());
    expect(await screen.findByTestId('wave-refused')).toBeTruthy();
    expect(within(row('web-02')).getByTestId('wave-row-check').textContent).toBe('Refused');
    expect(screen.getByTestId('wave-row-blockers:web-02').textContent).toContain('does not allow exporting "web-02"');
    expect(within(row('web-01')).getByTestId('wave-row-check').textContent).toBe('Ready');
    expect(calls.waves).toEqual([]);
    server.resetHandlers();
  });

  it('shows the connector’s refusal on the rows it names and starts nothing', async () => {
    const refusal: WaveBlocked = {
      code: 'PREFLIGHT_BLOCKED',
      message: 'The wave was not created: 1 VM is blocked.',
      details: { rows: [{ index: 1, vmId: 'vm-2', vmName: 'web-02', blockers: [{ code: 'POWERED_ON', message: 'web-02 was powered on since the check.', fix: 'Power off the VM.' }] }] },
    };
    waveAnswer = () => HttpResponse.json(refusal, { status: 422 });
    renderWave(['vm-1', 'vm-2']);
    fireEvent.change(await screen.findByTestId('wave-name'), { target: { value: 'Web tier' } });
    await waitFor(() => expect(screen.getByTestId('migrate-instance-type').querySelectorAll('option').length).toBe(3));
    fireEvent.change(screen.getByTestId('migrate-instance-type'), { target: { value: 'm5.large' } });
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.click(begin());
    expect(await screen.findByTestId('wave-refused')).toBeTruthy();
    expect(screen.getByTestId('wave-refused').textContent).toContain('No migration was started');
    expect(within(row('web-02')).getByTestId('wave-row-check').textContent).toBe('Refused');
    expect(screen.getByTestId('wave-row-blockers:web-02').textContent).toContain('web-02 was powered on since the check.');
    expect(screen.queryByTestId('wave-row-blockers:web-01')).toBeNull();
    expect(screen.queryByTestId('wave-result')).toBeNull();
  });
});
