import { cleanup, configure, screen } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type {
  Environment,
  KmsKeyOption,
  MigrationAccepted,
  MigrationRequest,
  PreflightResult,
  VmDetail,
} from '../../connector/contract/index.ts';
import { MigrateVmPage } from '../../ui/features/migrate/MigrateVmPage.tsx';
import { API, fakeHost, renderWithProviders } from './render.tsx';

// The connector as the Migrate VM to EC2 form sees it (msw), shared by the form's test files: each test sets what
// the connector holds and reads what the form asked and sent; everything is reset after each test.

// The waits are for msw's answers; on a loaded machine the first render of a file can take seconds.
configure({ asyncUtilTimeout: 5000 });

export const sampleVm = (): VmDetail => ({
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
});

const fresh = () => ({
  vm: sampleVm(),
  environments: [] as Environment[],
  keys: [] as KmsKeyOption[],
  preflightChecks: [] as PreflightResult['checks'],
  firmware: undefined as PreflightResult['firmware'],
  /** Instance types for a guest that is not UEFI; a UEFI guest is offered m5.large only (the lab's t2 family boots BIOS only). */
  anyBootTypes: [{ name: 'm5.large' }],
  preflightCalls: [] as URLSearchParams[],
  kmsCalls: [] as string[],
  typeCalls: [] as (string | null)[],
  migrationBodies: [] as MigrationRequest[],
});

/**
 * Starts the fake connector for this test file. `accepted` is the connector's answer to Begin (queued by default).
 * The returned object is live: set its fields in a test, read the recorded calls after.
 */
export function useMigrateFormConnector(
  accepted: MigrationAccepted = { id: 'mig-000001', idKind: 'queued', state: 'queued', queuePosition: 2 },
) {
  const fx = fresh();
  const server = setupServer(
    http.get(`${API}/vms/vm-42`, () => HttpResponse.json(fx.vm)),
    http.get(`${API}/vms/vm-42/migrate-access`, () =>
      HttpResponse.json({ vmId: 'vm-42', vmName: fx.vm.name, exportPrivilege: true, environments: [], canMigrate: true, missing: [] }),
    ),
    http.get(`${API}/environments`, () => HttpResponse.json({ environments: fx.environments })),
    http.get(`${API}/regions`, () => HttpResponse.json({ regions: [{ name: 'us-east-1', displayName: 'US East (N. Virginia)', isDefault: true }] })),
    http.get(`${API}/environments/:id/subnets`, () =>
      HttpResponse.json({
        subnets: [{ id: 'subnet-0a1b2c3d4e5f67890', vpcId: 'vpc-0a1b2c3d4e5f67890', name: 'app-a', cidrBlock: '10.0.1.0/24', availabilityZone: 'us-east-1a', availableIpAddressCount: 250 }],
      }),
    ),
    http.get(`${API}/environments/:id/security-groups`, () =>
      HttpResponse.json({ securityGroups: [{ id: 'sg-0a1b2c3d4e5f67890', vpcId: 'vpc-0a1b2c3d4e5f67890', name: 'web', description: 'web' }] }),
    ),
    http.get(`${API}/environments/:id/instance-types`, ({ request }) => {
      const bootMode = new URL(request.url).searchParams.get('bootMode');
      fx.typeCalls.push(bootMode);
      return HttpResponse.json({ instanceTypes: bootMode === 'uefi' ? [{ name: 'm5.large' }] : fx.anyBootTypes });
    }),
    http.get(`${API}/environments/:id/kms-keys`, ({ params }) => {
      fx.kmsCalls.push(String(params['id']));
      return HttpResponse.json({ keys: fx.keys });
    }),
    http.get(`${API}/vms/vm-42/preflight`, ({ request }) => {
      const q = new URL(request.url).searchParams;
      fx.preflightCalls.push(q);
      const result: PreflightResult = {
        vmId: 'vm-42',
        environmentId: q.get('environmentId') ?? '',
        ready: !fx.preflightChecks.some((c) => c.severity === 'blocker'),
        suggestedPlatform: 'Linux',
        ...(fx.firmware ? { firmware: fx.firmware } : {}),
        checks: fx.preflightChecks,
      };
      return HttpResponse.json(result);
    }),
    http.post(`${API}/import-authorizations`, () =>
      HttpResponse.json({ token: 'aaa.bbb.ccc', expiresAt: '2026-11-25T00:05:00.000Z', environmentId: 'env-prod', vmId: 'vm-42' }, { status: 201 }),
    ),
    http.post(`${API}/migrations`, async ({ request }) => {
      fx.migrationBodies.push((await request.json()) as MigrationRequest);
      return HttpResponse.json(accepted, { status: 202 });
    }),
  );
  beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
  afterEach(() => {
    cleanup();
    // A test's own handlers (server.use) go; these stay.
    server.resetHandlers();
    Object.assign(fx, fresh());
  });
  afterAll(() => server.close());
  return Object.assign(fx, { server });
}

export const renderModal = () => renderWithProviders(<MigrateVmPage />, fakeHost('vm-42'));
export const begin = () => screen.getByRole('button', { name: 'Begin migration to Amazon EC2' }) as HTMLButtonElement;
