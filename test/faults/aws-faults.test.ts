// AWS fault suite (issue 7): the EC2 emulator answers RequestLimitExceeded (503) and InternalError (500), the lab
// S3 answers SlowDown/500 or drops the connection in the middle of UploadPart bodies, imports fail at every stage
// the emulator models, and an instance export fails. The engine must retry with bounded backoff and jitter, then
// complete (one import task, one instance, nothing staged) or fail with a message naming the AWS error and what to
// do, leaving no multipart upload, active import task or instance. Calls and faults are counted on the emulators.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeExportTasksCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type EC2ClientConfig,
  type ImportImageTask,
  type Instance,
} from '@aws-sdk/client-ec2';
import { DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ConnectorConfig } from '../../connector/config.ts';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { AWS_CALL_ROUNDS, TASK_TAG, type MigrationEngine } from '../../connector/engine/engine.ts';
import { ExportService } from '../../connector/engine/exports.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { AppError } from '../../connector/errors.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { DEFAULT_EXPORT_FAILURE, IMPORT_STAGES, startEc2Emulator, type Ec2EmulatorHandle, type ImportStage } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type LabS3Handle, type S3Operation } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { recordFaultTally } from '../support/fault-summary.ts';
import { decodeStreamOptimizedVmdk, expectedRawSha256 } from '../support/vmdk.ts';
import { AWS_CREDENTIALS, labEngineConfig, REGION, waitFor } from '../integration/engine-helpers.ts';

/** SDK attempts per call in this file: EC2 as the connector's AwsGateway (3), S3 as the engine factory's default (5). */
const EC2_ATTEMPTS = 3;
const S3_ATTEMPTS = 5;
// Small powered-off VMs (no snapshot). `parts` streams several 16 MiB parts for the multipart scenarios; the
// two-disk VM gets the seed's multidisk message.
const VMS = {
  one: { name: 'awsfault-01', disks: [{ capacityMiB: 16, seed: 71 }] },
  parts: { name: 'awsfault-parts', disks: [{ capacityMiB: 48, seed: 74 }] },
  two: { name: 'awsfault-2disk', disks: [{ capacityMiB: 8, seed: 72 }, { capacityMiB: 8, seed: 73 }] },
} as const;
type VmKey = keyof typeof VMS;

interface BuiltEngine {
  engine: MigrationEngine;
  bucket: string;
  keepStaging: boolean;
  close(): Promise<void>;
}

let dir = '';
let vcsim: VcsimHandle | undefined;
let s3: LabS3Handle | undefined;
let ec2: Ec2EmulatorHandle | undefined;
let ec2Client: EC2Client;
let s3Client: S3Client;
let main: BuiltEngine;
const engines: BuiltEngine[] = [];
const vmIds = new Map<string, string>();
let subnetId = '';
let securityGroupId = '';
let adminUser = { name: '', password: '' };
const engineLog: string[] = [];
/** Every submitted migration, the engine that runs it, and the state the test expects. */
const submitted = new Map<string, { on: BuiltEngine; want: 'completed' | 'failed' }>();
let failedWithMessage = 0;
let importFailuresFired = 0;
let exportsCompleted = 0;
let exportsFailed = 0;
let exportFaultsFired = 0;

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
function buildEngine(opts: { bucket?: string; keepStaging?: boolean } = {}): BuiltEngine {
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
      await tally();
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

// ---------- helpers ----------

async function submit(vm: VmKey, want: 'completed' | 'failed', on: BuiltEngine = main): Promise<string> {
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

async function finished(pending: string | Promise<string>, on: BuiltEngine = main): Promise<MigrationTask> {
  const id = await pending;
  return waitFor(async () => {
    const t = await on.engine.get(id);
    return t && ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  }, `task ${id} to finish`);
}

async function importTasksOf(id: string): Promise<ImportImageTask[]> {
  const out = await ec2Client.send(new DescribeImportImageTasksCommand({}));
  return (out.ImportImageTasks ?? []).filter((i) => i.Description?.startsWith(`vm2ec2 ${id} `));
}

async function instancesOf(id: string): Promise<Instance[]> {
  const out = await ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

const LIVE = ['pending', 'running', 'stopping', 'stopped'];

/** A bucket that was never created holds nothing. */
const noBucket = (err: unknown): number => {
  if ((err as { name?: string }).name === 'NoSuchBucket') return 0;
  throw err;
};

async function stagedObjects(id: string, bucket: string): Promise<number> {
  return s3Client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `vm2ec2/${id}/` })).then((out) => out.KeyCount ?? 0, noBucket);
}

async function openUploads(id: string, bucket: string): Promise<number> {
  return s3Client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `vm2ec2/${id}/` })).then((out) => (out.Uploads ?? []).length, noBucket);
}

/** Completed: one import task, one stopped instance, nothing staged (unless the engine keeps staging). */
async function expectCleanSuccess(id: string, on: BuiltEngine = main): Promise<MigrationTask> {
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
async function expectCleanFailure(id: string, on: BuiltEngine = main): Promise<MigrationTask> {
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

type Ec2Action = 'ImportImage' | 'DescribeImportImageTasks' | 'RunInstances' | 'DescribeInstances' | 'StopInstances';
const EC2_ACTIONS: Ec2Action[] = ['ImportImage', 'DescribeImportImageTasks', 'RunInstances', 'DescribeInstances', 'StopInstances'];

function injectEc2(kind: 'throttle' | 'server-error', action: string, count: number): void {
  if (kind === 'throttle') ec2!.emulator.throttle(action, count);
  else ec2!.emulator.serverError(action, count);
}

const AWS_NAME = { throttle: 'RequestLimitExceeded', 'server-error': 'InternalError' } as const;
/** How the failure message names the answer EC2 kept giving. */
const ANSWER = { throttle: 'RequestLimitExceeded', 'server-error': 'InternalError (HTTP 500)' } as const;

// ---------- scenarios ----------

describe('EC2 throttling and 500s, a few at a time', { timeout: 120_000 }, () => {
  // More than one SDK call's attempts (3): the SDK's retries run out once and the engine's own round succeeds.
  const FEW = EC2_ATTEMPTS + 1;
  for (const kind of ['throttle', 'server-error'] as const) {
    for (const action of EC2_ACTIONS) {
      it(`${AWS_NAME[kind]} on ${action} ×${FEW}: the migration completes with one import task and one instance`, async () => {
        const before = ec2!.emulator.calls(action);
        const faultsBefore = ec2!.emulator.faultsInjected;
        injectEc2(kind, action, FEW);
        const id = await submit('one', 'completed');
        await finished(id);
        expect(ec2!.emulator.pendingFaults(action)).toBe(0);
        expect(ec2!.emulator.faultsInjected - faultsBefore).toBe(FEW);
        expect(ec2!.emulator.calls(action) - before).toBeGreaterThan(FEW);
        await expectCleanSuccess(id);
        expect(engineLog.some((l) => l.startsWith(`migration ${id}: EC2 ${action} failed (${AWS_NAME[kind]}`))).toBe(true);
      });
    }
  }
});

describe('S3 SlowDown and 500s, a few at a time', { timeout: 120_000 }, () => {
  const cases: { op: S3Operation; fault: 'slow-down' | 'internal-error'; count: number }[] = [
    { op: 'CreateBucket', fault: 'slow-down', count: S3_ATTEMPTS + 1 },
    { op: 'CreateBucket', fault: 'internal-error', count: 2 },
    { op: 'UploadPart', fault: 'slow-down', count: 3 },
    { op: 'UploadPart', fault: 'internal-error', count: 3 },
    { op: 'CreateMultipartUpload', fault: 'slow-down', count: 2 },
  ];
  for (const [i, c] of cases.entries()) {
    it(`${c.fault} on ${c.op} ×${c.count}: the migration completes`, async () => {
      // CreateBucket runs once per bucket per engine: a fresh bucket and engine exercise it.
      const on = c.op === 'CreateBucket' ? buildEngine({ bucket: `vm2ec2-fault-${i}-${REGION}` }) : main;
      const before = s3!.faults.calls(c.op);
      const injectedBefore = s3!.faults.injected;
      s3!.faults.inject(c.op, c.fault, c.count);
      const id = await submit(c.op === 'CreateBucket' ? 'one' : 'parts', 'completed', on);
      await finished(id, on);
      expect(s3!.faults.remaining(c.op)).toBe(0);
      expect(s3!.faults.injected - injectedBefore).toBe(c.count);
      expect(s3!.faults.calls(c.op) - before).toBeGreaterThan(c.count);
      await expectCleanSuccess(id, on);
    });
  }
});

describe('persistent throttling and 500s beyond the retry budget', { timeout: 120_000 }, () => {
  const cases: { kind: 'throttle' | 'server-error'; action: Ec2Action; advice: RegExp }[] = [
    { kind: 'throttle', action: 'ImportImage', advice: /Try again later, or raise the account's EC2 API rate limit/ },
    { kind: 'server-error', action: 'DescribeImportImageTasks', advice: /AWS Health Dashboard for EC2 in us-east-1, then start the migration again/ },
    { kind: 'throttle', action: 'RunInstances', advice: /Try again later, or raise the account's EC2 API rate limit/ },
    { kind: 'server-error', action: 'StopInstances', advice: /AWS Health Dashboard for EC2/ },
  ];
  for (const c of cases) {
    it(`${AWS_NAME[c.kind]} on every ${c.action}: failed with a clear message after bounded retries, nothing left behind`, async () => {
      let before = ec2!.emulator.calls(c.action);
      let faultsBefore = ec2!.emulator.faultsInjected;
      let id: string;
      if (c.action === 'DescribeImportImageTasks') {
        // Fail the polling of an import that is surely still running: EC2 holds it at "converting" meanwhile.
        id = await submit('one', 'failed');
        const mine = id;
        ec2!.emulator.holdImportAt({ match: (task) => task.description?.startsWith(`vm2ec2 ${mine} `) === true, stage: 'converting' });
        await waitFor(async () => (await main.engine.get(mine))?.importStatus === 'converting', 'the import to convert');
        before = ec2!.emulator.calls(c.action);
        faultsBefore = ec2!.emulator.faultsInjected;
        injectEc2(c.kind, c.action, 10_000);
      } else {
        injectEc2(c.kind, c.action, 10_000);
        id = await submit('one', 'failed');
      }
      const t = await finished(id);
      const calls = ec2!.emulator.calls(c.action) - before;
      ec2!.emulator.clearFaults();
      expect(t.state).toBe('failed');
      expect(t.error).toContain(`AWS kept answering ${ANSWER[c.kind]} to EC2 ${c.action} in us-east-1`);
      expect(t.error).toMatch(c.advice);
      // Bounded: the SDK's attempts times the engine's rounds, and more than one.
      expect(calls).toBeGreaterThan(1);
      expect(calls).toBeLessThanOrEqual(EC2_ATTEMPTS * AWS_CALL_ROUNDS);
      expect(t.error).toContain(`(${calls} attempts, with backoff)`);
      expect(ec2!.emulator.faultsInjected - faultsBefore).toBe(calls);
      await expectCleanFailure(id);
      if (c.action === 'DescribeImportImageTasks') {
        // The import it had started was cancelled, not left running.
        const [task] = await importTasksOf(id);
        expect(task?.ImportTaskId).toBe(t.importTaskId);
        expect(['deleting', 'deleted']).toContain(task?.Status);
      }
      if (c.action === 'StopInstances') {
        // The instance it had launched was terminated, and its AMI deregistered.
        const [inst] = await instancesOf(id);
        expect(['shutting-down', 'terminated']).toContain(inst?.State?.Name);
        expect(ec2!.emulator.region(REGION)!.images.has(t.imageId!)).toBe(false);
      }
      failedWithMessage += 1;
    });
  }

  it('SlowDown on every CreateBucket: failed with a clear message, bounded retries', async () => {
    const on = buildEngine({ bucket: `vm2ec2-fault-slow-${REGION}` });
    const before = s3!.faults.calls('CreateBucket');
    s3!.slowDown('CreateBucket', 10_000);
    const id = await submit('one', 'failed', on);
    const t = await finished(id, on);
    const calls = s3!.faults.calls('CreateBucket') - before;
    s3!.faults.clear();
    expect(t.state).toBe('failed');
    expect(t.error).toContain('AWS kept answering SlowDown to S3 CreateBucket in us-east-1');
    expect(t.error).toMatch(/Try again later, or raise the account's S3 API rate limit/);
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(S3_ATTEMPTS * AWS_CALL_ROUNDS);
    expect(t.importTaskId).toBeUndefined();
    expect(await importTasksOf(id)).toEqual([]);
    expect(await instancesOf(id)).toEqual([]);
    failedWithMessage += 1;
  });
});

describe('a clean-up that S3 keeps refusing', { timeout: 120_000 }, () => {
  it('500 on every DeleteObject after the instance is ready: completed, with a warning naming the staging prefix', async () => {
    s3!.faults.inject('DeleteObject', 'internal-error', 10_000);
    let t: MigrationTask;
    try {
      t = await finished(submit('one', 'completed'));
    } finally {
      s3!.faults.clear();
    }
    expect(t.state).toBe('completed');
    expect(t.error).toBeUndefined();
    expect(t.warning).toContain(`could not remove the staging copy of the disks (s3://${main.bucket}/vm2ec2/${t.id}/)`);
    expect(t.warning).toContain('Delete that prefix in the S3 console');
    expect(await instancesOf(t.id)).toHaveLength(1);
    expect(await stagedObjects(t.id, main.bucket)).toBe(1);
    // Done by hand, as the warning says, so the tally sees nothing left behind.
    await s3Client.send(new DeleteObjectCommand({ Bucket: main.bucket, Key: `vm2ec2/${t.id}/disk-1.vmdk` }));
    expect(await stagedObjects(t.id, main.bucket)).toBe(0);
  });
});

describe('S3 refusing the upload for good', { timeout: 120_000 }, () => {
  it('AccessDenied on UploadPart: failed at once, naming the staging bucket and the permission to check', async () => {
    const before = s3!.faults.calls('UploadPart');
    s3!.faults.inject('UploadPart', 'access-denied', 10_000);
    let t: MigrationTask;
    try {
      t = await finished(submit('parts', 'failed'));
    } finally {
      s3!.faults.clear();
    }
    const calls = s3!.faults.calls('UploadPart') - before;
    expect(t.error).toContain(`Uploading the disks of ${VMS.parts.name} to the staging bucket ${main.bucket} failed: AccessDenied`);
    expect(t.error).toContain('s3:PutObject and the multipart upload actions');
    // Not retryable: no more requests than the parts already in flight (the engine's queueSize, 2).
    expect(calls).toBeLessThanOrEqual(2);
    await expectCleanFailure(t.id);
    failedWithMessage += 1;
  });
});

describe('connections reset during S3 part uploads', { timeout: 120_000 }, () => {
  it('a few resets: the copy completes and the staged object decodes to exactly the VM disk', async () => {
    const keep = buildEngine({ keepStaging: true });
    const injectedBefore = s3!.faults.injected;
    const before = s3!.faults.calls('UploadPart');
    s3!.resetUploadParts(3);
    const id = await submit('parts', 'completed', keep);
    const t = await expectCleanSuccess(id, keep);
    expect(s3!.faults.remaining('UploadPart')).toBe(0);
    expect(s3!.faults.injected - injectedBefore).toBe(3);
    // Several parts went up, each acknowledged once, after the three dropped attempts.
    expect(s3!.faults.calls('UploadPart') - before - 3).toBeGreaterThanOrEqual(2);
    const disk = VMS.parts.disks[0];
    const obj = await s3Client.send(new GetObjectCommand({ Bucket: keep.bucket, Key: `vm2ec2/${id}/disk-1.vmdk` }));
    const report = await decodeStreamOptimizedVmdk(obj.Body as Readable, { hashRaw: true });
    expect(report.rawSha256).toBe(expectedRawSha256(disk.seed, disk.capacityMiB * 1024 * 1024));
    expect(t.disks[0]!.bytesUploaded).toBe(report.streamBytes);
  });

  it('resets on every part: failed with a clear message and the multipart upload aborted', async () => {
    const before = s3!.faults.calls('UploadPart');
    s3!.resetUploadParts(10_000);
    const id = await submit('parts', 'failed');
    const t = await finished(id);
    const calls = s3!.faults.calls('UploadPart') - before;
    s3!.faults.clear();
    expect(t.state).toBe('failed');
    expect(t.error).toMatch(/^The connection to S3 in us-east-1 kept failing during UploadPart \(\d+ attempts, with backoff\): (ECONNRESET|EPIPE)/);
    expect(t.error).toContain("Check the connector's network path to AWS");
    expect(calls).toBeGreaterThan(1);
    // Every part in flight (the engine's queueSize, 2) tries S3_ATTEMPTS times at most.
    expect(calls).toBeLessThanOrEqual(2 * S3_ATTEMPTS * AWS_CALL_ROUNDS);
    await expectCleanFailure(id);
    expect(await importTasksOf(id)).toEqual([]);
    failedWithMessage += 1;
  });
});

describe('an import that fails at each stage', { timeout: 120_000 }, () => {
  const messages: Record<ImportStage, { vm: VmKey; status: string; advice: string }> = {
    pending: {
      vm: 'two',
      status: 'ClientError: Disk validation failed [We do not have access to the given resource. Reason 403 Forbidden]',
      // The seed's troubleshooting sentence, word for word.
      advice: 'To migrate a virtual machine with more than one disk, log into the management portal setup page and grant the additional permissions required by the VM Import/Export service',
    },
    converting: { vm: 'one', status: 'ClientError: No valid partitions. Not a valid volume.', advice: "Check the VM's disks meet the VM Import/Export requirements" },
    updating: { vm: 'one', status: 'ClientError: Unsupported kernel version 4.15.0-1021-aws', advice: "Check that the VM's operating system and kernel are supported by VM Import/Export" },
    booting: { vm: 'one', status: 'ClientError: Unknown OS / Missing OS files.', advice: "Check that the VM's operating system and kernel are supported by VM Import/Export" },
    'preparing ami': { vm: 'one', status: 'ServerError: AMI registration failed.', advice: 'Review VM Import/Export Requirements and Limitations in the Amazon EC2 User Guide' },
  };
  for (const { message: stage } of IMPORT_STAGES) {
    const m = messages[stage];
    it(`fails at "${stage}": failed with the mapped message, import not active, no instance, staging removed`, async () => {
      const id = await submit(m.vm, 'failed');
      const remove = ec2!.emulator.failImportAt({ match: (task) => task.description?.startsWith(`vm2ec2 ${id} `) === true, stage, message: m.status });
      let t: MigrationTask;
      try {
        t = await finished(id);
      } finally {
        remove();
      }
      expect(t.state).toBe('failed');
      expect(t.error).toContain(m.status);
      expect(t.error).toContain(m.advice);
      const [task, ...more] = await importTasksOf(id);
      expect(more).toEqual([]);
      expect(task?.Status).toBe('deleted');
      expect(task?.StatusMessage).toBe(m.status);
      importFailuresFired += 1;
      await expectCleanFailure(id);
      expect(await instancesOf(id)).toEqual([]);
      failedWithMessage += 1;
    });
  }
});

describe('instance export faults', { timeout: 120_000 }, () => {
  let store: SqliteExportTasks;
  let svc: ExportService;
  let instanceIds: string[] = [];
  const request = (instanceId: string) => ({ environmentId: 'env-default', region: REGION, instanceId, s3Prefix: 'exports/', requestedBy: adminUser.name });
  const exportsOf = async (instanceId: string) =>
    ((await ec2Client.send(new DescribeExportTasksCommand({}))).ExportTasks ?? []).filter((e) => e.InstanceExportDetails?.InstanceId === instanceId);

  beforeAll(async () => {
    store = new SqliteExportTasks(join(dir, 'exports.sqlite'));
    svc = new ExportService({ store, ec2: () => ec2Client, s3: () => s3Client, maxExportsPerRegion: 5 });
    await svc.setBucketName('awsfaults');
    // Instances of migrations completed above (every one is stopped and exportable).
    instanceIds = (await Promise.all([...submitted.keys()].map((id) => main.engine.get(id)))).filter((t) => t?.state === 'completed').map((t) => t!.instanceId!);
    expect(instanceIds.length).toBeGreaterThanOrEqual(3);
  });
  afterAll(() => store?.close());

  it('a throttled CreateInstanceExportTask is retried: one export task, completed with its OVA', async () => {
    const id = instanceIds[0]!;
    const before = ec2!.emulator.calls('CreateInstanceExportTask');
    const faultsBefore = ec2!.emulator.faultsInjected;
    ec2!.emulator.throttle('CreateInstanceExportTask', EC2_ATTEMPTS - 1);
    const rec = await svc.start(request(id));
    expect(ec2!.emulator.calls('CreateInstanceExportTask') - before).toBe(EC2_ATTEMPTS);
    expect(ec2!.emulator.faultsInjected - faultsBefore).toBe(EC2_ATTEMPTS - 1);
    expect(await exportsOf(id)).toHaveLength(1);
    const done = await waitFor(async () => {
      const r = await svc.get(rec.id);
      return r && r.state !== 'active' ? r : undefined;
    }, 'the export to finish');
    expect(done.state).toBe('completed');
    expect(done.s3Key).toMatch(/^exports\/export-i-.*\.ova$/);
    exportsCompleted += 1;
  });

  it('persistent throttling of CreateInstanceExportTask: refused with a clear message after bounded retries, no export task', async () => {
    const id = instanceIds[1]!;
    const before = ec2!.emulator.calls('CreateInstanceExportTask');
    ec2!.emulator.throttle('CreateInstanceExportTask', 10_000);
    let refusal: unknown;
    try {
      await svc.start(request(id));
    } catch (err) {
      refusal = err;
    } finally {
      ec2!.emulator.clearFaults();
    }
    expect(refusal).toBeInstanceOf(AppError);
    expect((refusal as AppError).message).toContain('AWS kept answering RequestLimitExceeded to EC2 CreateInstanceExportTask in us-east-1');
    expect((refusal as AppError).message).toContain("raise the account's EC2 API rate limit");
    expect(ec2!.emulator.calls('CreateInstanceExportTask') - before).toBe(EC2_ATTEMPTS);
    expect(await exportsOf(id)).toEqual([]);
    expect((await store.active()).filter((r) => r.instanceId === id)).toEqual([]);
  });

  it('an export EC2 fails: the record ends failed with EC2 StatusMessage and what to check; throttled refreshes keep the last state', async () => {
    const id = instanceIds[2]!;
    const remove = ec2!.emulator.failExport({ match: new RegExp(`^${id}$`) });
    try {
      const rec = await svc.start(request(id));
      // A refresh that EC2 keeps throttling neither throws nor changes the record.
      ec2!.emulator.throttle('DescribeExportTasks', EC2_ATTEMPTS);
      const during = await svc.get(rec.id);
      expect(during?.state).toBe('active');
      expect(ec2!.emulator.pendingFaults('DescribeExportTasks')).toBe(0);
      const done = await waitFor(async () => {
        const r = await svc.get(rec.id);
        return r && r.state !== 'active' ? r : undefined;
      }, 'the export to fail');
      expect(done.state).toBe('failed');
      expect(done.statusMessage).toContain(DEFAULT_EXPORT_FAILURE);
      expect(done.statusMessage).toContain(`EC2 could not export ${id}`);
      expect(done.statusMessage).toMatch(/Then export it again\.$/);
      const [task, ...more] = await exportsOf(id);
      expect(more).toEqual([]);
      expect(task?.State).toBe('cancelled');
      exportFaultsFired += 1;
      exportsFailed += 1;
    } finally {
      remove();
    }
  });
});

// ---------- the tally ----------

/** Counts what every submitted migration left behind, from the emulators' state. */
async function tally(): Promise<void> {
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
    suite: 'aws-faults',
    faultsInjected: ec2!.emulator.faultsInjected + s3!.faults.injected + importFailuresFired + exportFaultsFired,
    migrationsCompleted: completed + exportsCompleted,
    migrationsFailed: failedWithMessage + exportsFailed,
    tasksLost: lost,
    duplicates,
    orphans,
  });
}
