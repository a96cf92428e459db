// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { PreflightResult } from '../../connector/contract/index.ts';
import { intervalProblem } from '../../ui/features/migrate/formRules.ts';
import { createTranslator } from '../../ui/i18n/i18n.ts';
import { env } from './fixtures.ts';
import { begin, renderModal, useMigrateFormConnector } from './migrate-fixture.tsx';

const fx = useMigrateFormConnector();

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
    fx.environments = [env()];
    renderModal();
    const now = await screen.findByRole('radio', { name: 'Migrate now' });
    const warm = screen.getByRole('radio', { name: 'Replicate, then cut over' });
    expect((now as HTMLInputElement).checked).toBe(true);
    expect(warm.getAttribute('aria-describedby')).toBeTruthy();
    expect(document.getElementById(warm.getAttribute('aria-describedby')!)?.textContent).toMatch(/while the VM runs.*downtime is one final sync and the launch/);
    expect(document.getElementById(now.getAttribute('aria-describedby')!)?.textContent).toMatch(/downtime lasts the whole copy and import/);
    // The warm fields appear only for warm.
    expect(screen.queryByRole('textbox', { name: 'Replication interval (minutes)' })).toBeNull();
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.click(begin());
    await screen.findByText(/Queued task ID/);
    expect(fx.migrationBodies[0]?.mode).toBe('cold');
    expect(fx.migrationBodies[0]).not.toHaveProperty('replicationIntervalMinutes');
    expect(fx.migrationBodies[0]).not.toHaveProperty('cutoverShutdown');
    expect(screen.queryByText(/The VM keeps running while its disks are replicated/)).toBeNull();
  });

  it('validates the interval as the contract does, names it beside Begin, and sends the warm choices', async () => {
    fx.environments = [env()];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    const interval = screen.getByRole('textbox', { name: 'Replication interval (minutes)' }) as HTMLInputElement;
    expect(interval.value).toBe('15');
    expect((screen.getByRole('radio', { name: 'Shut down the guest OS (VMware Tools)' }) as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(begin().disabled).toBe(false));

    fireEvent.change(interval, { target: { value: '4' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Replicate at most every 5 minutes.');
    expect(interval.getAttribute('aria-invalid')).toBe('true');
    const problem = screen.getByRole('button', { name: 'Replication interval: Replicate at most every 5 minutes.' });
    expect(begin().getAttribute('aria-describedby')).toBe(problem.parentElement!.id);
    expect(begin().disabled).toBe(true);
    fireEvent.click(problem);
    expect(document.activeElement).toBe(interval);

    fireEvent.change(interval, { target: { value: '12.5' } });
    expect((await screen.findByRole('alert')).textContent).toBe('Use whole minutes.');
    expect(begin().disabled).toBe(true);

    fireEvent.change(interval, { target: { value: '30' } });
    fireEvent.click(screen.getByRole('radio', { name: 'I will power off the VM myself' }));
    await waitFor(() => expect(begin().disabled).toBe(false));
    expect(screen.queryByRole('alert')).toBeNull();
    fireEvent.click(begin());
    await screen.findByText(/Queued task ID/);
    expect(screen.getByText(/The VM keeps running while its disks are replicated/)).toBeTruthy();
    expect(fx.migrationBodies).toEqual([
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
    fx.environments = [env()];
    renderModal();
    await waitFor(() => expect(fx.preflightCalls.length).toBeGreaterThan(0));
    expect(fx.preflightCalls.every((q) => !q.has('mode') && !q.has('cutoverShutdown'))).toBe(true);
    fx.preflightChecks = [{ code: 'WARM_TOOLS_NOT_RUNNING', severity: 'blocker', message: 'VMware Tools is not running in ubuntu-web-01.', fix: 'Start VMware Tools, or choose to power off the VM yourself.' }];
    fireEvent.click(screen.getByRole('radio', { name: 'Replicate, then cut over' }));
    await waitFor(() => expect(fx.preflightCalls.some((q) => q.get('mode') === 'warm' && q.get('cutoverShutdown') === 'guest')).toBe(true));
    expect(await screen.findByText(/VMware Tools is not running/)).toBeTruthy();
    expect(begin().disabled).toBe(true);
    fx.preflightChecks = [];
    fireEvent.click(screen.getByRole('radio', { name: 'I will power off the VM myself' }));
    await waitFor(() => expect(fx.preflightCalls.some((q) => q.get('mode') === 'warm' && q.get('cutoverShutdown') === 'user')).toBe(true));
    await waitFor(() => expect(begin().disabled).toBe(false));
  });

  it('offers registering the replicated disks directly only when the pre-flight says the guest is Nitro-ready, and sends the choice', async () => {
    fx.environments = [env()];
    const fact = (nitroReady: boolean | null): PreflightResult['checks'][number] => ({
      code: 'NITRO_READINESS',
      severity: 'info',
      message: nitroReady ? 'The guest has the ENA and NVMe drivers that Nitro-based EC2 instances need.' : 'The guest does not have the ENA and NVMe drivers that Nitro-based EC2 instances need.',
      details: { nitroReady, source: 'vmware-tools', guestId: 'rhel8_64Guest' },
    });
    // Not ready: only the fact shows, no image choice, nothing sent.
    fx.preflightChecks = [fact(false)];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    expect(await screen.findByText(/does not have the ENA and NVMe drivers/)).toBeTruthy();
    expect(screen.queryByRole('radiogroup', { name: 'Image' })).toBeNull();
    cleanup();

    fx.preflightChecks = [fact(true)];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    const viaImport = (await screen.findByRole('radio', { name: 'Import with VM Import' })) as HTMLInputElement;
    const register = screen.getByRole('radio', { name: 'Register the replicated disks directly' }) as HTMLInputElement;
    expect(viaImport.checked).toBe(true);
    expect(document.getElementById(viaImport.getAttribute('aria-describedby')!)?.textContent).toBe('AWS installs the drivers the instance needs.');
    expect(document.getElementById(register.getAttribute('aria-describedby')!)?.textContent).toBe('Faster: the guest already has the ENA and NVMe drivers.');
    fireEvent.click(register);
    // The pre-flight checks the choice against the guest before Begin.
    await waitFor(() => expect(fx.preflightCalls.some((q) => q.get('mode') === 'warm' && q.get('imagePath') === 'register-image')).toBe(true));
    await waitFor(() => expect(begin().disabled).toBe(false));
    fireEvent.click(begin());
    await screen.findByText(/Queued task ID/);
    expect(fx.migrationBodies[0]).toMatchObject({ mode: 'warm', imagePath: 'register-image' });
  });

  it('going back to Migrate now drops a wrong interval: it no longer applies', async () => {
    fx.environments = [env()];
    renderModal();
    fireEvent.click(await screen.findByRole('radio', { name: 'Replicate, then cut over' }));
    fireEvent.change(screen.getByRole('textbox', { name: 'Replication interval (minutes)' }), { target: { value: '2' } });
    await waitFor(() => expect(begin().disabled).toBe(true));
    fireEvent.click(screen.getByRole('radio', { name: 'Migrate now' }));
    await waitFor(() => expect(begin().disabled).toBe(false));
  });
});
