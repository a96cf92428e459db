// @vitest-environment jsdom
import { QueryClient } from '@tanstack/react-query';
import { act, cleanup, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationList, MigrationTask } from '../../connector/contract/index.ts';
import { createApi } from '../../ui/api/client.ts';
import { createHttp } from '../../ui/api/http.ts';
import { MigrationsTab } from '../../ui/features/portal/MigrationsTab.tsx';
import { migrationQueries, refetchWhileActive } from '../../ui/features/portal/portal.queries.ts';
import { task } from './fixtures.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

const uploading = (over: Partial<MigrationTask>): MigrationTask =>
  task({ percent: 40, createdAt: '2026-11-25T10:00:00.000Z', updatedAt: '2026-11-25T10:01:00.000Z', ...over });

let items: MigrationTask[] = [];
const seen: URLSearchParams[] = [];
const server = setupServer(
  http.get(`${API}/migrations`, ({ request }) => {
    seen.push(new URL(request.url).searchParams);
    const body: MigrationList = { items, total: items.length };
    return HttpResponse.json(body);
  }),
  // What the portal asks besides the list: who the user is, the environments, the environment's waves (none here).
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'operator@vsphere.local', isAdministrator: false })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [] })),
  http.get(`${API}/waves`, () => HttpResponse.json({ items: [], total: 0 })),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  items = [];
  seen.length = 0;
});
afterAll(() => server.close());

describe('migration queries', () => {
  it('poll while any task is queued, running or cancelling, and stop when all are terminal', () => {
    const list = (...states: MigrationTask['state'][]): MigrationList => ({ items: states.map((state, i) => uploading({ id: `mig-00000${i}`, state })), total: states.length });
    expect(refetchWhileActive(undefined)).toBe(false);
    expect(refetchWhileActive(list())).toBe(false);
    expect(refetchWhileActive(list('completed', 'failed', 'cancelled'))).toBe(false);
    expect(refetchWhileActive(list('completed', 'queued'))).toBeGreaterThan(0);
    expect(refetchWhileActive(list('cancelling'))).toBeGreaterThan(0);
  });

  it('ask the connector for one environment, under a key every migration mutation can invalidate', async () => {
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const api = createApi(createHttp(fakeHost()));
    items = [uploading({ state: 'completed', percent: 100, instanceId: 'i-0123456789abcdef0' })];
    const opts = migrationQueries.byEnvironment(api, 'env-prod');
    const data = await qc.fetchQuery(opts);
    expect(data.items[0]?.instanceId).toBe('i-0123456789abcdef0');
    expect(seen[0]?.get('environmentId')).toBe('env-prod');
    expect(opts.queryKey.slice(0, 1)).toEqual(migrationQueries.all());
    await qc.invalidateQueries({ queryKey: migrationQueries.all() });
    expect(qc.getQueryState(opts.queryKey)?.isInvalidated).toBe(true);
    qc.clear();
  });

  it('a failed background refresh keeps the list on screen and says so', async () => {
    items = [uploading({ state: 'running', phase: 'importing', importStatus: 'converting', percent: 62 })];
    const { queryClient } = renderWithProviders(<MigrationsTab environmentId="env-prod" />);
    expect(await screen.findByText('mig-000001')).toBeTruthy();
    expect(screen.getByText(/Amazon EC2 is importing the image · EC2: converting/)).toBeTruthy();
    expect((screen.getByRole('progressbar', { name: 'Progress of mig-000001' }) as HTMLProgressElement).value).toBe(62);
    server.use(http.get(`${API}/migrations`, () => HttpResponse.json({ code: 'STORE_UNAVAILABLE', message: 'The task store is unavailable.' }, { status: 503 })));
    await act(() => queryClient.refetchQueries());
    await waitFor(() => expect(screen.getByText(/Refreshing failed/)).toBeTruthy());
    expect(screen.getByText('mig-000001')).toBeTruthy();
    queryClient.clear();
  });

  it('a completed migration whose clean-up failed shows the warning beside its success', async () => {
    const warning = 'The instance is ready, but the connector could not remove the staging copy of the disks (s3://b/vm2ec2/mig-000001/): InternalError. Delete that prefix in the S3 console to stop paying for its storage.';
    items = [uploading({ state: 'completed', phase: 'done', percent: 100, instanceId: 'i-0123456789abcdef0', warning })];
    const { queryClient } = renderWithProviders(<MigrationsTab environmentId="env-prod" />);
    expect(await screen.findByText(warning)).toBeTruthy();
    queryClient.clear();
  });
});
