// @vitest-environment jsdom
import { cleanup, configure, fireEvent, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Environment, MigrationRequest, PreflightResult, VmDetail } from '../../connector/contract/index.ts';
import { MigrateVmPage } from '../../ui/features/migrate/MigrateVmPage.tsx';
import { intervalProblem } from '../../ui/features/migrate/MigrationModeFields.tsx';
import { createTranslator } from '../../ui/i18n/i18n.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

// The waits are for msw's answers; on a loaded machine the first render of a file can take seconds.
configure({ asyncUtilTimeout: 5000 });

const vm: VmDetail = {
  id: 'vm-42',
  name: 'ubuntu-web-01',
  guestId: 'ubuntu64Guest',
  guestFullName: 'Ubuntu Linux (64-bit)',
  powerState: 'poweredOff',
  numCpu: 2,
  memoryMB: 4096,
  disks: [{ key: 2000, label: 'Hard disk 1', capacityBytes: 1024 ** 3, backingType: 'flat' }],
  nics: [],
  snapshotCount: 0,
};

const env = (over: Partial<Environment>): Environment => ({
  id: 'env-prod',
  name: 'Production',
  description: '',
  isDefault: false,
  region: 'us-east-1',
  vpcId: 'vpc-0a1b2c3d4e5f67890',
  subnetIds: ['subnet-0a1b2c3d4e5f67890'],
  securityGroupIds: ['sg-0a1b2c3d4e5f67890'],
  instanceTypes: [],
  importDefaults: { licenseType: 'AWS', encryption: { encrypted: false }, tags: [] },
  createdAt: '2026-11-25T00:00:00.000Z',
  updatedAt: '2026-11-25T00:00:00.000Z',
  myRole: 'General',
  ...over,
});

let environments: Environment[] = [];
let preflightChecks: PreflightResult['checks'] = [];
const preflightCalls: URLSearchParams[] = [];
const migrationBodies: MigrationRequest[] = [];

const server = setupServer(
  http.get(`${API}/vms/vm-42`, () => HttpResponse.json(vm)),
  http.get(`${API}/vms/vm-42/migrate-access`, () =>
    HttpResponse.json({ vmId: 'vm-42', vmName: vm.name, exportPrivilege: true, environments: [], canMigrate: true, missing: [] }),
  ),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments })),
  http.get(`${API}/regions`, () => HttpResponse.json({ regions: [{ name: 'us-east-1', displayName: 'US East (N. Virginia)', isDefault: true }] })),
  http.get(`${API}/environments/:id/subnets`, () =>
    HttpResponse.json({
      subnets: [{ id: 'subnet-0a1b2c3d4e5f67890', vpcId: 'vpc-0a1b2c3d4e5f67890', name: 'app-a', cidrBlock: '10.0.1.0/24', availabilityZone: 'us-east-1a', availableIpAddressCount: 250 }],
    }),
  ),
  http.get(`${API}/environments/:id/security-groups`, () =>
    HttpResponse.json({ securityGroups: [{ id: 'sg-0a1b2c3d4e5f67890', vpcId: 'vpc-0a1b2c3d4e5f67890', name: 'web', description: 'web' }] }),
  ),
  http.get(`${API}/environments/:id/instance-types`, () => HttpResponse.json({ instanceTypes: [{ name: 'm5.large' }] })),
  http.get(`${API}/vms/vm-42/preflight`, ({ request }) => {
    const q = new URL(request.url).searchParams;
    preflightCalls.push(q);
    const result: PreflightResult = {
      vmId: 'vm-42',
      environmentId: q.get('environmentId') ?? '',
      ready: !preflightChecks.some((c) => c.severity === 'blocker'),
      suggestedPlatform: 'Linux',
      checks: preflightChecks,
    };
    return HttpResponse.json(result);
  }),
  http.post(`${API}/import-authorizations`, () =>
    HttpResponse.json({ token: 'aaa.bbb.ccc', expiresAt: '2026-11-25T00:05:00.000Z', environmentId: 'env-prod', vmId: 'vm-42' }, { status: 201 }),
  ),
  http.post(`${API}/migrations`, async ({ request }) => {
    migrationBodies.push((await request.json()) as MigrationRequest);
    return HttpResponse.json({ id: 'mig-000001', idKind: 'queued', state: 'queued', queuePosition: 2 }, { status: 202 });
  }),
);

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  environments = [];
  preflightChecks = [];
  preflightCalls.length = 0;
  migrationBodies.length = 0;
});
afterAll(() => server.close());

const renderModal = () => renderWithProviders(<MigrateVmPage />, fakeHost('vm-42'));
const begin = () => screen.getByRole('button', { name: 'Begin migration to Amazon EC2' });

const t = createTranslator('en-US');

describe('replication interval', () => {
  it.each([
    ['15', undefined],
    ['5', undefined],
    ['1440', undefined],
    [' 30 ', undefined],
    ['4', 'Replicate at most every 5 minutes.'],
    ['1441', 'Replicate at least once a day (1440 minutes).'],
    ['7.5', 'Use whole minutes.'],
    ['', 'Enter a whole number of minutes, for example 15.'],
    ['ten', 'Enter a whole number of minutes, for example 15.'],
  ] as const)('%j → %s', (typed, expected) => {
    expect(intervalProblem(typed, t)).toBe(expected);
  });
});

describe('Migrate VM to EC2 form: Replicate, then cut over', () => {
  it('offers both migration types with what each means; Migrate now is chosen and sends no warm fields', async () => {
    environments = [env({})];
    renderModal();
    const now = await screen.findByRole('radio', { name: 'Migrate now' });
    const warm = screen.getByRole('radio', { name: 'Replicate, then cut over' });
    expect((now as HTMLInputElement).checked).toBe(true);
    expect(warm.getAttribute('aria-describedby')).toBeTruthy();
    expect(document.getElementById(warm.getAttribute('aria-describedby')!)?.textContent).toMatch(/while the VM runs.*downtime is one final sync and the launch/);
    expect(document.getElementById(now.getAttribute('aria-describedby')!)?.textContent).toMatch(/downtime lasts the whole copy and import/);
    // The warm fields appear only for warm.
    expect(screen.queryByRole('textbox', { name: 'Replication interval (minutes)' })).toBeNull();
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(begin());
    await screen.findByText(/Queued task ID/);
    expect(migrationBodies[0]?.mode).toBe('cold');
    expect(migrationBodies[0]).not.toHaveProperty('replicationIntervalMinutes');
    expect(migrationBodies[0]).not.toHaveProperty('cutoverShutdown');
    expect(screen.queryByText(/The VM keeps running while its disks are replicated/)).toBeNull();
  });

  it('validates the interval as the contract does, names it beside Begin, and sends the warm choices', async () => {
    environments = [env({})];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    const interval = screen.getByRole('textbox', { name: 'Replication interval (minutes)' }) as HTMLInputElement;
    expect(interval.value).toBe('15');
    expect((screen.getByRole('radio', { name: 'Shut down the guest OS (VMware Tools)' }) as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(false));

    fireEvent.change(interval, { target: { value: '4' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Replicate at most every 5 minutes.');
    expect(interval.getAttribute('aria-invalid')).toBe('true');
    const problem = screen.getByRole('button', { name: 'Replication interval: Replicate at most every 5 minutes.' });
    expect(begin().getAttribute('aria-describedby')).toBe(problem.parentElement!.id);
    expect((begin() as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(problem);
    expect(document.activeElement).toBe(interval);

    fireEvent.change(interval, { target: { value: '12.5' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Use whole minutes.');
    expect((begin() as HTMLButtonElement).disabled).toBe(true);

    fireEvent.change(interval, { target: { value: '30' } });
    fireEvent.click(screen.getByRole('radio', { name: 'I will power off the VM myself' }));
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(false));
    expect(screen.queryByRole('alert')).toBeNull();
    fireEvent.click(begin());
    await screen.findByText(/Queued task ID/);
    expect(screen.getByText(/The VM keeps running while its disks are replicated/)).toBeTruthy();
    expect(migrationBodies).toEqual([
      {
        token: 'aaa.bbb.ccc',
        environmentId: 'env-prod',
        vmId: 'vm-42',
        platform: 'Linux',
        subnetId: 'subnet-0a1b2c3d4e5f67890',
        instanceType: 'm5.large',
        securityGroupIds: ['sg-0a1b2c3d4e5f67890'],
        mode: 'warm',
        replicationIntervalMinutes: 30,
        cutoverShutdown: 'user',
      },
    ]);
  });

  it('asks pre-flight with the warm choices, so the replication checks show before Begin', async () => {
    environments = [env({})];
    renderModal();
    await waitFor(() => expect(preflightCalls.length).toBeGreaterThan(0));
    expect(preflightCalls.every((q) => !q.has('mode') && !q.has('cutoverShutdown'))).toBe(true);
    preflightChecks = [{ code: 'WARM_TOOLS_NOT_RUNNING', severity: 'blocker', message: 'VMware Tools is not running in ubuntu-web-01.', fix: 'Start VMware Tools, or choose to power off the VM yourself.' }];
    fireEvent.click(screen.getByRole('radio', { name: 'Replicate, then cut over' }));
    await waitFor(() => expect(preflightCalls.some((q) => q.get('mode') === 'warm' && q.get('cutoverShutdown') === 'guest')).toBe(true));
    expect(await screen.findByText(/VMware Tools is not running/)).toBeTruthy();
    expect((begin() as HTMLButtonElement).disabled).toBe(true);
    preflightChecks = [];
    fireEvent.click(screen.getByRole('radio', { name: 'I will power off the VM myself' }));
    await waitFor(() => expect(preflightCalls.some((q) => q.get('mode') === 'warm' && q.get('cutoverShutdown') === 'user')).toBe(true));
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(false));
  });

  it('offers registering the replicated disks directly only when the pre-flight says the guest is Nitro-ready, and sends the choice', async () => {
    environments = [env({})];
    const fact = (nitroReady: boolean | null): PreflightResult['checks'][number] => ({
      code: 'NITRO_READINESS',
      severity: 'info',
      message: nitroReady ? 'The guest has the ENA and NVMe drivers that Nitro-based EC2 instances need.' : 'The guest does not have the ENA and NVMe drivers that Nitro-based EC2 instances need.',
      details: { nitroReady, source: 'vmware-tools', guestId: 'rhel8_64Guest' },
    });
    // Not ready: only the fact shows, no image choice, nothing sent.
    preflightChecks = [fact(false)];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    expect(await screen.findByText(/does not have the ENA and NVMe drivers/)).toBeTruthy();
    expect(screen.queryByRole('radiogroup', { name: 'Image' })).toBeNull();
    cleanup();

    preflightChecks = [fact(true)];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    const viaImport = (await screen.findByRole('radio', { name: 'Import with VM Import' })) as HTMLInputElement;
    const register = screen.getByRole('radio', { name: 'Register the replicated disks directly' }) as HTMLInputElement;
    expect(viaImport.checked).toBe(true);
    expect(document.getElementById(viaImport.getAttribute('aria-describedby')!)?.textContent).toBe('AWS installs the drivers the instance needs.');
    expect(document.getElementById(register.getAttribute('aria-describedby')!)?.textContent).toBe('Faster: the guest already has the ENA and NVMe drivers.');
    fireEvent.click(register);
    // The pre-flight checks the choice against the guest before Begin.
    await waitFor(() => expect(preflightCalls.some((q) => q.get('mode') === 'warm' && q.get('imagePath') === 'register-image')).toBe(true));
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(begin());
    await screen.findByText(/Queued task ID/);
    expect(migrationBodies[0]).toMatchObject({ mode: 'warm', imagePath: 'register-image' });
  });

  it('going back to Migrate now drops a wrong interval: it no longer applies', async () => {
    environments = [env({})];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    fireEvent.change(screen.getByRole('textbox', { name: 'Replication interval (minutes)' }), { target: { value: '2' } });
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(true));
    fireEvent.click(screen.getByRole('radio', { name: 'Migrate now' }));
    await waitFor(() => expect((begin() as HTMLButtonElement).disabled).toBe(false));
  });
});
