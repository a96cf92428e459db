// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(cleanup);

describe('plugin router', () => {
  it('renders a loading state while the first page loads, without React Router warning about HydrateFallback', async () => {
    const warn = vi.spyOn(console, 'warn');
    window.location.hash = '#/vm/monitor';
    // The page module would call the vSphere Client; this test is about the first render only.
    vi.doMock('../../ui/features/vm-monitor/VmMonitorPage.tsx', () => ({ VmMonitorPage: () => <p>VM page</p> }));
    const { router } = await import('../../ui/app/router.tsx');
    render(<RouterProvider router={router} />);
    expect(screen.getByRole('status').textContent).toContain('Loading');
    expect(await screen.findByText('VM page')).toBeTruthy();
    expect(warn.mock.calls.flat().join('\n')).not.toMatch(/HydrateFallback/);
    warn.mockRestore();
  });
});
