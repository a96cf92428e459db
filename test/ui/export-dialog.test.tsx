// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InstancesTab } from '../../ui/features/portal/InstancesTab.tsx';
import { API, renderWithProviders } from './render.tsx';

let settingsReadable = true;
const exportBodies: unknown[] = [];
const server = setupServer(
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'administrator@vsphere.local', isAdministrator: true })),
  http.get(`${API}/environments`, () =>
    HttpResponse.json({ environments: [{ id: 'env-prod', name: 'Production', description: '', isDefault: false, region: 'us-east-1', vpcId: 'vpc-1', subnetIds: [], securityGroupIds: [], instanceTypes: [], createdAt: '2026-11-25T00:00:00.000Z', updatedAt: '2026-11-25T00:00:00.000Z', myRole: 'Owner' }] }),
  ),
  http.get(`${API}/settings/instance-export`, () =>
    settingsReadable
      ? HttpResponse.json({ bucketName: 'lab', buckets: [{ region: 'eu-west-1', bucket: 'export-to-s3-lab-eu-west-1' }, { region: 'us-east-1', bucket: 'export-to-s3-lab-us-east-1' }] })
      : HttpResponse.json({ code: 'FORBIDDEN', message: 'Administrators only.' }, { status: 403 }),
  ),
  http.get(`${API}/instances`, () => HttpResponse.json({ items: [{ instanceId: 'i-0123456789abcdef0', state: 'stopped' }] })),
  http.post(`${API}/exports`, async ({ request }) => {
    exportBodies.push(await request.json());
    return HttpResponse.json({ code: 'EXPORT_LIMIT_REACHED', message: 'full' }, { status: 429 });
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  settingsReadable = true;
  exportBodies.length = 0;
});
afterAll(() => server.close());

async function openDialog() {
  renderWithProviders(<InstancesTab environmentId="env-prod" />);
  fireEvent.click(await screen.findByText('i-0123456789abcdef0'));
  fireEvent.click(screen.getByRole('tab', { name: 'Getting Started' }));
  const open = screen.getByRole('button', { name: 'Export instance to S3' }) as HTMLButtonElement;
  await waitFor(() => expect(open.disabled).toBe(false));
  fireEvent.click(open);
  return screen.getByRole('textbox', { name: 'S3 object file prefix' });
}
const preview = () => document.querySelector('[data-test="portal-export-preview"]')!.textContent ?? '';

describe('Export instance to S3 dialog', () => {
  it('shows the OVA file EC2 will write as the user types the prefix, and whether a / is missing', async () => {
    const prefix = await openDialog();
    await waitFor(() => expect(preview()).toContain('s3://export-to-s3-lab-us-east-1/export-i-<export task ID>.ova'));
    fireEvent.change(prefix, { target: { value: 'vms/web' } });
    expect(preview()).toContain('s3://export-to-s3-lab-us-east-1/vms/webexport-i-<export task ID>.ova');
    expect(preview()).toContain('end the prefix with / to put the file in a folder');
    fireEvent.change(prefix, { target: { value: 'vms/web/' } });
    expect(preview()).toContain('s3://export-to-s3-lab-us-east-1/vms/web/export-i-<export task ID>.ova');
    expect(preview()).not.toContain('end the prefix with /');
  });

  it('refuses a prefix S3 keys should not have, with what to change, before anything is sent', async () => {
    const prefix = await openDialog();
    const exportButton = screen.getByRole('button', { name: 'Export' }) as HTMLButtonElement;
    for (const bad of ['vms web/', '/vms/', 'vms//web/', '../vms/', 'a'.repeat(201)]) {
      fireEvent.change(prefix, { target: { value: bad } });
      expect(screen.getByRole('alert').textContent).toMatch(/prefix/);
      expect(exportButton.disabled).toBe(true);
    }
    fireEvent.change(prefix, { target: { value: "vms/web-01_(copy)/" } });
    expect(screen.queryByRole('alert')).toBeNull();
    expect(exportButton.disabled).toBe(false);
    fireEvent.click(exportButton);
    await waitFor(() => expect(exportBodies).toEqual([{ environmentId: 'env-prod', instanceId: 'i-0123456789abcdef0', s3Prefix: 'vms/web-01_(copy)/' }]));
  });

  it('names the bucket generically when the export settings cannot be read', async () => {
    settingsReadable = false;
    const prefix = await openDialog();
    fireEvent.change(prefix, { target: { value: 'vms/' } });
    await waitFor(() => expect(preview()).toContain('s3://<export bucket>/vms/export-i-<export task ID>.ova'));
  });
});
