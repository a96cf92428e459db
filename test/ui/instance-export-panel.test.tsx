// @vitest-environment jsdom
// Issue 12 item 13: Configure Instance Export shows the current configuration, confirms a change in the vSphere
// Client's dialog, and sends the name it replaces, so a change made meanwhile by another administrator is refused.
import { cleanup, configure, fireEvent, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InstanceExportPanel } from '../../ui/features/admin/InstanceExportPanel.tsx';
import type { Host } from '../../ui/host/host.ts';
import { testIds } from '../../ui/testIds.ts';
import { API, fakeHost, renderWithProviders } from './render.tsx';

configure({ testIdAttribute: 'data-test' });
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

let current: string | null = 'first';
const puts: unknown[] = [];
const view = () =>
  HttpResponse.json({
    bucketName: current,
    buckets: current ? [{ region: 'us-east-1', bucket: `export-to-s3-${current}-us-east-1` }] : [],
    ...(current ? { updatedAt: '2026-12-01T10:00:00.000Z', updatedBy: 'administrator@vsphere.local' } : {}),
  });
const server = setupServer(
  http.get(`${API}/settings/instance-export`, view),
  http.put(`${API}/settings/instance-export`, async ({ request }) => {
    const body = (await request.json()) as { bucketName: string; expectedBucketName?: string | null };
    puts.push(body);
    if ((body.expectedBucketName ?? null) !== current) {
      return HttpResponse.json({ code: 'SETTINGS_CHANGED', message: `Another administrator changed the bucket name to "${current}".` }, { status: 409 });
    }
    current = body.bucketName;
    return view();
  }),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  current = 'first';
  puts.length = 0;
});
afterAll(() => server.close());

/** A vSphere Client that records the confirmation and presses its primary button. */
function confirmingHost() {
  const asked: { title: string; content: string }[] = [];
  const host: Host = {
    ...fakeHost(),
    confirm: (c) => {
      asked.push({ title: c.title, content: c.content });
      c.buttons.find((b) => b.type === 'PRIMARY')?.callback?.();
    },
  };
  return { host, asked };
}

async function change(to: string) {
  fireEvent.click(await screen.findByTestId(testIds.admin.exportChange));
  fireEvent.change(screen.getByRole('textbox', { name: 'New S3 bucket name' }), { target: { value: to } });
  fireEvent.click(screen.getByRole('checkbox', { name: /I agree/ }));
  fireEvent.click(screen.getByTestId(testIds.admin.exportSave));
}

describe('Configure Instance Export', () => {
  it('shows the current configuration and offers no Create once a name is set', async () => {
    renderWithProviders(<InstanceExportPanel regions={['us-east-1']} />);
    expect((await screen.findByTestId(testIds.admin.exportCurrentName)).textContent).toBe('first');
    expect(screen.getByTestId(testIds.admin.exportCurrent).textContent).toContain('by administrator@vsphere.local');
    expect(screen.getByTestId(testIds.admin.exportBuckets).textContent).toContain('export-to-s3-first-us-east-1');
    expect(screen.queryByRole('button', { name: 'Create' })).toBeNull();
  });

  it('confirms a change, saying what happens to running and later exports, and sends the name it replaces', async () => {
    const { host, asked } = confirmingHost();
    renderWithProviders(<InstanceExportPanel regions={['us-east-1']} />, host);
    await change('second');
    await waitFor(() => expect(screen.getByTestId(testIds.admin.exportCurrentName).textContent).toBe('second'));
    expect(asked).toEqual([
      {
        title: 'Change Instance Export Configuration',
        content: expect.stringContaining('Exports already running keep writing to export-to-s3-first-<region>'),
      },
    ]);
    expect(asked[0]!.content).toContain('Exports started after this change go to export-to-s3-second-<region>');
    expect(puts).toEqual([{ bucketName: 'second', expectedBucketName: 'first' }]);
  });

  it('shows the refusal and the name now configured when another administrator changed it first', async () => {
    const { host } = confirmingHost();
    renderWithProviders(<InstanceExportPanel regions={['us-east-1']} />, host);
    await screen.findByTestId(testIds.admin.exportCurrentName);
    current = 'other-admins'; // changed by someone else after this page read the configuration
    await change('second');
    expect((await screen.findByTestId(testIds.apiError)).textContent).toContain('Another administrator changed the bucket name to "other-admins"');
    await waitFor(() => expect(screen.getByTestId(testIds.admin.exportCurrentName).textContent).toBe('other-admins'));
    expect(puts).toEqual([{ bucketName: 'second', expectedBucketName: 'first' }]);
  });
});
