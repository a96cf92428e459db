import '@cds/core/icon/register.js';
import { angleIcon, ClarityIcons } from '@cds/core/icon';
import { createElement, useState, type ReactNode } from 'react';

ClarityIcons.addIcons(angleIcon);

export interface TreeNode {
  id: string;
  label: string;
  icon?: ReactNode;
  children?: TreeNode[];
  /** false for grouping nodes that only expand. */
  selectable?: boolean;
  testId?: string;
}

/** Clarity's caret: the `angle` icon pointing right when collapsed, down when expanded (as in the vSphere Client navigator). */
function Caret({ open }: { open: boolean }) {
  return createElement('cds-icon', { shape: 'angle', direction: open ? 'down' : 'right', class: 'clr-treenode-caret-icon', 'aria-hidden': 'true' });
}

/** Clarity tree view with single selection; nodes are buttons so the tree works from the keyboard. */
export function Tree(props: { nodes: TreeNode[]; selected: string | null; onSelect: (id: string) => void; label: string; defaultExpanded?: string[] }) {
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(props.defaultExpanded));
  const toggle = (id: string) =>
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const render = (nodes: TreeNode[], level: number): ReactNode =>
    nodes.map((n) => {
      const hasChildren = (n.children?.length ?? 0) > 0;
      const open = expanded.has(n.id);
      const isSelected = props.selected === n.id;
      return (
        <div className="clr-tree-node" role="treeitem" aria-level={level} aria-expanded={hasChildren ? open : undefined} aria-selected={isSelected} key={n.id}>
          <div className="clr-tree-node-content-container">
            {hasChildren && (
              <button type="button" className="clr-treenode-caret" aria-label={`${open ? 'Collapse' : 'Expand'} ${n.label}`} onClick={() => toggle(n.id)}>
                <Caret open={open} />
              </button>
            )}
            {/* Without a caret, Clarity indents the content by one caret width (.clr-treenode-content:first-child). */}
            <div className="clr-treenode-content">
              <button
                type="button"
                className={`clr-treenode-link${isSelected ? ' active' : ''}`}
                data-test={n.testId}
                onClick={() => (n.selectable === false ? toggle(n.id) : props.onSelect(n.id))}
              >
                {n.icon}
                {n.label}
              </button>
            </div>
          </div>
          {hasChildren && open && (
            <div className="clr-treenode-children" role="group">
              {render(n.children ?? [], level + 1)}
            </div>
          )}
        </div>
      );
    });
  return (
    <div className="vsp-tree" role="tree" aria-label={props.label}>
      {render(props.nodes, 1)}
    </div>
  );
}
