// @vitest-environment jsdom
// Resume replication on a rolled-back warm migration's row (issue 16): the Actions menu item and the offer under the
// rollback's result enabled as the server says, the confirmation saying from where the new replication starts (the
// last replicated point, or a full sync and why), the request, and the new task's outcome; a refusal is shown.
import { cleanup, configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationTask, WarmReplication } from '../../connector/contract/index.ts';
import { formatWhen } from '../../ui/features/portal/MigrationProgress.tsx';
import { MigrationsTab } from '../../ui/features/portal/MigrationsTab.tsx';
import { env, OPERATOR, task, warmView } from './fixtures.ts';
import { API, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });

const LAST_SYNC = '2026-12-03T10:40:00.000Z';
const CBT_OFF = 'Changed Block Tracking was turned off on the VM after the cutover, so replication starts with a full sync of the whole disk.';
const warm = (over: Partial<WarmReplication> = {}): WarmReplication => warmView({ shutdown: 'user', cycles: 6, lastSyncAt: LAST_SYNC, ...over });
const rolledBack = (id: string, over: Partial<MigrationTask> = {}): MigrationTask =>
  task({
    id,
    state: 'completed',
    phase: 'done',
    mode: 'warm',
    warm: warm({ imagePath: 'import-image', cutover: { requestedBy: OPERATOR, requestedAt: LAST_SYNC } }),
    vmName: 'rhel-db-01',
    percent: 100,
    instanceId: 'i-0bbbbbbbbbbbbbbb2',
    rollback: { possible: false, reason: 'This migration was rolled back by operator@vsphere.local at 2026-12-03 11:00:00 UTC.', state: 'rolled-back', rolledBackBy: OPERATOR, rolledBackAt: '2026-12-03T11:00:00.000Z', instanceAction: 'stop' },
    resume: { possible: true, fromLastPoint: true, lastSyncAt: LAST_SYNC },
    updatedAt: '2026-12-03T11:00:00.000Z',
    finishedAt: '2026-12-03T10:45:00.000Z',
    ...over,
  });

let items: MigrationTask[] = [];
const posted: string[] = [];
/** What POST …/resume-replication answers: the new task, or an error body with a status. */
let answer: (id: string) => Response = () => HttpResponse.json({ code: 'INTERNAL', message: 'not set' }, { status: 500 });
const server = setupServer(
  http.get(`${API}/migrations`, () => HttpResponse.json({ items, total: items.length })),
  http.get(`${API}/waves`, () => HttpResponse.json({ items: [], total: 0 })),
  http.get(`${API}/me`, () => HttpResponse.json({ userName: OPERATOR, isAdministrator: false })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [env()] })),
  http.post(`${API}/migrations/:id/resume-replication`, ({ params }) => {
    posted.push(String(params.id));
    return answer(String(params.id));
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  items = [];
  posted.length = 0;
});
afterAll(() => server.close());

const rowOf = async (id: string) => (await screen.findByTestId(`portal-migration-${id}`)) as HTMLTableRowElement;
const openActions = async (id: string) => {
  fireEvent.click(await screen.findByRole('button', { name: `Actions of migration task ${id}` }));
  const menu = screen.getByRole('menu', { name: `Actions of migration task ${id}` });
  return (name: string) => within(menu).getByRole('menuitem', { name }) as HTMLButtonElement;
};
/** The new warm migration the server starts, as it answers it (202). */
const started = (id: string, from: string, over: Partial<WarmReplication> = {}): MigrationTask =>
  rolledBack(id, { state: 'running', phase: 'initial-sync', percent: 0, instanceId: undefined, rollback: undefined, resume: undefined, finishedAt: undefined, warm: warm({ cycles: 0, lastSyncAt: undefined, resumedFrom: { migrationId: from, lastSyncAt: LAST_SYNC }, ...over }) });

describe('Resume replication of a rolled-back warm migration', () => {
  it('offers it from the Actions menu, confirms from the last replicated point, posts once and shows the new task', async () => {
    items = [rolledBack('mig-warm-1')];
    answer = () => HttpResponse.json(started('mig-warm-2', 'mig-warm-1'), { status: 202 });
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);

    const item = await openActions('mig-warm-1');
    expect(item('Roll back').disabled).toBe(true);
    const resume = item('Resume replication');
    expect(resume.disabled).toBe(false);
    expect(resume.title).toBe('Starts replicating this VM again from its last replicated point. Needs permission to migrate this VM into this environment.');
    fireEvent.click(resume);

    const dialog = await screen.findByRole('dialog', { name: 'Resume replication' });
    expect(within(dialog).getByText('Resume replication of rhel-db-01? This starts a new Replicate, then cut over migration of rhel-db-01 with the choices of migration mig-warm-1:')).toBeTruthy();
    const steps = within(dialog).getByTestId('resume-steps');
    expect([...steps.querySelectorAll('li')].map((li) => li.textContent)).toEqual([
      `Its first sync sends only the blocks that changed since the last replicated point (${formatWhen(LAST_SYNC)}), on top of the last EBS snapshots.`,
      'Replication then continues every 15 minutes; launch a test instance and cut over as before.',
      'The EC2 instance i-0bbbbbbbbbbbbbbb2 of the rolled-back migration is left as it is.',
    ]);
    expect(posted).toEqual([]);
    fireEvent.click(within(dialog).getByTestId('resume-confirm'));

    const result = await within(dialog).findByTestId('resume-result');
    expect(result.textContent).toBe('Replication resumed as migration task mig-warm-2.');
    expect(posted).toEqual(['mig-warm-1']);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Resume replication' })).toBeNull());
  });

  it('says a full sync and why before and after, when the last point is no longer usable', async () => {
    const reason = 'The rollback window closed at 2026-12-10 10:45:00 UTC, so the connector released the last replicated point (its EBS snapshots and Changed Block Tracking); replication starts with a full sync of the whole disk.';
    items = [rolledBack('mig-warm-3', { resume: { possible: true, fromLastPoint: false, fullSyncReason: reason, lastSyncAt: LAST_SYNC } })];
    // The server found CBT off as well: the new task's own reason is what the result shows.
    answer = () => HttpResponse.json(started('mig-warm-4', 'mig-warm-3', { fullSync: true, fullSyncReason: CBT_OFF }), { status: 202 });
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);

    // Offered under the rollback's result too.
    const row = await rowOf('mig-warm-3');
    expect(within(row).getByTestId('rollback-status').textContent).toBe('Rolled back by operator@vsphere.local: instance stopped, VM powered on.');
    fireEvent.click(within(row).getByTestId('resume-offer-mig-warm-3'));

    const dialog = await screen.findByRole('dialog', { name: 'Resume replication' });
    const first = within(dialog).getByTestId('resume-steps').querySelector('li')!;
    expect(first.textContent).toBe(`Its first sync copies the whole disk (full sync): ${reason}`);
    expect(first.className).toBe('vsp-subtext-warning');
    fireEvent.click(within(dialog).getByTestId('resume-confirm'));
    const result = await within(dialog).findByTestId('resume-result');
    expect(result.textContent).toBe(`Replication resumed as migration task mig-warm-4, with a full sync: ${CBT_OFF}`);
    expect(result.className).toContain('alert-warning');
  });

  it('shows the server\'s refusal in the dialog, and a disabled item with the reason when not possible', async () => {
    items = [
      rolledBack('mig-warm-5'),
      rolledBack('mig-warm-6', {
        rollback: { possible: true, until: '2026-12-10T10:45:00.000Z' },
        resume: { possible: false, reason: 'It was not rolled back: the instance is still the migrated VM. Roll back first (Actions → Roll back), which powers the source VM on again, then resume replication.', fromLastPoint: true, lastSyncAt: LAST_SYNC },
      }),
      rolledBack('mig-warm-7', { resume: { possible: false, reason: 'Replication was resumed by operator@vsphere.local at 2026-12-03 11:05:00 UTC as migration mig-warm-8. Follow that migration instead.', fromLastPoint: true, migrationId: 'mig-warm-8', resumedBy: OPERATOR, resumedAt: '2026-12-03T11:05:00.000Z' } }),
    ];
    const message = 'You cannot resume replication of migration mig-warm-5. Your vCenter role does not allow exporting the virtual machine "rhel-db-01" (vm-42): it needs the privilege vApp > Export.';
    answer = () => HttpResponse.json({ code: 'VM_EXPORT_DENIED', message }, { status: 403 });
    renderWithProviders(<MigrationsTab environmentId="env-prod" />);

    const notYet = await openActions('mig-warm-6');
    expect(notYet('Resume replication').disabled).toBe(true);
    expect(notYet('Resume replication').title).toContain('Roll back first');
    expect(within(await rowOf('mig-warm-6')).queryByTestId('resume-offer-mig-warm-6')).toBeNull();
    fireEvent.keyDown(document, { key: 'Escape' });

    // Resumed already: the row names the new task, and offers nothing.
    const resumed = await rowOf('mig-warm-7');
    expect(within(resumed).getByTestId('resume-status').textContent).toBe('Replication resumed by operator@vsphere.local as migration task mig-warm-8.');
    expect(within(resumed).queryByTestId('resume-offer-mig-warm-7')).toBeNull();

    fireEvent.click(within(await rowOf('mig-warm-5')).getByTestId('resume-offer-mig-warm-5'));
    const dialog = await screen.findByRole('dialog', { name: 'Resume replication' });
    fireEvent.click(within(dialog).getByTestId('resume-confirm'));
    expect((await within(dialog).findByTestId('api-error')).textContent).toContain(message);
    expect(within(dialog).queryByTestId('resume-result')).toBeNull();
    expect(posted).toEqual(['mig-warm-5']);
  });
});
