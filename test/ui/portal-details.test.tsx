// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Tree } from '../../ui/kit/Tree.tsx';
import { PortalPage } from '../../ui/features/portal/PortalPage.tsx';
import { API, renderWithProviders } from './render.tsx';

let isAdministrator = false;
const server = setupServer(
  http.get(`${API}/me`, () => HttpResponse.json({ userName: 'readonly@vsphere.local', isAdministrator })),
  http.get(`${API}/environments`, () => HttpResponse.json({ environments: [] })),
  http.get(`${API}/regions`, () => HttpResponse.json({ regions: [] })),
);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  cleanup();
  server.resetHandlers();
  isAdministrator = false;
});
afterAll(() => server.close());

describe('portal tree', () => {
  it("uses Clarity's angle icon as the caret, right when collapsed and down when expanded", () => {
    render(
      <Tree
        label="Regions and environments"
        selected={null}
        onSelect={() => {}}
        nodes={[{ id: 'region:us-east-1', label: 'us-east-1', selectable: false, children: [{ id: 'env-1', label: 'Production' }] }]}
      />,
    );
    const caret = screen.getByRole('button', { name: 'Expand us-east-1' });
    // React sets the icon's properties (it is a defined custom element), which the element may reflect later.
    const prop = (el: Element | null | undefined, name: string) => (el as unknown as Record<string, unknown> | null | undefined)?.[name] ?? el?.getAttribute(name);
    const icon = caret.querySelector('cds-icon');
    expect(prop(icon, 'shape')).toBe('angle');
    expect(prop(icon, 'direction')).toBe('right');
    expect(customElements.get('cds-icon')).toBeDefined();
    expect(document.body.textContent).not.toMatch(/[▸▾►▼]/);
    fireEvent.click(caret);
    expect(prop(screen.getByRole('button', { name: 'Collapse us-east-1' }).querySelector('cds-icon'), 'direction')).toBe('down');
    // A leaf has no caret; Clarity indents its content instead.
    expect(screen.getByRole('button', { name: 'Production' }).closest('.clr-tree-node-content-container')?.querySelector('.clr-treenode-caret')).toBeNull();
  });
});

describe('portal without environments', () => {
  it('tells a user who can see no environment what is true and whom to ask, not to expand a region', async () => {
    renderWithProviders(<PortalPage />);
    const note = await screen.findByText(/There is no environment you can see/);
    expect(note.textContent).toContain('Ask a vCenter administrator to grant you a role');
    expect(screen.queryByText(/Expand a region/)).toBeNull();
    expect(screen.getAllByText(/no environment/i)).toHaveLength(1);
  });

  it('tells an administrator to create one', async () => {
    isAdministrator = true;
    renderWithProviders(<PortalPage />);
    expect(await screen.findByText('There are no environments yet. Create one in Administration.')).toBeTruthy();
    expect(screen.queryByText(/Expand a region/)).toBeNull();
  });
});
