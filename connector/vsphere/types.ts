// Public types of the connector's vim25 client (shapes other modules code against).

export interface Vim25ConnectOptions {
  /** vCenter SDK endpoint, e.g. https://vcenter.example.com/sdk */
  sdkUrl: string;
  /** PEM CA bundle that must sign the vCenter certificate (hostname is checked). */
  ca?: string;
  /** SHA-1 or SHA-256 certificate thumbprint (colon hex). Without `ca`, a self-signed certificate is accepted only if it matches. */
  thumbprint?: string;
  /** Per-request timeout; default 60 s. */
  timeoutMs?: number;
  userAgent?: string;
}

export interface MoRef {
  type: string;
  value: string;
}

export interface UserSession {
  key: string;
  userName: string;
  fullName?: string;
}

export interface VmDisk {
  key: number;
  label: string;
  capacityBytes: number;
  /** persistent, independent_persistent, independent_nonpersistent, … (absent for backings without a mode). */
  diskMode?: string;
  /** xsi:type of the backing, e.g. VirtualDiskFlatVer2BackingInfo, VirtualDiskRawDiskMappingVer1BackingInfo (RDM). */
  backingType: string;
  fileName?: string;
  /** True when the backing carries a keyId (VM encryption). */
  encrypted?: boolean;
}

export interface VmNic {
  key: number;
  label: string;
  network?: string;
  macAddress?: string;
}

export type VmPowerState = 'poweredOn' | 'poweredOff' | 'suspended';

export interface VmInfo {
  /** Managed object id, e.g. vm-57 */
  id: string;
  name: string;
  guestId: string;
  guestFullName: string;
  powerState: VmPowerState;
  numCpu: number;
  memoryMB: number;
  instanceUuid?: string;
  /** Parent folder id (e.g. group-v3) */
  folderId?: string;
  hostName?: string;
  disks: VmDisk[];
  nics: VmNic[];
  snapshotCount: number;
  /** Every snapshot in the tree, flattened (the engine finds the one it took by name). */
  snapshots: { id: string; name: string }[];
}

export interface InventoryVm {
  id: string;
  name: string;
  powerState: string;
  guestFullName: string;
}

export interface InventoryFolder {
  id: string;
  name: string;
  children: InventoryFolder[];
  vms: InventoryVm[];
}

export interface HttpNfcLeaseDeviceUrl {
  key: string;
  importKey: string;
  url: string;
  sslThumbprint?: string;
  disk: boolean;
  targetId?: string;
  fileSize?: number;
}

export interface HttpNfcLeaseInfo {
  leaseTimeout: number;
  totalDiskCapacityInKB: number;
  deviceUrl: HttpNfcLeaseDeviceUrl[];
}

export interface ExtensionClientSpec {
  type: string;
  url: string;
  version: string;
  company?: string;
  label?: string;
  summary?: string;
}

export interface ExtensionServerSpec {
  type: string;
  url: string;
  serverThumbprint?: string;
  /** PEM; honoured by vCenter 8.0U2+ */
  serverCertificate?: string;
  adminEmail?: string[];
  company?: string;
  label?: string;
  summary?: string;
}

export interface ExtensionSpec {
  key: string;
  version: string;
  company?: string;
  label: string;
  summary: string;
  client: ExtensionClientSpec[];
  server: ExtensionServerSpec[];
  /** Extension task types (ExtensionTaskTypeInfo.taskID) and event types (ExtensionEventTypeInfo). */
  taskList?: { taskId: string }[];
  eventList?: { eventId: string; eventTypeSchema?: string }[];
  privileges?: { privId: string; privGroupName: string }[];
  resources?: { locale: string; module: string; data: Record<string, string> }[];
  /** ISO 8601; defaults to now when registering */
  lastHeartbeatTime?: string;
}

export interface AboutInfo {
  fullName: string;
  version: string;
  apiVersion: string;
  instanceUuid: string;
}
