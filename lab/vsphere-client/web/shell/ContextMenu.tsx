import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import type { DynamicItemsDto, InventoryVmDto, PluginDto } from '../../api-types.ts';
import type { ManifestAction } from '../../manifest-schema.ts';
import { testIds } from '../../test-ids.ts';
import { api } from './api.ts';
import { Icon } from './Icon.tsx';
import { pluginLabel, vmMenuItems, vmUrn } from './model.ts';
import { useDismiss } from './useDismiss.ts';

export interface ContextMenuProps {
  x: number;
  y: number;
  /** The targets: one VM, or the VMs selected in a list (Ctrl/Shift-click). */
  vms: InventoryVmDto[];
  vcGuid: string;
  plugins: PluginDto[];
  onClose(): void;
  onAction(plugin: PluginDto, action: ManifestAction, vms: InventoryVmDto[]): void;
  onUnauthorized(err: unknown): void;
}

// The vSphere Client's VM menu; the lab does not emulate these, so they are disabled stubs.
const STANDARD: (string | { submenu: string; items: string[] } | null)[] = [
  { submenu: 'Power', items: ['Power On', 'Power Off', 'Suspend', 'Reset', 'Shut Down Guest OS', 'Restart Guest OS'] },
  { submenu: 'Guest OS', items: ['Answer Question…', 'Install VMware Tools…', 'Customize Guest OS…'] },
  { submenu: 'Snapshots', items: ['Take Snapshot…', 'Manage Snapshots', 'Consolidate', 'Delete All Snapshots'] },
  'Open Remote Console',
  'Migrate…',
  { submenu: 'Clone', items: ['Clone to Virtual Machine…', 'Clone to Template…', 'Clone as Template to Library…'] },
  { submenu: 'Template', items: ['Convert to Template'] },
  'Export System Logs…',
  null,
  'Edit Settings…',
  'Move to folder…',
  'Rename…',
  'Edit Notes…',
  { submenu: 'Tags & Custom Attributes', items: ['Assign Tag…', 'Remove Tag', 'Edit Custom Attributes…'] },
  'Add Permission…',
  { submenu: 'Alarms', items: ['New Alarm Definition…', 'Enable Alarm Actions'] },
  null,
  'Remove from Inventory',
  'Delete from Disk',
];

type DynamicState = { loading: true } | { loading: false; result: DynamicItemsDto };

function Submenu({ label, testId, open, onOpen, children }: { label: string; testId: string; open: boolean; onOpen(): void; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  // Open upwards in the lower half of the window so the submenu stays on screen. (For nested Clarity
  // dropdowns "right-bottom" grows upwards from the trigger's bottom, "right-top" downwards from its top.)
  const [upwards, setUpwards] = useState(false);
  useLayoutEffect(() => {
    if (open && ref.current) setUpwards(ref.current.getBoundingClientRect().top > window.innerHeight / 2);
  }, [open]);
  return (
    <div ref={ref} className={`dropdown ${upwards ? 'right-bottom' : 'right-top'}${open ? ' open' : ''}`} onMouseEnter={onOpen}>
      <button type="button" role="menuitem" aria-haspopup="menu" aria-expanded={open} className="dropdown-item expandable" onClick={onOpen} data-test={testId}>
        {label}
      </button>
      {open ? (
        <div className="dropdown-menu" role="menu" aria-label={label}>
          {children}
        </div>
      ) : null}
    </div>
  );
}

/** Right-click menu of a VM (also opened by the ACTIONS button), with each plugin's actions in its own submenu. */
export function ContextMenu(props: ContextMenuProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [openSub, setOpenSub] = useState<string | null>(null);
  const [pos, setPos] = useState({ left: props.x, top: props.y });
  const [dynamic, setDynamic] = useState<Record<string, DynamicState>>({});
  const { onClose, onUnauthorized, vms, vcGuid, plugins } = props;
  const many = vms.length > 1;
  const objectIds = vms.map((v) => vmUrn(v.id, vcGuid));
  const idsKey = objectIds.join(' ');
  useDismiss(ref, true, useCallback(() => onClose(), [onClose]));

  // Ask each plugin server which of its dynamic actions apply, before they can be used (vsphere-ui does this server-side).
  useEffect(() => {
    let live = true;
    for (const p of plugins) {
      if (!vmMenuItems(p).some((i) => 'id' in i && i.dynamic)) continue;
      setDynamic((d) => ({ ...d, [p.instanceId]: { loading: true } }));
      api
        .dynamicItems(p.instanceId, { objectType: 'VirtualMachine', container: 'menu', objectIds: idsKey.split(' ') })
        .catch((err: unknown): DynamicItemsDto => {
          onUnauthorized(err);
          return { items: {}, error: err instanceof Error ? err.message : String(err) };
        })
        .then((result) => {
          if (result.error) console.warn(`Dynamic items of ${p.key}: ${result.error}`);
          if (live) setDynamic((d) => ({ ...d, [p.instanceId]: { loading: false, result } }));
        });
    }
    return () => {
      live = false;
    };
  }, [plugins, idsKey, onUnauthorized]);

  // Keep the menu inside the window.
  useLayoutEffect(() => {
    const menu = ref.current?.querySelector(':scope > .dropdown-menu');
    if (!menu) return;
    const r = menu.getBoundingClientRect();
    const top = Math.max(8, Math.min(props.y, window.innerHeight - r.height - 8));
    const left = Math.max(8, Math.min(props.x, window.innerWidth - r.width - 8));
    if (top !== pos.top || left !== pos.left) setPos({ top, left });
  }, [props.x, props.y, pos.top, pos.left]);

  const stub = (label: string) => (
    <button key={label} type="button" role="menuitem" className="dropdown-item" disabled data-test={testIds.contextMenu.item(label)}>
      {label}
    </button>
  );

  const pluginSubmenu = (p: PluginDto) => {
    const state = dynamic[p.instanceId];
    const waiting = vmMenuItems(p).some((i) => 'id' in i && i.dynamic) && (!state || state.loading);
    if (waiting) {
      // Like vsphere-ui, the plugin's actions appear once its dynamic items are known (tests then see final states only).
      return (
        <Submenu key={p.instanceId} label={p.name} testId={testIds.contextMenu.pluginSubmenu(p.name)} open={openSub === p.instanceId} onOpen={() => setOpenSub(p.instanceId)}>
          <div className="dropdown-item disabled" role="menuitem" aria-disabled="true" aria-busy="true">
            <span className="spinner spinner-inline">Loading…</span> Loading…
          </div>
        </Submenu>
      );
    }
    const entries: ReactNode[] = [];
    let actions = 0;
    vmMenuItems(p).forEach((item, i) => {
      if (!('id' in item)) {
        entries.push(<div key={`sep${i}`} className="dropdown-divider" role="separator" />);
        return;
      }
      const label = pluginLabel(p, item.labelKey);
      // Several targets: only actions declared with acceptsMultipleTargets apply (shown disabled otherwise).
      let disabled = many && item.acceptsMultipleTargets !== true;
      if (item.dynamic && state && !state.loading) {
        const d = state.result.items[item.id];
        if (d && !d.relevant) return; // relevant:false removes the action
        disabled ||= !!state.result.error || !d || !d.visible; // visible:false shows it disabled (8.0U3)
      }
      actions++;
      entries.push(
        <button
          key={item.id}
          type="button"
          role="menuitem"
          className="dropdown-item"
          disabled={disabled}
          data-test={testIds.contextMenu.pluginAction(label)}
          onClick={() => props.onAction(p, item, vms)}
        >
          {label}
        </button>,
      );
    });
    if (actions === 0) return null; // every action was removed: no submenu
    return (
      <Submenu key={p.instanceId} label={p.name} testId={testIds.contextMenu.pluginSubmenu(p.name)} open={openSub === p.instanceId} onOpen={() => setOpenSub(p.instanceId)}>
        {entries}
      </Submenu>
    );
  };

  // The vSphere Client names the count when several objects are selected.
  const title = many ? `${vms.length} Objects` : (vms[0]?.name ?? '');
  const pluginMenus = plugins.filter((p) => vmMenuItems(p).length > 0).map(pluginSubmenu).filter(Boolean);

  return (
    <div ref={ref} className="dropdown open vsc-context-menu" style={{ left: `${pos.left}px`, top: `${pos.top}px` }} data-test={testIds.contextMenu.root}>
      <div className="dropdown-menu" role="menu" aria-label={`Actions - ${title}`}>
        <h4 className="dropdown-header" aria-hidden="true">
          <Icon shape="vm" /> Actions - {title}
        </h4>
        {STANDARD.map((entry, i) => {
          if (entry === null) return <div key={`d${i}`} className="dropdown-divider" role="separator" />;
          if (typeof entry === 'string') return stub(entry);
          return (
            <Submenu key={entry.submenu} label={entry.submenu} testId={testIds.contextMenu.item(entry.submenu)} open={openSub === entry.submenu} onOpen={() => setOpenSub(entry.submenu)}>
              {entry.items.map(stub)}
            </Submenu>
          );
        })}
        {pluginMenus.length ? <div className="dropdown-divider" role="separator" /> : null}
        {pluginMenus}
      </div>
    </div>
  );
}
