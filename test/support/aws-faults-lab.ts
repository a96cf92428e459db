// The lab and helpers shared by the AWS fault suite (issue 7), test/faults/aws-faults-*.test.ts: the EC2 emulator
// answers RequestLimitExceeded (503) and InternalError (500), the lab S3 answers SlowDown/500 or drops the connection
// in the middle of UploadPart bodies, imports fail at every stage the emulator models, and an instance export fails.
// The engine must retry with bounded backoff and jitter, then complete (one import task, one instance, nothing
// staged) or fail with a message naming the AWS error and what to do, leaving no multipart upload, active import task
// or instance. Calls and faults are counted on the emulators.
// Each test file calls useAwsFaultsLab() once at its top level: its own vcsim, S3, EC2 emulator and engines, and one
// tally in the fault and abuse summary. The `let` exports below are ES module live bindings set by its beforeAll.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type EC2ClientConfig,
  type ImportImageTask,
  type Instance,
} from '@aws-sdk/client-ec2';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ConnectorConfig } from '../../connector/config.ts';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { TASK_TAG, type MigrationEngine } from '../../connector/engine/engine.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type LabS3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { recordFaultTally } from './fault-summary.ts';
import { AWS_CREDENTIALS, labEngineConfig, REGION, waitFor } from '../integration/engine-helpers.ts';

/** SDK attempts per call in these files: EC2 as the connector's AwsGateway (3), S3 as the engine factory's default (5). */
export const EC2_ATTEMPTS = 3;
export const S3_ATTEMPTS = 5;
// Small powered-off VMs (no snapshot). `parts` streams several 16 MiB parts for the multipart scenarios; the
// two-disk VM gets the seed's multidisk message.
export const VMS = {
  one: { name: 'awsfault-01', disks: [{ capacityMiB: 16, seed: 71 }] },
  parts: { name: 'awsfault-parts', disks: [{ capacityMiB: 48, seed: 74 }] },
  two: { name: 'awsfault-2disk', disks: [{ capacityMiB: 8, seed: 72 }, { capacityMiB: 8, seed: 73 }] },
} as const;
export type VmKey = keyof typeof VMS;

export interface BuiltEngine {
  engine: MigrationEngine;
  bucket: string;
  keepStaging: boolean;
  close(): Promise<void>;
}

export let dir = '';
export let vcsim: VcsimHandle | undefined;
export let s3: LabS3Handle | undefined;
export let ec2: Ec2EmulatorHandle | undefined;
export let ec2Client: EC2Client;
export let s3Client: S3Client;
export let main: BuiltEngine;
const engines: BuiltEngine[] = [];
const vmIds = new Map<string, string>();
let subnetId = '';
let securityGroupId = '';
export let adminUser = { name: '', password: '' };
export const engineLog: string[] = [];
/** Every submitted migration, the engine that runs it, and the state the test expects. */
export const submitted = new Map<string, { on: BuiltEngine; want: 'completed' | 'failed' }>();

/** What a file's tests counted themselves (the emulators count the rest), read for its tally after its last test. */
export interface ObservedCounts {
  failedWithMessage?: number;
  importFailuresFired?: number;
  exportsCompleted?: number;
  exportsFailed?: number;
  exportFaultsFired?: number;
}

/**
 * The SDK's standard retry shape (exponential backoff, full jitter, bounded attempts) with millisecond delays, so
 * the file stays fast; passed through the clients' real `retryStrategy` option.
 */
function quickJitteredRetries(maxAttempts: number, baseMs = 4): NonNullable<EC2ClientConfig['retryStrategy']> {
  const token = (count: number, delay: number) => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (prev: { getRetryCount(): number }, info: { errorType: string }) => {
      const next = prev.getRetryCount() + 1;
      if ((info.errorType !== 'THROTTLING' && info.errorType !== 'TRANSIENT') || next >= maxAttempts) throw new Error('No retry token available');
      return token(next, Math.floor(Math.random() * baseMs * 2 ** next));
    },
    recordSuccess: () => {},
  };
}

let engineCount = 0;
export function buildEngine(opts: { bucket?: string; keepStaging?: boolean } = {}): BuiltEngine {
  engineCount += 1;
  const bucket = opts.bucket ?? `vm2ec2-staging-${REGION}`;
  const config = ConnectorConfig.parse(
    labEngineConfig({
      dataDir: dir,
      sqliteFile: join(dir, `engine-${engineCount}.sqlite`),
      vcsim: vcsim!,
      s3: s3!,
      ec2: ec2!,
      engine: { stagingBucket: bucket, retryDelayMs: 20, retryMaxDelayMs: 100, keepStagingObjects: opts.keepStaging ?? false },
    }),
  );
  const built = createEngine(
    config,
    {
      vcenter: { sdkUrl: vcsim!.sdkUrl, caPem: vcsim!.certPem },
      ec2: () => ec2Client,
      s3Retry: { maxAttempts: S3_ATTEMPTS, retryStrategy: quickJitteredRetries(S3_ATTEMPTS) },
    },
    { log: (msg) => engineLog.push(msg) },
  );
  void built.engine.start();
  const handle: BuiltEngine = { engine: built.engine, bucket, keepStaging: opts.keepStaging ?? false, close: () => built.close() };
  engines.push(handle);
  return handle;
}

/**
 * Starts this file's vcsim (the VMs above), S3, EC2 emulator and main engine before its tests; after them, waits for
 * its engines to go idle, records its tally as `suite` in the fault and abuse summary, and stops everything.
 */
export function useAwsFaultsLab(suite: string, observed: () => ObservedCounts): void {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vm2ec2-awsfaults-'));
    const labInventory = JSON.parse(await readFile(join(PACKAGE_ROOT, 'lab', 'inventory.json'), 'utf8')) as { users: { name: string; password: string }[] } & Record<string, unknown>;
    adminUser = labInventory.users.find((u) => u.name.startsWith('administrator@'))!;
    vcsim = await startVcsim({ vms: Object.values(VMS).map((vm) => ({ name: vm.name, disks: [...vm.disks] })) });
    s3 = await startS3();
    ec2 = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 30, regions: [REGION] });
    ec2Client = new EC2Client({ region: REGION, endpoint: ec2.url, credentials: { ...AWS_CREDENTIALS }, maxAttempts: EC2_ATTEMPTS, retryStrategy: quickJitteredRetries(EC2_ATTEMPTS) });
    // The test's own client never retries, so it cannot eat an injected fault unnoticed.
    s3Client = new S3Client({ ...labS3ClientConfig(s3, REGION), maxAttempts: 1 });

    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vim.login(adminUser.name, adminUser.password);
    for (const vm of await vim.listVirtualMachines()) vmIds.set(vm.name, vm.id);
    await vim.logout().catch(() => undefined);
    const subnet = (await ec2Client.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
    subnetId = subnet.SubnetId!;
    securityGroupId = (await ec2Client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [subnet.VpcId!] }] }))).SecurityGroups![0]!.GroupId!;
    main = buildEngine();
  });

  afterAll(async () => {
    const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
    try {
      if (ec2 && s3 && engines.length > 0) {
        ec2.emulator.clearFaults();
        s3.faults.clear();
        for (const e of engines) await bounded(e.engine.idle());
        await tally(suite, observed());
      }
    } finally {
      for (const e of engines) await bounded(e.close());
      ec2Client?.destroy();
      s3Client?.destroy();
      if (vcsim) await bounded(vcsim.stop());
      if (ec2) await bounded(ec2.stop());
      if (s3) await bounded(s3.stop());
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });
}

// ---------- helpers ----------

export async function submit(vm: VmKey, want: 'completed' | 'failed', on: BuiltEngine = main): Promise<string> {
  const task = await on.engine.submit({
    environmentId: 'env-default',
    region: REGION,
    vmId: vmIds.get(VMS[vm].name)!,
    platform: 'Linux',
    subnetId,
    instanceType: 't3.micro',
    securityGroupIds: [securityGroupId],
    requestedBy: adminUser.name,
  });
  submitted.set(task.id, { on, want });
  return task.id;
}

export async function finished(pending: string | Promise<string>, on: BuiltEngine = main): Promise<MigrationTask> {
  const id = await pending;
  return waitFor(async () => {
    const t = await on.engine.get(id);
    return t && ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  }, `task ${id} to finish`);
}

export async function importTasksOf(id: string): Promise<ImportImageTask[]> {
  const out = await ec2Client.send(new DescribeImportImageTasksCommand({}));
  return (out.ImportImageTasks ?? []).filter((i) => i.Description?.startsWith(`vm2ec2 ${id} `));
}

export async function instancesOf(id: string): Promise<Instance[]> {
  const out = await ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

export const LIVE = ['pending', 'running', 'stopping', 'stopped'];

/** A bucket that was never created holds nothing. */
const noBucket = (err: unknown): number => {
  if ((err as { name?: string }).name === 'NoSuchBucket') return 0;
  throw err;
};

export async function stagedObjects(id: string, bucket: string): Promise<number> {
  return s3Client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `vm2ec2/${id}/` })).then((out) => out.KeyCount ?? 0, noBucket);
}

export async function openUploads(id: string, bucket: string): Promise<number> {
  return s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `vm2ec2/${id}/` })).then((out) => (out.Uploads ?? []).length, noBucket);
}

/** Completed: one import task, one stopped instance, nothing staged (unless the engine keeps staging). */
export async function expectCleanSuccess(id: string, on: BuiltEngine = main): Promise<MigrationTask> {
  const t = await finished(id, on);
  expect(t.error).toBeUndefined();
  expect(t.state).toBe('completed');
  const imports = await importTasksOf(id);
  expect(imports).toHaveLength(1);
  expect(imports[0]!.Status).toBe('completed');
  const instances = await instancesOf(id);
  expect(instances).toHaveLength(1);
  expect(instances[0]!.State?.Name).toBe('stopped');
  expect(instances[0]!.InstanceId).toBe(t.instanceId);
  if (!on.keepStaging) expect(await stagedObjects(id, on.bucket)).toBe(0);
  expect(await openUploads(id, on.bucket)).toBe(0);
  return t;
}

/** Failed: a message naming what happened; no open upload, no active import task, no live instance, nothing staged. */
export async function expectCleanFailure(id: string, on: BuiltEngine = main): Promise<MigrationTask> {
  const t = await finished(id, on);
  expect(t.state).toBe('failed');
  expect(t.error).toBeTruthy();
  const imports = await importTasksOf(id);
  expect(imports.length).toBeLessThanOrEqual(1);
  expect(imports.filter((i) => i.Status === 'active')).toEqual([]);
  expect((await instancesOf(id)).filter((i) => LIVE.includes(i.State?.Name ?? ''))).toEqual([]);
  expect(await openUploads(id, on.bucket)).toBe(0);
  expect(await stagedObjects(id, on.bucket)).toBe(0);
  return t;
}

export type Ec2Action = 'ImportImage' | 'DescribeImportImageTasks' | 'RunInstances' | 'DescribeInstances' | 'StopInstances';
export const EC2_ACTIONS: Ec2Action[] = ['ImportImage', 'DescribeImportImageTasks', 'RunInstances', 'DescribeInstances', 'StopInstances'];

export function injectEc2(kind: 'throttle' | 'server-error', action: string, count: number): void {
  if (kind === 'throttle') ec2!.emulator.throttle(action, count);
  else ec2!.emulator.serverError(action, count);
}

export const AWS_NAME = { throttle: 'RequestLimitExceeded', 'server-error': 'InternalError' } as const;
/** How the failure message names the answer EC2 kept giving. */
export const ANSWER = { throttle: 'RequestLimitExceeded', 'server-error': 'InternalError (HTTP 500)' } as const;

// ---------- the tally ----------

/** Counts what every submitted migration left behind, from the emulators' state. */
async function tally(suite: string, observed: ObservedCounts): Promise<void> {
  const { failedWithMessage = 0, importFailuresFired = 0, exportsCompleted = 0, exportsFailed = 0, exportFaultsFired = 0 } = observed;
  let completed = 0;
  let lost = 0;
  let duplicates = 0;
  let orphans = 0;
  for (const [id, { on, want }] of submitted) {
    const t = await on.engine.get(id);
    if (!t || t.state !== want) lost += 1;
    if (t?.state === 'completed') completed += 1;
    const imports = await importTasksOf(id);
    const instances = await instancesOf(id);
    if (imports.length > 1 || instances.length > 1) duplicates += 1;
    orphans += imports.filter((i) => i.Status === 'active').length;
    if (t?.state !== 'completed') orphans += instances.filter((i) => LIVE.includes(i.State?.Name ?? '')).length;
    orphans += await openUploads(id, on.bucket);
    if (!on.keepStaging) orphans += await stagedObjects(id, on.bucket);
  }
  recordFaultTally({
    suite,
    faultsInjected: ec2!.emulator.faultsInjected + s3!.faults.injected + importFailuresFired + exportFaultsFired,
    migrationsCompleted: completed + exportsCompleted,
    migrationsFailed: failedWithMessage + exportsFailed,
    tasksLost: lost,
    duplicates,
    orphans,
  });
}
