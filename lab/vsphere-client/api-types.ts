// The stand-in's own JSON API under /ui/api (server ↔ shell). Types only: the shell imports them with `import type`.
import type { PluginManifest } from './manifest-schema.ts';

export interface VcenterDto {
  /** Shown as the root of the inventory tree (the vCenter's host name). */
  name: string;
  instanceUuid: string;
  version: string;
  fullName: string;
}

export interface SessionDto {
  userName: string;
  fullName?: string;
  /** The plugin session token handed to plugin iframes by `htmlClientSdk.app.getSessionInfo()`; not a vim25 session. */
  pluginSessionToken: string;
  nodeId: string;
  vcenter: VcenterDto;
  clientVersion: string;
  /** Lab only: the stand-in can write to a VM's disk in the lab vCenter (the "Change disk blocks" card). */
  labTools?: boolean;
}

export interface InventoryVmDto {
  id: string;
  name: string;
  powerState: string;
  guestFullName: string;
}

export interface InventoryFolderDto {
  id: string;
  name: string;
  children: InventoryFolderDto[];
  vms: InventoryVmDto[];
}

export interface InventoryDto {
  vcenter: VcenterDto;
  /** One entry per datacenter: its VM folder with sub-folders and VMs ("VMs and Templates"). */
  datacenters: { name: string; vmFolder: InventoryFolderDto }[];
}

export interface VmDetailsDto {
  id: string;
  name: string;
  guestId: string;
  guestFullName: string;
  powerState: string;
  numCpu: number;
  memoryMB: number;
  hostName?: string;
  instanceUuid?: string;
  snapshotCount: number;
  disks: { label: string; capacityBytes: number }[];
  nics: { label: string; network?: string; macAddress?: string }[];
}

export interface BackendServerDto {
  proxiedUrl: string;
  proxiedBaseUrl: string;
  type: string;
}

export interface PluginDto {
  /** Opaque id used in `/plugins/<instanceId>/...`. */
  instanceId: string;
  key: string;
  version: string;
  manifestUrl: string;
  /** The plugin's display name (`configuration.nameKey` label), or its key when the manifest could not be loaded. */
  name: string;
  status: 'ready' | 'error';
  /** What is wrong, one line each, when status is "error". */
  errors: string[];
  manifest?: PluginManifest;
  /** `/plugins/<instanceId>/<host>-<port>` */
  proxiedBaseUrl: string;
  /** The proxied directory of the manifest (ends with "/"): manifest `uri`s are relative to it. */
  proxiedManifestDir: string;
  backendServers: BackendServerDto[];
}

export interface PluginsDto {
  plugins: PluginDto[];
}

export interface DynamicItemsRequestDto {
  objectType: string;
  container: 'menu' | 'monitor' | 'configure' | 'summary';
  objectIds: string[];
}

export interface DynamicItemsDto {
  /** Per dynamic item id: visible=false shows an action disabled, relevant=false removes it (8.0U3 semantics). */
  items: Record<string, { visible: boolean; relevant: boolean }>;
  /** Set when the plugin server could not answer; the shell then shows the dynamic items disabled. */
  error?: string;
}

export interface ApiErrorDto {
  error: string;
  message: string;
}

/** Lab only: POST /ui/api/lab/vms/{id}/disk-writes, what the "Change disk blocks" card sends. */
export interface LabDiskWriteRequestDto {
  /** Whole 512 KiB blocks (the EBS block size) to overwrite at random places of the VM's first hard disk, 1–1024. */
  blocks: number;
}

/** Lab only: what the lab vCenter wrote. */
export interface LabDiskWriteDto {
  disk: string;
  deviceKey: number;
  blocks: number;
  bytes: number;
  /** The seed the written content is derived from (anyone can recompute it, see lab/vcsim). */
  seed: number;
  /** Byte offsets written, in ascending order. */
  offsets: number[];
  at: string;
}

/** GET /ui/api/recent-tasks: TaskManager.recentTask, newest first (the Recent Tasks pane). */
export interface RecentTaskDto {
  key: string;
  /** "Task Name": the task type's label. */
  name: string;
  /** "Target": the entity's name. */
  target: string;
  state: 'queued' | 'running' | 'success' | 'error';
  progress?: number;
  /** The task's error message (state error). */
  error?: string;
  /** "Initiator": who started the task. */
  initiator: string;
  queued?: string;
  started?: string;
  completed?: string;
}

/** GET /ui/api/vms/{id}/events: the VM's events, newest first (Monitor → Events). */
export interface VmEventDto {
  key: number;
  description: string;
  type: 'Information' | 'Warning' | 'Error';
  eventTypeId?: string;
  time: string;
  user: string;
}
