// The lab vSphere Client's VM list selects like the real client's datagrids, so several VMs reach a multi-target action.
import { describe, expect, it } from 'vitest';
import { nextSelection } from '../../lab/vsphere-client/web/shell/FolderView.tsx';

const order = ['vm-1', 'vm-2', 'vm-3', 'vm-4', 'vm-5'];
const plain = { ctrl: false, shift: false };
const ctrl = { ctrl: true, shift: false };
const shift = { ctrl: false, shift: true };
const ids = (s: { selected: Set<string> }) => [...s.selected].sort();

describe('folder VM list selection', () => {
  it('a click selects one row and makes it the anchor', () => {
    expect(ids(nextSelection(order, new Set(['vm-1', 'vm-2']), 'vm-1', 'vm-3', plain))).toEqual(['vm-3']);
  });

  it('Ctrl-click adds or removes one row', () => {
    const added = nextSelection(order, new Set(['vm-1']), 'vm-1', 'vm-4', ctrl);
    expect(ids(added)).toEqual(['vm-1', 'vm-4']);
    expect(ids(nextSelection(order, added.selected, added.anchor, 'vm-1', ctrl))).toEqual(['vm-4']);
  });

  it('Shift-click selects the range from the anchor, upwards or downwards', () => {
    expect(ids(nextSelection(order, new Set(['vm-2']), 'vm-2', 'vm-4', shift))).toEqual(['vm-2', 'vm-3', 'vm-4']);
    expect(ids(nextSelection(order, new Set(['vm-4']), 'vm-4', 'vm-2', shift))).toEqual(['vm-2', 'vm-3', 'vm-4']);
    // Ctrl+Shift adds the range to what was selected.
    expect(ids(nextSelection(order, new Set(['vm-5']), 'vm-1', 'vm-2', { ctrl: true, shift: true }))).toEqual(['vm-1', 'vm-2', 'vm-5']);
  });

  it('Shift-click without an anchor selects just that row', () => {
    expect(ids(nextSelection(order, new Set(), null, 'vm-3', shift))).toEqual(['vm-3']);
  });
});
