// A folder's VMs tab: the list whose rows select like a vSphere Client datagrid, so actions can take several VMs.
import { useState } from 'react';
import type { InventoryFolderDto, InventoryVmDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import { Icon } from './Icon.tsx';
import { folderVms, powerBadge, powerLabel } from './model.ts';

/** Which rows a click selects: plain replaces, Ctrl/Cmd toggles one, Shift extends from the anchor (datagrid behaviour). */
export function nextSelection(
  order: string[],
  selected: ReadonlySet<string>,
  anchor: string | null,
  id: string,
  mods: { ctrl: boolean; shift: boolean },
): { selected: Set<string>; anchor: string } {
  if (mods.shift && anchor !== null && order.includes(anchor)) {
    const from = order.indexOf(anchor);
    const to = order.indexOf(id);
    const range = order.slice(Math.min(from, to), Math.max(from, to) + 1);
    return { selected: new Set(mods.ctrl ? [...selected, ...range] : range), anchor };
  }
  if (mods.ctrl) {
    const next = new Set(selected);
    if (!next.delete(id)) next.add(id);
    return { selected: next, anchor: id };
  }
  return { selected: new Set([id]), anchor: id };
}

export function FolderView({
  folder,
  onSelectVm,
  onContextMenu,
}: {
  folder: InventoryFolderDto;
  onSelectVm(vm: InventoryVmDto): void;
  /** Right-click: the menu acts on every selected VM (the row right-clicked joins a selection it was not in). */
  onContextMenu(vms: InventoryVmDto[], x: number, y: number): void;
}) {
  const vms = folderVms(folder);
  const [selection, setSelection] = useState<{ selected: Set<string>; anchor: string | null }>({ selected: new Set(), anchor: null });
  const order = vms.map((v) => v.id);
  const select = (id: string, mods: { ctrl: boolean; shift: boolean }) => setSelection((s) => nextSelection(order, s.selected, s.anchor, id, mods));
  return (
    <div className="vsc-object">
      <div className="vsc-object-header">
        <Icon shape="folder" size="md" />
        <h2 className="vsc-object-title" data-test={testIds.object.title}>
          {folder.name}
        </h2>
      </div>
      <ul className="nav vsc-tabs" role="tablist">
        <li role="presentation" className="nav-item">
          <button type="button" role="tab" aria-selected className="btn btn-link nav-link active">
            VMs
          </button>
        </li>
      </ul>
      <table className="table table-compact vsc-table vsc-select-table" aria-multiselectable="true" aria-label={`VMs in ${folder.name}`}>
        <thead>
          <tr>
            <th>Name</th>
            <th>State</th>
            <th>Guest OS</th>
          </tr>
        </thead>
        <tbody>
          {vms.map((vm) => {
            const isSelected = selection.selected.has(vm.id);
            return (
              <tr
                key={vm.id}
                aria-selected={isSelected}
                className={isSelected ? 'vsc-row-selected' : undefined}
                data-test={testIds.object.vmRow(vm.name)}
                onClick={(e) => select(vm.id, { ctrl: e.ctrlKey || e.metaKey, shift: e.shiftKey })}
                onContextMenu={(e) => {
                  e.preventDefault();
                  const inSelection = selection.selected.has(vm.id);
                  if (!inSelection) setSelection({ selected: new Set([vm.id]), anchor: vm.id });
                  const targets = inSelection ? vms.filter((v) => selection.selected.has(v.id)) : [vm];
                  onContextMenu(targets, e.clientX, e.clientY);
                }}
              >
                <td>
                  <button
                    type="button"
                    className="btn btn-link btn-sm vsc-cell-link"
                    onClick={(e) => {
                      // Ctrl/Shift on the name selects like the rest of the row; a plain click opens the VM.
                      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                      e.stopPropagation();
                      onSelectVm(vm);
                    }}
                    data-test={testIds.object.vmLink(vm.name)}
                  >
                    <Icon shape="vm" badge={powerBadge(vm.powerState)} /> {vm.name}
                  </button>
                </td>
                <td>{powerLabel(vm.powerState)}</td>
                <td>{vm.guestFullName}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {selection.selected.size > 1 ? (
        <p className="vsc-selection-count" role="status">
          {selection.selected.size} objects selected
        </p>
      ) : null}
    </div>
  );
}
