import type { AppliedImportOptions, CutoverShutdown, DiskProgress, EffectiveImportOptions, MigrationIdKind, MigrationMode, MigrationPhase, MigrationState, WarmImagePath } from '../contract/index.ts';
import type { WarmRecord } from './warm/types.ts';
import type { RollbackRecord } from './rollback.ts';
import type { ResumeRecord, WarmResumeSeed } from './warm/resume.ts';

/** A staged disk: where its stream goes in S3, and how far it got. */
export interface StagedDisk extends DiskProgress {
  url: string;
  sslThumbprint?: string;
  s3Key: string;
  startedAt?: string;
}

/** What the store keeps for a migration: the request, every step's outcome, and the undo information. */
export interface MigrationRecord {
  id: string;
  seq: number;
  idKind: MigrationIdKind;
  state: MigrationState;
  phase: MigrationPhase;
  /** Absent in records written before warm migration existed: cold. */
  mode?: MigrationMode;
  /** Warm migrations: replication state, persisted at every step (see warm/types.ts). */
  warm?: WarmRecord;
  environmentId: string;
  region: string;
  vmId: string;
  vmName?: string;
  platform: 'Linux' | 'Windows';
  subnetId: string;
  instanceType: string;
  securityGroupIds: string[];
  privateIpAddress?: string;
  /** Leave the launched instance running instead of stopping it. */
  leaveRunning?: boolean;
  requestedBy: string;
  bucket: string;
  /** Key prefix of every staging object of this task. */
  prefix: string;
  /** How many export attempts have started (a resumed export counts as a new one). */
  exportAttempts: number;
  snapshotId?: string;
  leaseId?: string;
  disks: StagedDisk[];
  importTaskId?: string;
  importStatus?: string;
  importProgress?: number;
  /** First Progress EC2 reported for this import, and when: the start of the observed rate. */
  importFirstSeen?: { at: string; progress: number };
  /** When importProgress last changed. */
  importProgressAt?: string;
  /** Seconds EC2 still needed at importProgressAt, from the rate observed since importFirstSeen. */
  importEtaSeconds?: number;
  imageId?: string;
  instanceId?: string;
  /** Issue 18: licence type, encryption, tags and boot mode the task imports and launches with (absent: as before). */
  importOptions?: EffectiveImportOptions;
  /** The ARN of importOptions.kmsKeyId, resolved at the pre-flight (the EBS direct APIs take only an ARN). */
  kmsKeyArn?: string;
  /** What AWS reports it applied, read back after the import and after the launch. */
  applied?: AppliedImportOptions;
  /** The instance was observed running (StopInstances follows). */
  instanceStopped?: boolean;
  error?: string;
  /** Clean-up that failed after the instance was ready (the task still completed). */
  warning?: string;
  /** A cancel was asked for, by whom and when. */
  cancelRequested?: boolean;
  cancelledBy?: string;
  cancelledAt?: string;
  /** The vCenter task (moRef value) that shows this migration in Recent Tasks; kept so a restart updates the same one. */
  vcenterTask?: string;
  /** The connector running (or last running) the task (issue 14, fleet). */
  connectorId?: string;
  /** The vCenter (fleet vCenter id) whose connectors may run this task; absent on tasks recorded before fleets. */
  vcenterId?: string;
  /** Issue 14: the wave this migration belongs to, its priority (higher first; default 0) and start window (ISO instants). */
  waveId?: string;
  priority?: number;
  notBefore?: string;
  notAfter?: string;
  /** Issue 14: the copy last waited on the connector's bandwidth cap at `at`, held to capMBps. */
  throttle?: { capMBps: number; at: string };
  /** Issue 16: the rollback of this completed migration (written only by the repository's rollback methods). */
  rollback?: RollbackRecord;
  /** Issue 16: Resume replication of this rolled-back warm migration, or its kept point released (written only by the repository's resume marks). */
  resume?: ResumeRecord;
  createdAt: string;
  startedAt?: string;
  updatedAt: string;
  finishedAt?: string;
}

export interface MigrationSubmission {
  environmentId: string;
  region: string;
  vmId: string;
  /** The VM's name as the requester's session read it, so a queued task is shown by name. */
  vmName?: string | undefined;
  platform: 'Linux' | 'Windows';
  subnetId: string;
  instanceType: string;
  securityGroupIds: string[];
  privateIpAddress?: string | undefined;
  leaveRunning?: boolean | undefined;
  requestedBy: string;
  /** Default cold. */
  mode?: MigrationMode | undefined;
  /** Warm only (defaults 15 and guest). */
  replicationIntervalMinutes?: number | undefined;
  cutoverShutdown?: CutoverShutdown | undefined;
  /** Warm only: default import-image; register-image for a guest the pre-flight found Nitro-ready. */
  imagePath?: WarmImagePath | undefined;
  /** The request's Advanced choices merged over the environment's defaults, boot mode from the VM's firmware. */
  importOptions?: EffectiveImportOptions | undefined;
  kmsKeyArn?: string | undefined;
  /** Issue 14: set for a wave's migrations (see MigrationRecord). */
  waveId?: string | undefined;
  priority?: number | undefined;
  notBefore?: string | undefined;
  notAfter?: string | undefined;
  /** Warm only: Resume replication of a rolled-back warm migration (its last replicated point, see warm/resume.ts). */
  resumeOf?: WarmResumeSeed | undefined;
}
