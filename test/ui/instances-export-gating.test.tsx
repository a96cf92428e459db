// @vitest-environment jsdom
// Issue 12 item 14: Export instance to S3 is for portal administrators (the server refuses anyone else), so a
// non-administrator sees it disabled with the reason instead of a refusal after clicking Export.
import { cleanup, fireEvent, screen } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InstancesTab } from '../../ui/features/portal/InstancesTab.tsx';
import { testIds } from '../../ui/testIds.ts';
import { API, renderWithProviders } from './render.tsx';

// jsdom has no layout: the table's column fitting observes nothing here.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

let isAdministrator = false;
const server = setupServer(
  http.get(`${API}/me`, () => HttpResponse.json({ userName: isAdministrator ? 'administrator@vsphere.local' : 'operator@vsphere.local', isAdministrator })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [] })),
  http.get(`${API}/settings/instance-export`, () => HttpResponse.json({ bucketName: 'lab', buckets: [] })),
  http.get(`${API}/instances`, () => HttpResponse.json({ items: [{ instanceId: 'i-0123456789abcdef0', state: 'stopped' }] })),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
});
afterAll(() => server.close());

async function gettingStarted() {
  renderWithProviders(<InstancesTab environmentId="env-prod" />);
  fireEvent.click(await screen.findByText('i-0123456789abcdef0'));
  fireEvent.click(screen.getByRole('tab', { name: 'Getting Started' }));
  return screen.getByRole('button', { name: 'Export instance to S3' }) as HTMLButtonElement;
}

describe('Export instance to S3 on Getting Started', () => {
  it('is disabled for a user who is not a portal administrator, with the reason, and opens no dialog', async () => {
    isAdministrator = false;
    const button = await gettingStarted();
    const reason = await screen.findByText(/^Only administrators of the AWS Management Portal can export instances to S3\. Ask your administrator/);
    expect(reason.getAttribute('data-test')).toBe(testIds.portal.exportAdminOnly);
    expect(button.disabled).toBe(true);
    expect(button.title).toBe(reason.textContent);
    fireEvent.click(button);
    expect(screen.queryByRole('dialog', { name: 'Export instance to S3' })).toBeNull();
  });

  it('is enabled for an administrator and opens the dialog', async () => {
    isAdministrator = true;
    const button = await gettingStarted();
    await screen.findByText('i-0123456789abcdef0');
    await expect.poll(() => button.disabled).toBe(false);
    expect(screen.queryByTestId(testIds.portal.exportAdminOnly)).toBeNull();
    fireEvent.click(button);
    expect(await screen.findByRole('dialog', { name: 'Export instance to S3' })).toBeTruthy();
  });
});
