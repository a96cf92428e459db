import { z } from 'zod';
import { SubnetId } from './aws-ids.ts';
import { AppliedImportOptions, EffectiveImportOptions } from './import-options.ts';
import { MigrationResume, MigrationRollback } from './rollback.ts';

/** Where a migration stands. `queued` waits for a slot; `cancelling` is undoing what was done. */
export const MigrationState = z.enum(['queued', 'running', 'cancelling', 'completed', 'failed', 'cancelled']);
export type MigrationState = z.infer<typeof MigrationState>;

/** The pipeline step a migration is in (persisted; a restarted connector resumes from it). */
export const MigrationPhase = z.enum([
  'queued',
  // cold: the whole disk is exported to S3 at the chosen point in time
  'exporting',
  'uploading',
  // warm: changed blocks are replicated into EBS snapshots while the VM runs, until the user cuts over
  'initial-sync',
  'replicating',
  'cutting-over',
  // both (warm: after cutting-over)
  'importing',
  'launching',
  'cleaning-up',
  'done',
]);
export type MigrationPhase = z.infer<typeof MigrationPhase>;

/** Seed wording: an *import task ID* when the migration started at once, a *queued task ID* otherwise. */
export const MigrationIdKind = z.enum(['import', 'queued']);
export type MigrationIdKind = z.infer<typeof MigrationIdKind>;

export const DiskProgress = z.object({
  /** The lease device key, e.g. `/vm-42/VirtualLsiLogicController0:0`. */
  key: z.string(),
  capacityBytes: z.number().int().nonnegative(),
  /** Bytes expected from the disk server (lease fileSize, else capacity + 1 %). */
  expectedBytes: z.number().int().nonnegative(),
  bytesUploaded: z.number().int().nonnegative(),
  /** Bytes per second over the upload so far. */
  throughputBps: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().optional(),
  done: z.boolean(),
}).meta({ id: 'DiskProgress' });
export type DiskProgress = z.infer<typeof DiskProgress>;

/** Migrate now (cold: copy the whole disk, then import) or replicate while the VM runs, then cut over (warm). */
export const MigrationMode = z.enum(['cold', 'warm']);
export type MigrationMode = z.infer<typeof MigrationMode>;

/** At cutover: shut the guest down through VMware Tools (`guest`), or wait for the user to power the VM off (`user`). */
export const CutoverShutdown = z.enum(['guest', 'user']);
export type CutoverShutdown = z.infer<typeof CutoverShutdown>;

/** Warm: the image from the replicated EBS snapshots through VM Import (ImportImage) or registered directly (RegisterImage, Nitro-ready guests). */
export const WarmImagePath = z.enum(['import-image', 'register-image']);
export type WarmImagePath = z.infer<typeof WarmImagePath>;

/** A test instance launched from the latest replicated point while replication continues. */
export const WarmTestInstance = z.object({
  state: z.enum(['launching', 'running', 'finishing', 'failed']),
  subnetId: z.string(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  /** The replication point (end of that cycle's sync) the test was launched from. */
  fromSyncAt: z.string().optional(),
  importTaskId: z.string().optional(),
  imageId: z.string().optional(),
  instanceId: z.string().optional(),
  launchedAt: z.string().optional(),
  error: z.string().optional(),
}).meta({ id: 'WarmTestInstance' });
export type WarmTestInstance = z.infer<typeof WarmTestInstance>;

/** Replication state of a warm migration (absent for cold ones). */
export const WarmReplication = z.object({
  intervalMinutes: z.number().int().min(5).max(1440),
  shutdown: CutoverShutdown,
  /** Completed sync cycles, the initial sync included. */
  cycles: z.number().int().nonnegative(),
  /** A sync cycle is copying changed blocks now (it holds one of the connector's running slots). */
  cycleRunning: z.boolean(),
  /** The running (or next) cycle copies the whole disk, and why (first sync, or Changed Block Tracking was reset). */
  fullSync: z.boolean(),
  fullSyncReason: z.string().optional(),
  /** When the last completed cycle froze the disk (its vCenter snapshot): the point an instance would start from. */
  lastSyncAt: z.string().optional(),
  /** Data that changed in the last completed cycle, and what was sent for it (whole 512 KiB EBS blocks). */
  lastCycleChangedBytes: z.number().int().nonnegative().optional(),
  lastCycleSentBytes: z.number().int().nonnegative().optional(),
  /** Replication lag (RPO): seconds since lastSyncAt. */
  lagSeconds: z.number().nonnegative().optional(),
  nextCycleAt: z.string().optional(),
  test: WarmTestInstance.optional(),
  /** Cutover: who asked, when the source was powered off and when the instance was launched (downtime between). */
  cutover: z.object({
    requestedBy: z.string(),
    requestedAt: z.string(),
    sourcePoweredOffAt: z.string().optional(),
    instanceLaunchedAt: z.string().optional(),
    downtimeSeconds: z.number().nonnegative().optional(),
  }).optional(),
  /** How the image was made from the replicated snapshots: VM Import (drivers installed by AWS) or RegisterImage (guest already Nitro-ready). */
  imagePath: WarmImagePath.optional(),
  /** Replication resumed after a rollback: the migration it continues and that migration's last replicated point. */
  resumedFrom: z.object({ migrationId: z.string(), lastSyncAt: z.string().optional() }).optional(),
}).meta({ id: 'WarmReplication' });
export type WarmReplication = z.infer<typeof WarmReplication>;

export const MigrationTask = z.object({
  id: z.string(),
  idKind: MigrationIdKind,
  state: MigrationState,
  phase: MigrationPhase,
  mode: MigrationMode,
  /** Warm migrations only. */
  warm: WarmReplication.optional(),
  environmentId: z.string(),
  region: z.string(),
  vmId: z.string(),
  vmName: z.string().optional(),
  /** The wave this migration belongs to (GET /waves/{waveId}), if any. */
  waveId: z.string().optional(),
  platform: z.enum(['Linux', 'Windows']),
  subnetId: z.string(),
  instanceType: z.string(),
  securityGroupIds: z.array(z.string()),
  privateIpAddress: z.string().optional(),
  requestedBy: z.string(),
  /** Issue 14: the connector of the fleet that runs the task (set by the engine once tasks have owners). */
  connectorId: z.string().optional(),
  /** Who cancelled it and when (the requester, an environment Owner or an administrator). */
  cancelledBy: z.string().optional(),
  cancelledAt: z.string().optional(),
  /** 1-based place in the FIFO queue while queued. */
  queuePosition: z.number().int().positive().optional(),
  disks: z.array(DiskProgress),
  percent: z.number().min(0).max(100),
  throughputBps: z.number().nonnegative().optional(),
  etaSeconds: z.number().nonnegative().optional(),
  /** The disk copy is held to its connector's bandwidth cap (it waited on the cap moments ago), in MB/s (2^20 bytes). */
  throttled: z.object({ capMBps: z.number().int().positive() }).optional(),
  importTaskId: z.string().optional(),
  /** EC2's free-text import status (e.g. `converting`). */
  importStatus: z.string().optional(),
  /** EC2's own percentage for the import (DescribeImportImageTasks `Progress`), while importing. */
  importProgress: z.number().min(0).max(100).optional(),
  /** Seconds until EC2 finishes the import at the rate observed so far; absent until two different percentages were seen, or when overdue. */
  importEtaSeconds: z.number().nonnegative().optional(),
  imageId: z.string().optional(),
  instanceId: z.string().optional(),
  /** The Advanced choices as requested (after the environment's defaults were merged in). */
  importOptions: EffectiveImportOptions.optional(),
  /** What AWS reports it applied (licence, boot mode, encryption key, tags), read back after the import and launch. */
  applied: AppliedImportOptions.optional(),
  error: z.string().optional(),
  /** Something the migration could not tidy up (e.g. staging objects), with what to do; the migration itself succeeded. */
  warning: z.string().optional(),
  /** Completed migrations: whether Roll back is possible now, and the rollback once done (issue 16). */
  rollback: MigrationRollback.optional(),
  /** Rolled-back warm migrations: whether Resume replication is possible now and from where, and the resume once done. */
  resume: MigrationResume.optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
}).meta({ id: 'MigrationTask' });
export type MigrationTask = z.infer<typeof MigrationTask>;

export const MigrationAccepted = z.object({ id: z.string(), idKind: MigrationIdKind, state: MigrationState, queuePosition: z.number().int().positive().optional() }).meta({ id: 'MigrationAccepted' });
export type MigrationAccepted = z.infer<typeof MigrationAccepted>;

export const MigrationListQuery = z.strictObject({
  environmentId: z.string().max(64).optional(),
  vmId: z.string().max(64).optional(),
  state: MigrationState.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export type MigrationListQuery = z.infer<typeof MigrationListQuery>;

export const MigrationList = z.object({ items: z.array(MigrationTask), total: z.number().int().nonnegative() }).meta({ id: 'MigrationList' });
export type MigrationList = z.infer<typeof MigrationList>;

/** POST /migrations/{id}/test-instance: launch a test instance from the latest replicated point. */
export const WarmTestRequest = z.strictObject({
  /** One of the environment's subnets (others: 400 SUBNET_NOT_IN_ENVIRONMENT naming them). */
  subnetId: SubnetId,
}).meta({ id: 'WarmTestRequest' });
export type WarmTestRequest = z.infer<typeof WarmTestRequest>;

export const TaskIdParams = z.strictObject({ id: z.string().regex(/^[a-z]{3}-[0-9a-z-]{6,64}$/, 'Not a task id.') });

export const ExportState = z.enum(['active', 'cancelling', 'cancelled', 'completed', 'failed']);
export const ExportTask = z.object({
  id: z.string(),
  state: ExportState,
  environmentId: z.string(),
  region: z.string(),
  instanceId: z.string(),
  /** EC2's export task id (export-i-…). */
  exportTaskId: z.string(),
  bucket: z.string(),
  s3Prefix: z.string(),
  /** Where the OVA is (complete once `state` is completed). */
  s3Key: z.string().optional(),
  statusMessage: z.string().optional(),
  requestedBy: z.string(),
  /** Who cancelled it and when (the requester or an administrator). */
  cancelledBy: z.string().optional(),
  cancelledAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'ExportTask' });
export type ExportTask = z.infer<typeof ExportTask>;

export const ExportRequest = z.strictObject({
  environmentId: z.string().min(1).max(64),
  instanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/, 'An EC2 instance id looks like i-0123456789abcdef0.'),
  /** EC2 writes the OVA to `<s3Prefix><export task id>.ova`: end the prefix with `/` for a folder. */
  s3Prefix: z
    .string()
    .max(200, 'Use at most 200 characters in the prefix.')
    .regex(/^[A-Za-z0-9!_.*'()\/-]*$/, 'Use letters, digits and / ! - _ . * \' ( ) in the prefix.')
    .refine((p) => !p.startsWith('/') && !p.includes('//') && !/(^|\/)\.{1,2}(\/|$)/.test(p), 'Start the prefix with a name, not /, and use no empty, . or .. folder names in it: the S3 console cannot open such keys.')
    .default(''),
}).meta({ id: 'ExportRequest' });
export const ExportListQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(7) });
export const ExportList = z.object({ items: z.array(ExportTask) }).meta({ id: 'ExportList' });

export const InstanceExportSettings = z.strictObject({
  /** Buckets are named `export-to-s3-<bucketName>-<region>`. */
  bucketName: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$/, 'Use 2–32 lower-case letters, digits and hyphens.'),
  /**
   * The bucket name this change replaces, as last read (null: none configured yet). Required once a name is
   * configured; a different current name answers 409 SETTINGS_CHANGED, so two administrators cannot silently
   * overwrite each other.
   */
  expectedBucketName: z.string().max(64).nullable().optional(),
}).meta({ id: 'InstanceExportSettings' });
export const InstanceExportSettingsView = z.object({
  bucketName: z.string().nullable(),
  /** The bucket each region in use (by an environment) exports to: `export-to-s3-<bucketName>-<region>`. */
  buckets: z.array(z.object({ region: z.string(), bucket: z.string() })),
  updatedAt: z.iso.datetime().optional(),
  /** The administrator who set the name (absent for a name set before this was recorded). */
  updatedBy: z.string().optional(),
}).meta({ id: 'InstanceExportSettingsView' });

export const ImportedInstance = z.object({
  instanceId: z.string(),
  name: z.string().optional(),
  state: z.string(),
  instanceType: z.string().optional(),
  privateIpAddress: z.string().optional(),
  subnetId: z.string().optional(),
  imageId: z.string().optional(),
  sourceVmId: z.string().optional(),
  /** The source VM's name when it was migrated; absent for instances launched before names were recorded and no longer in the task list. */
  sourceVmName: z.string().optional(),
  migrationId: z.string().optional(),
  /** Licence type, boot mode and encryption key as AWS reports them for the instance (its AMI and volumes). */
  applied: AppliedImportOptions.optional(),
}).meta({ id: 'ImportedInstance' });
export type ImportedInstance = z.infer<typeof ImportedInstance>;
export const InstanceListQuery = z.strictObject({ environmentId: z.string().min(1).max(64) });
export const InstanceList = z.object({ items: z.array(ImportedInstance) }).meta({ id: 'InstanceList' });
export const InstanceParams = z.strictObject({ id: z.string().regex(/^i-[0-9a-f]{8,17}$/, 'Not an instance id.') });
export const InstanceActionQuery = z.strictObject({ environmentId: z.string().min(1).max(64) });
export const InstanceBackup = z.object({ imageId: z.string(), launchTemplateId: z.string().optional() }).meta({ id: 'InstanceBackup' });
