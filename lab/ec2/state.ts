// Emulator state model: one RegionState per region, plus the small core every action handler sees.
import { createHash, randomBytes } from 'node:crypto';
import type { Params, Tag } from './query.ts';
import type { XmlObject } from './xml.ts';
import type { LabS3Access } from './s3.ts';
import type { IamState } from './iam.ts';
import type { EbsStore } from './ebs-store.ts';
import type { ConvertedDisk } from './disk-content.ts';
import type { KmsStore } from '../kms/store.ts';
import type { GuestOsRule } from './licensing.ts';

export type ImportStage = 'pending' | 'converting' | 'updating' | 'booting' | 'preparing ami';

/** The observed AWS progression (reference §2): StatusMessage and Progress per stage while Status is active. */
export const IMPORT_STAGES: readonly { message: ImportStage; progress: string }[] = [
  { message: 'pending', progress: '2' },
  { message: 'converting', progress: '28' },
  { message: 'updating', progress: '41' },
  { message: 'booting', progress: '59' },
  { message: 'preparing ami', progress: '76' },
];

export interface ImportDisk {
  format: string;
  bucket?: string;
  key?: string;
  url?: string;
  description?: string;
  deviceName?: string;
  /** ImageDiskContainer.SnapshotId: the disk is this EBS snapshot (no S3 object). */
  sourceSnapshotId?: string;
  /** Object size from the S3 HEAD; reported as DiskImageSize only once validated. */
  objectSize?: number;
  validated: boolean;
  snapshotId?: string;
  /** Reading the image (started with the task, in the background; the task completes only after it). */
  conversion?: Promise<void>;
  /** The image's content once read (undefined: not read yet, or a format the lab cannot read). */
  converted?: ConvertedDisk;
  /** Why the image could not be read: the task fails with it. */
  conversionError?: string;
}

export interface ImportTask {
  id: string;
  status: 'active' | 'completed' | 'deleting' | 'deleted';
  stage: number;
  statusMessage?: string;
  description?: string;
  platform?: string;
  architecture: string;
  licenseType?: string;
  usageOperation?: string;
  /** Billing code of the AMI, once VM Import has detected the OS. */
  platformDetails?: string;
  bootMode?: string;
  roleName: string;
  encrypted: boolean;
  /** KmsKeyId as given (AWS resolves it asynchronously); kmsKeyArn once resolved. */
  kmsKeyId?: string;
  kmsKeyArn?: string;
  clientToken?: string;
  fingerprint: string;
  disks: ImportDisk[];
  tags: Tag[];
  imageId?: string;
  /** Set when the S3 HEAD failed: the task fails when it leaves `pending`. */
  validationError?: string;
  createdAt: number;
  finishedAt?: number;
  nextAt?: number;
}

export interface Image {
  id: string;
  name: string;
  description?: string;
  state: 'pending' | 'available' | 'failed';
  platform?: 'windows';
  architecture: string;
  bootMode?: string;
  /** AMI billing information fields; default from the platform (Windows: RunInstances:0002, else RunInstances). */
  platformDetails?: string;
  usageOperation?: string;
  creationDate: number;
  /** One EBS snapshot per disk, with its size in GiB (and device, when registered with one) and its encryption. */
  snapshots: { snapshotId: string; sizeGiB: number; deviceName?: string; encrypted?: boolean; kmsKeyArn?: string }[];
  /** RegisterImage's settings; imported and CreateImage AMIs use the defaults (/dev/sda1, ENA, hvm). */
  rootDeviceName?: string;
  enaSupport?: boolean;
  virtualizationType?: 'hvm' | 'paravirtual';
  tags: Tag[];
  importTaskId?: string;
  sourceInstanceId?: string;
  nextAt?: number;
}

export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface Instance {
  id: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  privateIp: string;
  securityGroupIds: string[];
  state: InstanceStateName;
  stateReason?: { code: string; message: string };
  stateTransitionReason: string;
  launchTime: number;
  amiLaunchIndex: number;
  tags: Tag[];
  clientToken?: string;
  keyName?: string;
  platform?: 'windows';
  platformDetails: string;
  usageOperation: string;
  tenancy: 'default' | 'dedicated';
  /** The AMI's boot mode, and the one the instance boots with. */
  bootMode?: string;
  currentBootMode: 'legacy-bios' | 'uefi';
  architecture: string;
  volumes: Volume[];
  /** Set when a launch or start cannot succeed (an unusable KMS key): pending → `endsIn` with this reason. */
  launchFailure?: { code: string; message: string; endsIn: 'terminated' | 'stopped' };
  networkInterfaceId: string;
  macAddress: string;
  terminatedAt?: number;
  nextAt?: number;
}

/** An EBS volume attached to an emulated instance (deleted with it: DeleteOnTermination). */
export interface Volume {
  volumeId: string;
  deviceName: string;
  sizeGiB: number;
  snapshotId?: string;
  encrypted: boolean;
  kmsKeyArn?: string;
  tags: Tag[];
  createTime: number;
}

export interface ExportTask {
  id: string;
  instanceId: string;
  targetEnvironment: string;
  description?: string;
  state: 'active' | 'cancelling' | 'cancelled' | 'completed';
  statusMessage?: string;
  bucket: string;
  prefix: string;
  key: string;
  containerFormat: string;
  diskImageFormat: string;
  tags: Tag[];
  stage: number;
  /** The object is being written to S3 (in the background): the task completes when it is. */
  writing?: boolean;
  createdAt: number;
  finishedAt?: number;
  nextAt?: number;
}

export interface Vpc {
  id: string;
  cidr: string;
  tags: Tag[];
}

export interface Subnet {
  id: string;
  vpcId: string;
  cidr: string;
  availabilityZone: string;
  availabilityZoneId: string;
  tags: Tag[];
  /** Addresses held by ENIs that are not emulated instances (a nearly full subnet). */
  occupiedByOthers: number;
}

export interface SecurityGroupRule {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
  sourceGroupIds: string[];
}

export interface SecurityGroup {
  id: string;
  name: string;
  description: string;
  vpcId: string;
  tags: Tag[];
  ingress: SecurityGroupRule[];
}

export interface RegionState {
  readonly name: string;
  readonly vpcs: Map<string, Vpc>;
  readonly subnets: Map<string, Subnet>;
  readonly securityGroups: Map<string, SecurityGroup>;
  readonly imports: Map<string, ImportTask>;
  readonly images: Map<string, Image>;
  readonly instances: Map<string, Instance>;
  readonly exports: Map<string, ExportTask>;
  /** ClientToken → import task id / reservation id. */
  readonly importTokens: Map<string, string>;
  readonly runTokens: Map<string, string>;
}

export interface ImportFailureRule {
  /** A predicate on the task, or a pattern tested against every disk's S3 key and URL. */
  match: RegExp | ((task: Readonly<ImportTask>) => boolean);
  /** The task reaches this stage, then fails instead of moving on. */
  stage: ImportStage;
  /** Full StatusMessage; default `ClientError: Unknown OS / Missing OS files.` */
  message?: string;
}

export interface ImportHoldRule {
  /** A predicate on the task, or a pattern tested against every disk's S3 key and URL. */
  match: RegExp | ((task: Readonly<ImportTask>) => boolean);
  /** Matching tasks stay `active` at this stage until the hold is removed. */
  stage: ImportStage;
}

export interface ExportFailureRule {
  /** A predicate on the task, or a pattern tested against the instance id and the S3 key. */
  match: RegExp | ((task: Readonly<ExportTask>) => boolean);
  /** StatusMessage of the cancelled task. */
  message?: string;
}

/** What action handlers and timed transitions see of the emulator. */
export interface Core {
  readonly accountId: string;
  readonly stageMs: number;
  /** Length of one export stage (instance exports run longer than an import stage in the lab journeys). */
  readonly exportStageMs: number;
  readonly maxActiveImports: number;
  readonly maxActiveExports: number;
  readonly enforceServiceRole: boolean;
  readonly requireExportBucketAcl: boolean;
  readonly s3: LabS3Access;
  readonly iam: IamState;
  readonly ebs: EbsStore;
  readonly kms: KmsStore;
  readonly importFailures: readonly ImportFailureRule[];
  readonly importHolds: readonly ImportHoldRule[];
  readonly guestOsRules: readonly GuestOsRule[];
  readonly exportFailures: readonly ExportFailureRule[];
  /** What the limit saw: the most import tasks active at once in any region, and ImportImage calls refused for the limit. */
  readonly importLoad: { peakActive: number; limitRefusals: number };
  now(): number;
  /** Work that outlives a transition (VM Export writing its object): advance() and idle() wait for it. */
  background(work: Promise<void>): void;
}

export interface RequestContext {
  core: Core;
  region: RegionState;
  requestId: string;
}

export type Handler = (ctx: RequestContext, params: Params) => Promise<XmlObject> | XmlObject;

/** Resource ids in AWS's shape: prefix + 17 hex digits. */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** Stable ids for seeded resources, so the demo and tests see the same ids every run. */
export function seededId(prefix: string, ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 17)}`;
}

export function tagsXml(tags: Tag[]): XmlObject[] {
  return tags.map((t) => ({ key: t.key, value: t.value }));
}

/** CreateTags semantics: a key set again replaces its value. */
export function mergeTags(target: Tag[], add: Tag[]): void {
  for (const tag of add) {
    const existing = target.find((t) => t.key === tag.key);
    if (existing) existing.value = tag.value;
    else target.push({ ...tag });
  }
}
