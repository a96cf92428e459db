// vCenter fault suite (issue 7): the lab vCenter drops NFC connections mid-disk, moves export leases to `error`
// (before ready and mid-transfer), ends every session during an export, and stops listening altogether. The engine
// must retry with bounded backoff, then either complete (the S3 object decodes to exactly the VM's disk) or fail
// with a message that says what to check, and leave nothing behind: no open lease, no snapshot, no multipart
// upload, no import task or instance. Faults are counted on the simulator's side (VcsimHandle.faultStatus).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeImportImageTasksCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { ConnectorConfig } from '../../connector/config.ts';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { TASK_TAG, type MigrationEngine } from '../../connector/engine/engine.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { VcenterNetworkError, Vim25Client, VimFault } from '../../connector/vsphere/vim25.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimFault, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { recordFaultTally } from '../support/fault-summary.ts';
import { decodeStreamOptimizedVmdk } from '../support/vmdk.ts';
import { expectedRawSha256 } from '../support/lab-disk-content.ts';
import { AWS_CREDENTIALS, labEngineConfig, REGION, waitFor } from '../integration/engine-helpers.ts';

const BUCKET = `vm2ec2-staging-${REGION}`;
const MiB = 1024 * 1024;
/** Where downloads are cut: past the first 5 MiB part, so a multipart upload is in flight when the drop comes. */
const DROP_AT = 6 * MiB;
const EXPORT_ATTEMPTS = 3;
const VCENTER_ATTEMPTS = 6;
// Small disks (a few parts each) keep the file fast; one VM is powered on so exports go through a snapshot.
const VMS = {
  off: { name: 'vcfault-off-01', powerState: 'poweredOff', capacityMiB: 16, seed: 61 },
  on: { name: 'vcfault-on-01', powerState: 'poweredOn', capacityMiB: 16, seed: 62 },
} as const;
type VmKey = keyof typeof VMS;

let dir = '';
let vcsim: VcsimHandle | undefined;
let s3: S3Handle | undefined;
let ec2: Ec2EmulatorHandle | undefined;
let engine: MigrationEngine;
let closeEngine: (() => Promise<void>) | undefined;
let ec2Client: EC2Client;
let s3Client: S3Client;
let admin: Vim25Client;
const vimClients: Vim25Client[] = [];
const vmIds = new Map<string, string>();
let subnetId = '';
let securityGroupId = '';
let adminUser = { name: '', password: '' };
const engineLog: string[] = [];
/** Every submitted task and the state the test expects it to end in. */
const expected = new Map<string, 'completed' | 'failed'>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-vcfaults-'));
  const labInventory = JSON.parse(await readFile(join(PACKAGE_ROOT, 'lab', 'inventory.json'), 'utf8')) as {
    users: { name: string; password: string }[];
  } & Record<string, unknown>;
  adminUser = labInventory.users.find((u) => u.name.startsWith('administrator@'))!;
  vcsim = await startVcsim({ vms: Object.values(VMS).map((vm) => ({ name: vm.name, powerState: vm.powerState, disks: [{ capacityMiB: vm.capacityMiB, seed: vm.seed }] })) });
  s3 = await startS3();
  ec2 = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 30, regions: [REGION] });
  ec2Client = new EC2Client({ region: REGION, endpoint: ec2.url, credentials: { ...AWS_CREDENTIALS } });
  s3Client = new S3Client(labS3ClientConfig(s3, REGION));

  admin = await vim();
  for (const vm of await admin.listVirtualMachines()) vmIds.set(vm.name, vm.id);
  const subnet = (await ec2Client.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
  subnetId = subnet.SubnetId!;
  securityGroupId = (await ec2Client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [subnet.VpcId!] }] }))).SecurityGroups![0]!.GroupId!;

  const config = ConnectorConfig.parse(
    labEngineConfig({
      dataDir: dir,
      vcsim,
      s3,
      ec2,
      engine: {
        // Kept so the test can decode what was uploaded; failed tasks remove theirs regardless.
        keepStagingObjects: true,
        maxExportAttempts: EXPORT_ATTEMPTS,
        vcenterConnectAttempts: VCENTER_ATTEMPTS,
        // Short waits keep the file fast; five waits of at least 100, 200, 400, 750 and 750 ms leave the test a
        // couple of seconds to bring vCenter back in the "back within the retry window" case on a loaded machine.
        retryDelayMs: 200,
        retryMaxDelayMs: 1_500,
      },
    }),
  );
  const built = createEngine(
    config,
    { vcenter: { sdkUrl: vcsim.sdkUrl, caPem: vcsim.certPem }, ec2: () => ec2Client },
    { log: (msg) => engineLog.push(msg) },
  );
  engine = built.engine;
  closeEngine = () => built.close();
  await engine.start();
});

afterAll(async () => {
  const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
  try {
    if (vcsim && closeEngine) {
      await vcsim.setReachable(true).catch(() => undefined);
      await vcsim.clearFaults().catch(() => undefined);
      await bounded(engine.idle());
      await tally();
    }
  } finally {
    if (closeEngine) await bounded(closeEngine());
    for (const c of vimClients) await bounded(c.logout());
    ec2Client?.destroy();
    s3Client?.destroy();
    if (vcsim) await bounded(vcsim.stop());
    if (ec2) await bounded(ec2.stop());
    if (s3) await bounded(s3.stop());
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

async function vim(): Promise<Vim25Client> {
  const c = await Vim25Client.connect({ sdkUrl: vcsim!.sdkUrl, ca: vcsim!.certPem });
  await c.login(adminUser.name, adminUser.password);
  vimClients.push(c);
  return c;
}

async function submit(vm: VmKey, want: 'completed' | 'failed'): Promise<string> {
  const task = await engine.submit({
    environmentId: 'env-default',
    region: REGION,
    vmId: vmIds.get(VMS[vm].name)!,
    platform: 'Linux',
    subnetId,
    instanceType: 't3.micro',
    securityGroupIds: [securityGroupId],
    requestedBy: adminUser.name,
  });
  expected.set(task.id, want);
  return task.id;
}

async function finished(pending: string | Promise<string>): Promise<MigrationTask> {
  const id = await pending;
  return waitFor(async () => {
    const t = await engine.get(id);
    return t && ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  }, `task ${id} to finish`);
}

async function injected(): Promise<number> {
  const s = await vcsim!.faultStatus();
  return Object.values(s.injected).reduce((a, b) => a + b, 0);
}

/** Runs `body` with `fault` armed and returns how many times the simulator fired it; disarms what is left. */
async function withFault<T>(fault: VcsimFault, body: () => Promise<T>): Promise<{ result: T; fired: number }> {
  const before = (await vcsim!.faultStatus()).injected[fault.kind];
  await vcsim!.injectFault(fault);
  try {
    const result = await body();
    return { result, fired: (await vcsim!.faultStatus()).injected[fault.kind] - before };
  } finally {
    await vcsim!.clearFaults();
  }
}

function retriesOf(id: string): string[] {
  return engineLog.filter((l) => l.startsWith(`migration ${id}: export attempt failed`));
}

async function snapshotsTotal(): Promise<number> {
  let n = 0;
  for (const id of vmIds.values()) n += (await admin.getVirtualMachine(id)).snapshotCount;
  return n;
}

async function multipartUploads(prefix: string): Promise<number> {
  try {
    return ((await s3Client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? []).length;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchBucket') return 0;
    throw err;
  }
}

async function importsOf(id: string): Promise<{ status?: string | undefined }[]> {
  const all = (await ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
  return all.filter((i) => i.Description?.includes(id)).map((i) => ({ status: i.Status }));
}

async function instancesOf(id: string): Promise<string[]> {
  const out = await ec2Client.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${TASK_TAG}`, Values: [id] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
}

/** No open lease, no snapshot, no multipart upload of the task; a failed task also has no import task or instance. */
async function expectNothingLeft(task: MigrationTask): Promise<void> {
  expect((await vcsim!.faultStatus()).openLeases).toBe(0);
  expect(await snapshotsTotal()).toBe(0);
  expect(await multipartUploads(`vm2ec2/${task.id}/`)).toBe(0);
  if (task.state === 'failed') {
    expect((await importsOf(task.id)).filter((i) => i.status === 'active')).toHaveLength(0);
    expect(await instancesOf(task.id)).toHaveLength(0);
  } else {
    expect(await importsOf(task.id)).toHaveLength(1);
    expect(await instancesOf(task.id)).toHaveLength(1);
  }
}

/** The staged object decodes to exactly the VM's generated disk. */
async function expectDiskUploaded(task: MigrationTask, vm: VmKey): Promise<void> {
  expect(task.error).toBeUndefined();
  expect(task.state).toBe('completed');
  const obj = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `vm2ec2/${task.id}/disk-1.vmdk` }));
  const report = await decodeStreamOptimizedVmdk(obj.Body as Readable, { hashRaw: true });
  expect(report.rawSha256).toBe(expectedRawSha256(VMS[vm].seed, VMS[vm].capacityMiB * MiB));
  expect(task.disks[0]!.bytesUploaded).toBe(report.streamBytes);
}

/** The suite's tally, from what the lab shows now (not from constants). */
async function tally(): Promise<void> {
  let completed = 0;
  let failed = 0;
  let lost = 0;
  let duplicates = 0;
  let orphans = (await vcsim!.faultStatus()).openLeases + (await snapshotsTotal()) + (await multipartUploads('vm2ec2/'));
  for (const [id, want] of expected) {
    const t = await engine.get(id);
    if (t?.state === 'completed') completed++;
    else if (t?.state === 'failed') failed++;
    if (!t || t.state !== want) lost++;
    const imports = await importsOf(id);
    const instances = await instancesOf(id);
    if (imports.length > 1 || instances.length > 1) duplicates++;
    if (t?.state !== 'completed') orphans += imports.filter((i) => i.status === 'active').length + instances.length;
  }
  recordFaultTally({
    suite: 'vcenter-faults',
    faultsInjected: await injected(),
    migrationsCompleted: completed,
    migrationsFailed: failed,
    tasksLost: lost,
    duplicates,
    orphans,
  });
}

describe('vCenter faults', { timeout: 120_000 }, () => {
  it('an NFC connection dropped mid-disk once: the export starts over on a fresh lease and S3 holds the exact disk', async () => {
    const { result: task, fired } = await withFault({ kind: 'nfc-drop', afterBytes: DROP_AT, count: 1 }, async () => finished(submit('off', 'completed')));
    expect(fired).toBe(1);
    expect(retriesOf(task.id)).toHaveLength(1);
    await expectDiskUploaded(task, 'off');
    await expectNothingLeft(task);
  });

  it('an NFC connection dropped on every attempt: the task fails naming the ESX host, and the snapshot, lease and parts are gone', async () => {
    const { result: task, fired } = await withFault({ kind: 'nfc-drop', afterBytes: DROP_AT, count: 10 }, async () => finished(submit('on', 'failed')));
    expect(fired).toBe(EXPORT_ATTEMPTS);
    expect(task.state).toBe('failed');
    const host = new URL(vcsim!.sdkUrl).host;
    expect(task.error).toContain(`The disk download from ESX host ${host} was interrupted ${EXPORT_ATTEMPTS} times while exporting ${VMS.on.name}`);
    expect(task.error).toContain('check the network between the connector and the ESX host');
    await expectNothingLeft(task);
  });

  it('a lease that goes to error before it is ready is retried on a fresh lease', async () => {
    const { result: task, fired } = await withFault({ kind: 'lease-error', when: 'initializing', count: 1 }, async () => finished(submit('off', 'completed')));
    expect(fired).toBe(1);
    expect(retriesOf(task.id)).toHaveLength(1);
    await expectDiskUploaded(task, 'off');
    await expectNothingLeft(task);
  });

  it('a lease that keeps going to error before it is ready fails the task with the lease fault text', async () => {
    const message = 'Unable to access file [LocalDS_0] vcfault-on-01/vcfault-on-01.vmdk since it is locked';
    const { result: task, fired } = await withFault({ kind: 'lease-error', when: 'initializing', count: 10, message }, async () => finished(submit('on', 'failed')));
    expect(fired).toBe(EXPORT_ATTEMPTS);
    expect(task.error).toContain(`The export lease of ${VMS.on.name} failed ${EXPORT_ATTEMPTS} times; vCenter reported: ${message}`);
    await expectNothingLeft(task);
  });

  it('a lease that goes to error mid-transfer is retried, and the upload restarts from the first byte', async () => {
    const { result: task, fired } = await withFault({ kind: 'lease-error', when: 'transfer', afterBytes: DROP_AT, count: 1 }, async () => finished(submit('off', 'completed')));
    expect(fired).toBe(1);
    expect(retriesOf(task.id)).toHaveLength(1);
    expect(retriesOf(task.id)[0]).toContain('the ESX host ended the NFC export session');
    await expectDiskUploaded(task, 'off');
    await expectNothingLeft(task);
  });

  it('a lease that keeps going to error mid-transfer fails the task with the lease fault text', async () => {
    const message = 'The operation is not allowed in the current connection state of the host';
    const { result: task, fired } = await withFault({ kind: 'lease-error', when: 'transfer', afterBytes: DROP_AT, count: 10, message }, async () =>
      finished(submit('on', 'failed')),
    );
    expect(fired).toBe(EXPORT_ATTEMPTS);
    expect(task.error).toContain(`The export lease of ${VMS.on.name} failed ${EXPORT_ATTEMPTS} times; vCenter reported: ${message}`);
    await expectNothingLeft(task);
  });

  it('a client with credentials logs in again when vCenter ends its session; a cloned session cannot', async () => {
    const withPassword = await vim();
    const ticket = await withPassword.acquireCloneTicket();
    const cloned = await Vim25Client.connect({ sdkUrl: vcsim!.sdkUrl, ca: vcsim!.certPem });
    vimClients.push(cloned);
    await cloned.cloneSession(ticket);
    expect((await cloned.listVirtualMachines()).length).toBe(2);

    const { terminated } = await vcsim!.injectFault({ kind: 'expire-sessions' });
    expect(terminated).toBeGreaterThanOrEqual(2);
    expect((await withPassword.listVirtualMachines()).map((v) => v.name).sort()).toEqual([VMS.off.name, VMS.on.name]);
    const err = await cloned.listVirtualMachines().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(VimFault);
    expect((err as VimFault).faultType).toBe('NotAuthenticated');
  });

  it('every session ends mid-transfer: the engine logs in again and completes without a new export', async () => {
    const { result: task, fired } = await withFault({ kind: 'expire-sessions', afterBytes: DROP_AT, count: 1 }, async () => finished(submit('on', 'completed')));
    expect(fired).toBe(1);
    // Lease progress, completion and the snapshot removal ran on a new session of the same account.
    expect(retriesOf(task.id)).toHaveLength(0);
    await expectDiskUploaded(task, 'on');
    await expectNothingLeft(task);
  });

  it('vCenter unreachable when the task starts and back within the retry window: the migration completes', async () => {
    await vcsim!.setReachable(false);
    try {
      const refused = await Vim25Client.connect({ sdkUrl: vcsim!.sdkUrl, ca: vcsim!.certPem }).then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(VcenterNetworkError);
      expect((refused as VcenterNetworkError).code).toBe('ECONNREFUSED');
      const id = await submit('off', 'completed');
      // Bring vCenter back as soon as the engine has met the outage once.
      await waitFor(() => retriesOf(id).some((l) => l.includes('unable to reach vCenter')), 'a refused attempt');
      await vcsim!.setReachable(true);
      const task = await finished(id);
      await expectDiskUploaded(task, 'off');
      await expectNothingLeft(task);
    } finally {
      await vcsim!.setReachable(true);
    }
  });

  it('vCenter unreachable for longer than the retry window: the task fails naming the vCenter URL and what to check', async () => {
    const before = (await vcsim!.faultStatus()).injected.unreachable;
    await vcsim!.setReachable(false);
    let task: MigrationTask;
    try {
      task = await finished(submit('off', 'failed'));
    } finally {
      await vcsim!.setReachable(true);
    }
    expect((await vcsim!.faultStatus()).injected.unreachable).toBe(before + 1);
    expect(retriesOf(task.id)).toHaveLength(VCENTER_ATTEMPTS - 1);
    expect(task.error).toContain(`Connector is unable to reach vCenter ${vcsim!.sdkUrl} (ECONNREFUSED; ${VCENTER_ATTEMPTS} attempts`);
    expect(task.error).toContain('Check that vCenter is running and that the connector can reach it');
    await expectNothingLeft(task);
  });
});
