import type { MouseEvent, ReactNode } from 'react';
import type { InventoryDto, InventoryFolderDto, InventoryVmDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import { Icon } from './Icon.tsx';
import { datacenterKey, powerBadge, powerLabel } from './model.ts';

export interface NavigatorProps {
  inventory: InventoryDto | null;
  error: string | null;
  expanded: ReadonlySet<string>;
  selectedId: string | null;
  onToggle(id: string): void;
  onSelectVm(vm: InventoryVmDto): void;
  onSelectFolder(folder: InventoryFolderDto): void;
  onSelectHome(): void;
  onVmContextMenu(vm: InventoryVmDto, x: number, y: number): void;
}

const INVENTORY_VIEWS = [
  { label: 'Hosts and Clusters', shape: 'host' },
  { label: 'VMs and Templates', shape: 'vm' },
  { label: 'Storage', shape: 'storage' },
  { label: 'Networking', shape: 'network-globe' },
] as const;

interface NodeProps {
  id: string;
  name: string;
  icon: ReactNode;
  level: number;
  hasChildren: boolean;
  expanded: boolean;
  selected: boolean;
  onToggle(): void;
  onSelect(): void;
  onContextMenu?(e: MouseEvent): void;
  children?: ReactNode;
  title?: string;
}

function TreeNode(p: NodeProps) {
  return (
    <div
      className="clr-tree-node"
      role="treeitem"
      aria-level={p.level}
      aria-selected={p.selected}
      {...(p.hasChildren ? { 'aria-expanded': p.expanded } : {})}
    >
      <div className="clr-tree-node-content-container">
        {p.hasChildren ? (
          <button
            type="button"
            className="clr-treenode-caret"
            aria-label={`${p.expanded ? 'Collapse' : 'Expand'} ${p.name}`}
            onClick={p.onToggle}
            data-test={testIds.navigator.toggle(p.name)}
          >
            <Icon shape="angle" direction={p.expanded ? 'down' : 'right'} className="clr-treenode-caret-icon" />
          </button>
        ) : null}
        <div className="clr-treenode-content">
          <button
            type="button"
            className={`clr-treenode-link${p.selected ? ' active' : ''}`}
            onClick={p.onSelect}
            onContextMenu={p.onContextMenu}
            data-test={testIds.navigator.node(p.name)}
            {...(p.title ? { title: p.title } : {})}
          >
            {p.icon}
            {p.name}
          </button>
        </div>
      </div>
      {p.hasChildren && p.expanded ? (
        <div className="clr-treenode-children" role="group">
          {p.children}
        </div>
      ) : null}
    </div>
  );
}

export function Navigator(props: NavigatorProps) {
  const { inventory, expanded, selectedId } = props;

  const renderVm = (vm: InventoryVmDto, level: number) => (
    <TreeNode
      key={vm.id}
      id={vm.id}
      name={vm.name}
      title={`${vm.name} (${powerLabel(vm.powerState)})`}
      icon={<Icon shape="vm" badge={powerBadge(vm.powerState)} label={`Virtual machine, ${powerLabel(vm.powerState)}`} />}
      level={level}
      hasChildren={false}
      expanded={false}
      selected={selectedId === vm.id}
      onToggle={() => {}}
      onSelect={() => props.onSelectVm(vm)}
      onContextMenu={(e) => {
        e.preventDefault();
        props.onVmContextMenu(vm, e.clientX, e.clientY);
      }}
    />
  );

  const renderFolderContent = (f: InventoryFolderDto, level: number): ReactNode[] => [
    ...f.children.map((c) => renderFolder(c, level)),
    ...f.vms.map((vm) => renderVm(vm, level)),
  ];

  const renderFolder = (f: InventoryFolderDto, level: number): ReactNode => {
    const open = expanded.has(f.id);
    return (
      <TreeNode
        key={f.id}
        id={f.id}
        name={f.name}
        icon={<Icon shape={open ? 'folder-open' : 'folder'} label="Folder" />}
        level={level}
        hasChildren={f.children.length + f.vms.length > 0}
        expanded={open}
        selected={selectedId === f.id}
        onToggle={() => props.onToggle(f.id)}
        onSelect={() => props.onSelectFolder(f)}
      >
        {renderFolderContent(f, level + 1)}
      </TreeNode>
    );
  };

  return (
    <nav className="vsc-navigator" aria-label="Inventory navigator">
      <div className="vsc-navigator-views" role="tablist" aria-label="Inventory views">
        {INVENTORY_VIEWS.map(({ label, shape }) => {
          const active = label === 'VMs and Templates';
          return (
            <button
              key={label}
              type="button"
              role="tab"
              aria-selected={active}
              className={`btn btn-link btn-icon${active ? ' vsc-active' : ''}`}
              disabled={!active}
              title={label}
              aria-label={label}
              data-test={testIds.navigator.view(label)}
            >
              <Icon shape={shape} />
            </button>
          );
        })}
      </div>
      <div className="vsc-tree" role="tree" aria-label="VMs and Templates" data-test={testIds.navigator.tree}>
        {props.error ? (
          <div className="alert alert-danger alert-sm" role="alert">
            <div className="alert-items">
              <div className="alert-item static">
                <span className="alert-text">{props.error}</span>
              </div>
            </div>
          </div>
        ) : null}
        {inventory ? (
          <TreeNode
            id="vcenter"
            name={inventory.vcenter.name}
            title={inventory.vcenter.fullName}
            icon={<Icon shape="host-group" label="vCenter Server" />}
            level={1}
            hasChildren={inventory.datacenters.length > 0}
            expanded={expanded.has('vcenter')}
            selected={selectedId === 'vcenter'}
            onToggle={() => props.onToggle('vcenter')}
            onSelect={props.onSelectHome}
          >
            {inventory.datacenters.map((dc) => (
              <TreeNode
                key={dc.name}
                id={datacenterKey(dc.name)}
                name={dc.name}
                icon={<Icon shape="building" label="Datacenter" />}
                level={2}
                hasChildren={dc.vmFolder.children.length + dc.vmFolder.vms.length > 0}
                expanded={expanded.has(datacenterKey(dc.name))}
                selected={selectedId === dc.vmFolder.id}
                onToggle={() => props.onToggle(datacenterKey(dc.name))}
                onSelect={() => props.onSelectFolder({ ...dc.vmFolder, name: dc.name })}
              >
                {renderFolderContent(dc.vmFolder, 3)}
              </TreeNode>
            ))}
          </TreeNode>
        ) : props.error ? null : (
          <div className="vsc-loading">
            <span className="spinner spinner-inline">Loading…</span> Loading inventory…
          </div>
        )}
      </div>
    </nav>
  );
}
