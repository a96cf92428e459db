// "Bring back to vCenter" (issue 16): a completed instance export (an OVA in S3) imported into vCenter as a new VM,
// in the vSphere Client's own terms (name, folder, compute resource, datastore, network mapping, disk provisioning).
import { z } from 'zod';

/** A vCenter managed object id (the value of a moRef), e.g. group-v4, resgroup-9, datastore-12, network-7. */
export const ManagedObjectId = z
  .string()
  .min(1, 'Choose an object from the inventory.')
  .max(512)
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'Not a vCenter object id (e.g. group-v4 or datastore-12).');

/** Where the VM runs: a resource pool, a host (its root pool) or a cluster (its root pool). */
export const ComputeResourceRef = z.strictObject({
  type: z.enum(['ResourcePool', 'HostSystem', 'ClusterComputeResource']),
  id: ManagedObjectId,
}).meta({ id: 'ComputeResourceRef' });
export type ComputeResourceRef = z.infer<typeof ComputeResourceRef>;

/** The network a NIC of the OVF (by its OVF network name) is connected to in vCenter. */
export const ReturnNetworkMapping = z.strictObject({
  /** The network name in the OVF descriptor's NetworkSection. */
  sourceNetwork: z.string().min(1).max(255),
  network: z.strictObject({ type: z.enum(['Network', 'DistributedVirtualPortgroup']), id: ManagedObjectId }),
}).meta({ id: 'ReturnNetworkMapping' });
export type ReturnNetworkMapping = z.infer<typeof ReturnNetworkMapping>;

/** Thin provision, or thick provision lazily zeroed (vCenter's `thin` and `thick`). */
export const ReturnDiskProvisioning = z.enum(['thin', 'thick']);
export type ReturnDiskProvisioning = z.infer<typeof ReturnDiskProvisioning>;

/** vCenter's limit for a virtual machine name is 80 characters. */
export const VmNameInput = z
  .string()
  .trim()
  .min(1, 'Enter a name for the virtual machine.')
  .max(80, 'Use at most 80 characters: vCenter does not accept longer virtual machine names.')
  .refine((n) => !/[\u0000-\u001f\u007f]/.test(n), 'Use no control characters in the virtual machine name.');

/** An imported instance (GET /environments/{id}/instances): i-…, 8 or 17 hex digits. */
export const ReturnInstanceId = z.string().regex(/^i-[0-9a-f]{8}([0-9a-f]{9})?$/, 'Not an instance id (i-…).');

/** Where the OVA comes from: a completed export, or an imported instance that the task exports first. */
const oneSource = (r: { exportId?: string | undefined; instanceId?: string | undefined; environmentId?: string | undefined }, ctx: z.RefinementCtx) => {
  const fromInstance = r.instanceId !== undefined || r.environmentId !== undefined;
  if (r.exportId !== undefined && fromInstance) ctx.addIssue({ code: 'custom', message: 'Give either exportId (a completed export) or instanceId and environmentId (an imported instance), not both.' });
  else if (r.exportId === undefined && (r.instanceId === undefined || r.environmentId === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'Give exportId (a completed export), or instanceId and environmentId (an imported instance, exported first).' });
  }
};

export const ReturnRequest = z.strictObject({
  /** A completed export (GET /exports)… */
  exportId: z.string().regex(/^exp-[0-9a-f-]{36}$/, 'Not an export id (exp-…).').optional(),
  /** …or an imported instance of this environment: the task exports it to S3 first (administrators). */
  instanceId: ReturnInstanceId.optional(),
  environmentId: z.string().min(1).max(64).optional(),
  name: VmNameInput,
  /** The VM folder the new VM goes to. */
  folderId: ManagedObjectId,
  computeResource: ComputeResourceRef,
  datastoreId: ManagedObjectId,
  /** One entry per network of the OVF; every network the OVF names must be mapped. */
  networkMappings: z.array(ReturnNetworkMapping).max(10).default([]),
  diskProvisioning: ReturnDiskProvisioning.default('thin'),
  powerOn: z.boolean().default(false),
}).superRefine(oneSource).meta({ id: 'ReturnRequest' });
export type ReturnRequest = z.infer<typeof ReturnRequest>;
export type ReturnRequestInput = z.input<typeof ReturnRequest>;

export const ReturnCheckCode = z.enum([
  /** The export is not completed (or has no OVA). */
  'EXPORT_NOT_COMPLETED',
  /** The user lacks a vCenter privilege on the target (VApp.Import, Datastore.AllocateSpace, Network.Assign). */
  'PRIVILEGE_MISSING',
  'DATASTORE_SPACE',
  'DATASTORE_INACCESSIBLE',
  'NAME_TAKEN',
  'NETWORK_NOT_FOUND',
  'NETWORK_NOT_MAPPED',
  'TARGET_NOT_FOUND',
  /** The OVA in S3 cannot be read (missing, not an OVA). */
  'OVA_UNREADABLE',
  /** From an imported instance: what VM Export would refuse, asked before anything starts. */
  'INSTANCE_NOT_EXPORTABLE',
  'EXPORT_NOT_CONFIGURED',
  'EXPORT_ALREADY_RUNNING',
]);
export type ReturnCheckCode = z.infer<typeof ReturnCheckCode>;

export const ReturnCheck = z.object({
  code: ReturnCheckCode,
  severity: z.enum(['blocker', 'warning', 'info']),
  message: z.string(),
  /** For PRIVILEGE_MISSING: the privilege and the object it is missing on. */
  privilege: z.string().optional(),
  entity: z.string().optional(),
}).meta({ id: 'ReturnCheck' });
export type ReturnCheck = z.infer<typeof ReturnCheck>;

export const ReturnPreflight = z.object({
  checks: z.array(ReturnCheck),
  /** The sum of the OVA disks' capacities: what the datastore must have free. */
  diskCapacityBytes: z.number().int().nonnegative().optional(),
  datastoreFreeBytes: z.number().int().nonnegative().optional(),
  /** The networks the OVF names, to be mapped. */
  sourceNetworks: z.array(z.string()),
}).meta({ id: 'ReturnPreflight' });
export type ReturnPreflight = z.infer<typeof ReturnPreflight>;

export const ReturnState = z.enum(['running', 'cancelling', 'completed', 'failed', 'cancelled']);
export type ReturnState = z.infer<typeof ReturnState>;

/**
 * exporting: (from an imported instance) VM Export writing the OVA to S3; reading-ova: the descriptor from S3;
 * importing: CreateImportSpec and ImportVApp; uploading: the disks into the lease.
 */
export const ReturnPhase = z.enum(['exporting', 'reading-ova', 'importing', 'uploading', 'completing', 'powering-on', 'cleaning-up', 'done']);
export type ReturnPhase = z.infer<typeof ReturnPhase>;

export const ReturnTask = z.object({
  id: z.string(),
  state: ReturnState,
  phase: ReturnPhase,
  environmentId: z.string(),
  region: z.string(),
  /** `instance`: started from Imported Instances, the task exported the instance itself (absent: from an export). */
  source: z.enum(['export', 'instance']).optional(),
  exportId: z.string(),
  /** EC2's export task id (export-i-…), for a task that exports the instance itself. */
  exportTaskId: z.string().optional(),
  instanceId: z.string(),
  /** Where the OVA is read from (empty until EC2 names it, for a task that exports the instance itself). */
  bucket: z.string(),
  s3Key: z.string(),
  name: z.string(),
  folderId: z.string(),
  computeResource: ComputeResourceRef,
  datastoreId: z.string(),
  networkMappings: z.array(ReturnNetworkMapping),
  diskProvisioning: ReturnDiskProvisioning,
  powerOn: z.boolean(),
  requestedBy: z.string(),
  cancelledBy: z.string().optional(),
  cancelledAt: z.string().optional(),
  percent: z.number().min(0).max(100),
  /** The VMDK bytes to upload (the OVA's disk files) and those uploaded so far. */
  bytesTotal: z.number().int().nonnegative().optional(),
  bytesUploaded: z.number().int().nonnegative(),
  throughputBps: z.number().nonnegative().optional(),
  etaSeconds: z.number().nonnegative().optional(),
  /** The new VM (moRef value), once vCenter created it; absent again if it was removed (cancel, failure). */
  vmId: z.string().optional(),
  /** The import lease (moRef value) while the disks are uploaded. */
  leaseId: z.string().optional(),
  /** Why it failed, or what to know about a completed task (e.g. vCenter's import warnings). */
  message: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
}).meta({ id: 'ReturnTask' });
export type ReturnTask = z.infer<typeof ReturnTask>;

export const ReturnListQuery = z.strictObject({
  exportId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export const ReturnList = z.object({ items: z.array(ReturnTask), total: z.number().int().nonnegative() }).meta({ id: 'ReturnList' });
export type ReturnList = z.infer<typeof ReturnList>;
