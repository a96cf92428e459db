// @vitest-environment jsdom
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { privateIpProblem } from '../../ui/features/migrate/privateIp.ts';
import { env } from './fixtures.ts';
import { begin, renderModal, useMigrateFormConnector } from './migrate-fixture.tsx';
import { API } from './render.tsx';

const fx = useMigrateFormConnector();

describe('privateIpProblem', () => {
  it.each([
    ['', '10.0.1.0/24', null],
    ['10.0.1.25', '10.0.1.0/24', null],
    ['10.0.1.4', '10.0.1.0/24', null],
    ['10.0.1.3', '10.0.1.0/24', 'migrate.ip.reserved'],
    ['10.0.1.0', '10.0.1.0/24', 'migrate.ip.reserved'],
    ['10.0.1.255', '10.0.1.0/24', 'migrate.ip.reserved'],
    ['10.0.2.10', '10.0.1.0/24', 'migrate.ip.outside'],
    ['10.0.1', '10.0.1.0/24', 'migrate.ip.malformed'],
    ['10.0.1.256', '10.0.1.0/24', 'migrate.ip.malformed'],
    ['10.0.01.5', '10.0.1.0/24', 'migrate.ip.malformed'],
    ['172.31.200.9', '172.31.128.0/17', null],
  ] as const)('%s in %s → %s', (ip, cidr, expected) => {
    expect(privateIpProblem(ip, cidr)).toBe(expected);
  });
});

describe('Migrate VM to EC2 form', () => {
  it('asks the user to ask the administrator when no environment allows migrating', async () => {
    fx.environments = [env({ myRole: 'ReadOnly' })];
    renderModal();
    expect(await screen.findByText(/Ask your administrator to grant you permission/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Begin migration to Amazon EC2' })).toBeNull();
  });

  it('prefills the form, shows a blocker with its fix and keeps Begin disabled', async () => {
    fx.environments = [env()];
    fx.preflightChecks = [{ code: 'DISK_TOO_LARGE', severity: 'blocker', message: 'Hard disk 2 is 300 GiB; VM Import accepts at most 215 GB.', fix: 'Shrink the disk.' }];
    renderModal();
    expect((await screen.findByRole('combobox', { name: 'Operating system' }) as HTMLSelectElement).value).toBe('Linux');
    await waitFor(() => expect((screen.getByRole('combobox', { name: 'Subnet' }) as HTMLSelectElement).value).toBe('subnet-0a1b2c3d4e5f67890'));
    expect((screen.getByRole('combobox', { name: 'Environment' }) as HTMLSelectElement).value).toBe('env-prod');
    expect(await screen.findByText(/VM Import accepts at most 215 GB/)).toBeTruthy();
    expect(screen.getByText(/To fix: Shrink the disk\./)).toBeTruthy();
    expect(begin().disabled).toBe(true);
  });

  it('validates the private IP against the subnet while typing and only sends a valid one to pre-flight', async () => {
    fx.environments = [env()];
    renderModal();
    const ip = await screen.findByRole('textbox', { name: 'Private IP address (optional)' });
    await waitFor(() => expect((ip as HTMLInputElement).disabled).toBe(false));
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.change(ip, { target: { value: '10.0.2.7' } });
    expect((await screen.findByRole('alert')).textContent).toContain('not in the subnet 10.0.1.0/24');
    expect(begin().disabled).toBe(true);
    expect(fx.preflightCalls.some((q) => q.get('privateIpAddress') === '10.0.2.7')).toBe(false);
    fireEvent.change(ip, { target: { value: '10.0.1.25' } });
    await waitFor(() => expect(fx.preflightCalls.some((q) => q.get('privateIpAddress') === '10.0.1.25')).toBe(true));
    await waitFor(() => expect(begin().disabled).toBe(false));
  });

  it('names the first problem in the footer and takes the user to its field', async () => {
    fx.environments = [env(), env({ id: 'env-eu', name: 'Europe', region: 'eu-west-1' })];
    const scrolled: Element[] = [];
    const original = Element.prototype.scrollIntoView;
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this);
    };
    try {
      renderModal();
      // Two regions: nothing is chosen yet, and the footer says which field comes first.
      const region = await screen.findByRole('combobox', { name: 'Region' });
      const first = await screen.findByRole('button', { name: 'Region: select one to continue.' });
      expect(screen.queryByText('Complete the form to continue.')).toBeNull();
      fireEvent.click(first);
      expect(document.activeElement).toBe(region);
      expect(scrolled).toContain(region);

      fireEvent.change(region, { target: { value: 'us-east-1' } });
      const ip = await screen.findByRole('textbox', { name: 'Private IP address (optional)' });
      await waitFor(() => expect(begin().disabled).toBe(false));
      fireEvent.change(ip, { target: { value: '10.0.300.1' } });
      const problem = await screen.findByRole('button', { name: /^Private IP address: 10\.0\.300\.1 is not a valid IPv4 address/ });
      // Begin says why it is disabled with the same words.
      expect(begin().getAttribute('aria-describedby')).toBe(problem.parentElement!.id);
      fireEvent.click(problem);
      expect(document.activeElement).toBe(ip);
      expect(scrolled.at(-1)).toBe(ip);
    } finally {
      Element.prototype.scrollIntoView = original;
    }
  });

  it('begins the migration with the chosen values and shows the queued task ID', async () => {
    fx.environments = [env()];
    fx.preflightChecks = [{ code: 'POWERED_ON', severity: 'warning', message: 'The VM is powered on.', fix: 'Shut it down for a consistent copy.' }];
    renderModal();
    await waitFor(() => expect(begin().disabled).toBe(false));
    expect(screen.getByText(/The VM is powered on\./)).toBeTruthy();
    fireEvent.click(begin());
    const result = await screen.findByText(/Queued task ID/);
    expect(within(result).getByText('mig-000001')).toBeTruthy();
    expect(fx.migrationBodies).toEqual([
      {
        token: 'aaa.bbb.ccc',
        environmentId: 'env-prod',
        vmId: 'vm-42',
        platform: 'Linux',
        subnetId: 'subnet-0a1b2c3d4e5f67890',
        instanceType: 'm5.large',
        securityGroupIds: ['sg-0a1b2c3d4e5f67890'],
        mode: 'cold',
      },
    ]);
  });

  it('says the connector is updating and stays on the form', async () => {
    fx.environments = [env()];
    fx.server.use(http.post(`${API}/migrations`, () => HttpResponse.json({ code: 'CONNECTOR_UPDATING', message: 'The connector is updating.' }, { status: 503 })));
    renderModal();
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.click(begin());
    expect(await screen.findByText(/can't create a migration task while the connector is updating/)).toBeTruthy();
    expect(screen.getByRole('combobox', { name: 'Subnet' })).toBeTruthy();
  });

  it('shows the connector error message and code when the VM cannot be read', async () => {
    fx.server.use(http.get(`${API}/vms/vm-42`, () => HttpResponse.json({ code: 'VCENTER_UNREACHABLE', message: 'vCenter did not answer.' }, { status: 502 })));
    renderModal();
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('vCenter did not answer.');
    expect(alert.textContent).toContain('VCENTER_UNREACHABLE');
  });
});
