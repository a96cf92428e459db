// @vitest-environment jsdom
// Issue 18: the migration's row detail and the instance's Summary show licence type, encryption key and boot mode as
// AWS reports it applied them (task.applied, ImportedInstance.applied), not what the form asked for.
import { cleanup, configure, fireEvent, screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImportedInstance, MigrationTask } from '../../connector/contract/index.ts';
import { InstancesTab } from '../../ui/features/portal/InstancesTab.tsx';
import { MigrationsTab } from '../../ui/features/portal/MigrationsTab.tsx';
import { task } from './fixtures.ts';
import { API, renderWithProviders } from './render.tsx';

// The waits are for msw's answers; on a loaded machine the first render of a file can take seconds.
configure({ asyncUtilTimeout: 5000 });

globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const applied = { licenseType: 'BYOL', usageOperation: 'RunInstances', bootMode: 'uefi' as const, encrypted: true, kmsKeyId: KEY_ARN, tags: [{ key: 'vm2ec2:task-id', value: 'mig-000007' }, { key: 'Project', value: 'Apollo' }, { key: 'aws-management-portal/environment-id', value: 'env-prod' }] };
const completed = (over: Partial<MigrationTask>): MigrationTask =>
  task({
    id: 'mig-000007',
    state: 'completed',
    phase: 'done',
    percent: 100,
    instanceId: 'i-0123456789abcdef0',
    // What was asked: encryption with the alias. What AWS applied names the key by its ARN.
    importOptions: { licenseType: 'BYOL', encrypted: true, kmsKeyId: 'alias/vm2ec2-lab', tags: [], bootMode: 'uefi' },
    updatedAt: '2026-12-03T10:10:00.000Z',
    ...over,
  });
let items: MigrationTask[] = [];
let instances: ImportedInstance[] = [];
const server = setupServer(
  http.get(`${API}/migrations`, () => HttpResponse.json({ items, total: items.length })),
  http.get(`${API}/instances`, () => HttpResponse.json({ items: instances })),
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'operator@vsphere.local', isAdministrator: false })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [] })),
  // The Migrations tab also lists the environment's waves: none here.
  http.get(`${API}/waves`, () => HttpResponse.json({ items: [], total: 0 })),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  items = [];
  instances = [];
});
afterAll(() => server.close());

/** jsdom has no layout: give the grid the width it has at 1280×720 so columns move into the row detail as there. */
function withGridWidth(px: number) {
  const original = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientWidth');
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => px });
  return () => {
    if (original) Object.defineProperty(HTMLElement.prototype, 'clientWidth', original);
    else delete (HTMLElement.prototype as { clientWidth?: number }).clientWidth;
  };
}

describe('what AWS applied', () => {
  it("is in the migration's row detail at the portal's width: license with its usage operation, the key's ARN, the boot mode", async () => {
    items = [completed({ applied })];
    const restore = withGridWidth(980);
    try {
      renderWithProviders(<MigrationsTab environmentId="env-prod" />);
      const row = await screen.findByRole('row', { name: /mig-000007/ });
      expect(within(row).queryByText(/Encrypted with/)).toBeNull();
      fireEvent.click(within(row).getByRole('button', { name: 'Show the other columns of mig-000007' }));
      const detail = row.nextElementSibling as HTMLElement;
      const dd = within(detail).getByText('Applied by AWS').nextElementSibling as HTMLElement;
      const facts = [...dd.querySelectorAll('li')].map((li) => li.textContent);
      expect(facts).toEqual([
        'License type: Bring your own license (BYOL) (usage operation RunInstances)',
        `Encryption: Encrypted with ${KEY_ARN}`,
        'Boot mode: UEFI',
        'Tags: Project=Apollo',
      ]);
      // Read back, not echoed: the request's alias appears nowhere.
      expect(document.body.textContent).not.toContain('alias/vm2ec2-lab');
    } finally {
      restore();
    }
  });

  it('says a running migration has nothing applied yet, and a completed one without a read-back shows none', async () => {
    items = [completed({ id: 'mig-000008', state: 'running', phase: 'importing', instanceId: undefined }), completed({ id: 'mig-000009', applied: undefined })];
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);
    const running = await screen.findByRole('row', { name: /mig-000008/ });
    expect(within(running).getByText('Read back from AWS when the import has finished.')).toBeTruthy();
    const done = screen.getByRole('row', { name: /mig-000009/ });
    expect(within(done).queryByText(/Encrypted|Read back/)).toBeNull();
  });

  it("is on the imported instance's Summary", async () => {
    instances = [{ instanceId: 'i-0123456789abcdef0', state: 'stopped', migrationId: 'mig-000007', applied: { ...applied, licenseType: 'AWS', usageOperation: 'RunInstances:0002', bootMode: 'legacy-bios', encrypted: false, kmsKeyId: undefined } }];
    renderWithProviders(<InstancesTab environmentId="env-prod" />);
    fireEvent.click(await screen.findByText('i-0123456789abcdef0'));
    const pairs = [...document.querySelectorAll('dl.vsp-kv dt')].map((dt) => `${dt.textContent}: ${dt.nextElementSibling?.textContent}`);
    expect(pairs).toEqual(
      expect.arrayContaining([
        'License type: AWS-provided license (usage operation RunInstances:0002)',
        'Encryption: Not encrypted',
        'Boot mode: Legacy BIOS',
        'Tags: Project=Apollo',
      ]),
    );
  });
});
