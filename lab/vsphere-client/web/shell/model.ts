// Pure helpers over the inventory and plugin descriptors.
import type { InventoryDto, InventoryFolderDto, InventoryVmDto, PluginDto } from '../../api-types.ts';
import type { ManifestMenuItem, ManifestTabView } from '../../manifest-schema.ts';

export function vmUrn(vmId: string, vcGuid: string): string {
  return `urn:vmomi:VirtualMachine:${vmId}:${vcGuid}`;
}

/** `urn:vmomi:<type>:<id>:<vcGuid>` → parts, or null. */
export function parseUrn(urn: string): { type: string; id: string; vcGuid: string } | null {
  const m = /^urn:vmomi:([A-Za-z]+):([^:]+):(.+)$/.exec(urn);
  return m ? { type: m[1] ?? '', id: m[2] ?? '', vcGuid: m[3] ?? '' } : null;
}

export interface VmLocation {
  vm: InventoryVmDto;
  /** Ids of the tree nodes above the VM (datacenter key and folders), for expanding the tree. */
  ancestors: string[];
}

export function datacenterKey(name: string): string {
  return `datacenter:${name}`;
}

function searchFolder(folder: InventoryFolderDto, vmId: string, path: string[]): VmLocation | null {
  const vm = folder.vms.find((v) => v.id === vmId);
  if (vm) return { vm, ancestors: path };
  for (const child of folder.children) {
    const found = searchFolder(child, vmId, [...path, child.id]);
    if (found) return found;
  }
  return null;
}

export function findVm(inv: InventoryDto | null, vmId: string): VmLocation | null {
  for (const dc of inv?.datacenters ?? []) {
    const found = searchFolder(dc.vmFolder, vmId, [datacenterKey(dc.name)]);
    if (found) return found;
  }
  return null;
}

export function findFolder(inv: InventoryDto | null, folderId: string): InventoryFolderDto | null {
  const walk = (f: InventoryFolderDto): InventoryFolderDto | null =>
    f.id === folderId ? f : f.children.reduce<InventoryFolderDto | null>((hit, c) => hit ?? walk(c), null);
  for (const dc of inv?.datacenters ?? []) {
    const hit = walk(dc.vmFolder);
    if (hit) return hit;
  }
  return null;
}

/** All VMs of a folder, recursively. */
export function folderVms(f: InventoryFolderDto): InventoryVmDto[] {
  return [...f.vms, ...f.children.flatMap(folderVms)];
}

/** The en-US label of an i18n key; a missing key is shown literally, as vSphere does. */
export function pluginLabel(p: PluginDto, key: string): string {
  return p.manifest?.definitions?.i18n?.definitions[key]?.['en-US'] ?? key;
}

export function readyPlugins(plugins: PluginDto[]): (PluginDto & { manifest: NonNullable<PluginDto['manifest']> })[] {
  return plugins.filter((p): p is PluginDto & { manifest: NonNullable<PluginDto['manifest']> } => p.status === 'ready' && !!p.manifest);
}

export function vmMenuItems(p: PluginDto): ManifestMenuItem[] {
  return p.manifest?.objects?.VirtualMachine?.menu?.actions ?? [];
}

export function vmViews(p: PluginDto, container: 'monitor' | 'configure'): ManifestTabView[] {
  return p.manifest?.objects?.VirtualMachine?.[container]?.views ?? [];
}

/** A manifest `uri` resolved against the proxied manifest directory. */
export function pluginUrl(p: PluginDto, uri: string): string {
  return p.proxiedManifestDir + uri;
}

export function powerBadge(powerState: string): 'success' | 'warning' | undefined {
  if (powerState === 'poweredOn') return 'success';
  if (powerState === 'suspended') return 'warning';
  return undefined;
}

export function powerLabel(powerState: string): string {
  return { poweredOn: 'Powered On', poweredOff: 'Powered Off', suspended: 'Suspended' }[powerState] ?? powerState;
}

export function formatBytes(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  return gib >= 1 ? `${Number(gib.toFixed(2))} GB` : `${Number((bytes / 1024 ** 2).toFixed(0))} MB`;
}
