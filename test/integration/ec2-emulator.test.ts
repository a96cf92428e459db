// The lab EC2/IAM emulator, driven only through the real AWS SDK v3 clients (reference §11.3).
import { randomBytes, randomUUID } from 'node:crypto';
import {
  CancelExportTaskCommand,
  CancelImportTaskCommand,
  CreateImageCommand,
  CreateInstanceExportTaskCommand,
  CreateTagsCommand,
  DescribeAccountAttributesCommand,
  DescribeExportTasksCommand,
  DescribeImagesCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ImportImageCommand,
  paginateDescribeImportImageTasks,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilExportTaskCompleted,
  waitUntilInstanceRunning,
  type ImportImageCommandInput,
  type ImportImageTask,
} from '@aws-sdk/client-ec2';
import {
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISK_VALIDATION_FAILED, REQUESTER_MANAGED_DESCRIPTION, startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type S3Handle } from '../../lab/s3/index.ts';

const STAGE = 1000;
const IMPORTS = 'lab-imports';
const EXPORTS = 'lab-exports';
const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };

let s3: S3Handle;
let s3c: S3Client;
let lab: Ec2EmulatorHandle; // manual clock: time moves only with advance()
const clients: { destroy(): void }[] = [];

function ec2(region = 'us-east-1', url = lab.url, maxAttempts?: number): EC2Client {
  const c = new EC2Client({ region, endpoint: url, credentials: creds, ...(maxAttempts ? { maxAttempts } : {}) });
  clients.push(c);
  return c;
}

async function putDisk(key: string, bytes = 64 * 1024): Promise<void> {
  await s3c.send(new PutObjectCommand({ Bucket: IMPORTS, Key: key, Body: randomBytes(bytes) }));
}

function importInput(key: string, extra: Partial<ImportImageCommandInput> = {}): ImportImageCommandInput {
  return {
    Description: key,
    Platform: 'Linux',
    LicenseType: 'BYOL',
    RoleName: 'vmimport',
    ClientToken: randomUUID(),
    DiskContainers: [{ Format: 'VMDK', UserBucket: { S3Bucket: IMPORTS, S3Key: key } }],
    ...extra,
  };
}

async function describeTask(client: EC2Client, id: string): Promise<ImportImageTask> {
  const out = await client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [id] }));
  const task = out.ImportImageTasks?.[0];
  if (!task) throw new Error(`task ${id} not returned`);
  return task;
}

/** ImportImage → completed AMI on the manual-clock emulator. */
async function importedImage(client: EC2Client, key: string): Promise<string> {
  await putDisk(key);
  const { ImportTaskId } = await client.send(new ImportImageCommand(importInput(key)));
  await lab.emulator.advance(6 * STAGE);
  const task = await describeTask(client, ImportTaskId ?? '');
  if (!task.ImageId) throw new Error(`import ${ImportTaskId} did not complete: ${task.Status} ${task.StatusMessage}`);
  return task.ImageId;
}

beforeAll(async () => {
  s3 = await startS3({ buckets: [IMPORTS, EXPORTS] });
  s3c = new S3Client(labS3ClientConfig(s3));
  lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: STAGE, manualClock: true });
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  s3c?.destroy();
  await lab?.stop();
  await s3?.stop();
});

describe('import image tasks', () => {
  it('walks pending → converting → updating → booting → preparing ami → completed', async () => {
    const client = ec2();
    await putDisk('vms/vm-1/disk1.vmdk', 3 * 1024 * 1024);
    await putDisk('vms/vm-1/disk2.vmdk', 1024 * 1024);
    const disks = [
      { Format: 'VMDK' as const, UserBucket: { S3Bucket: IMPORTS, S3Key: 'vms/vm-1/disk1.vmdk' } },
      { Format: 'VMDK' as const, Url: `s3://${IMPORTS}/vms/vm-1/disk2.vmdk` },
    ];
    const started = await client.send(new ImportImageCommand(importInput('vms/vm-1/disk1.vmdk', { DiskContainers: disks })));
    expect([started.Status, started.StatusMessage, started.Progress]).toEqual(['active', 'pending', '2']);
    const id = started.ImportTaskId ?? '';
    expect(id).toMatch(/^import-ami-[0-9a-f]{17}$/);

    const seen: [string?, string?, string?][] = [];
    let task = await describeTask(client, id);
    expect(task.SnapshotDetails?.[0]?.DiskImageSize).toBe(0);
    for (let i = 0; i < 6; i++) {
      seen.push([task.Status, task.StatusMessage, task.Progress]);
      await lab.emulator.advance(STAGE);
      task = await describeTask(client, id);
    }
    expect(seen).toEqual([
      ['active', 'pending', '2'],
      ['active', 'converting', '28'],
      ['active', 'updating', '41'],
      ['active', 'booting', '59'],
      ['active', 'preparing ami', '76'],
      ['completed', undefined, undefined],
    ]);
    expect(task.ImageId).toMatch(/^ami-/);
    expect(task.SnapshotDetails?.map((d) => [d.DiskImageSize, d.Format, d.Status, d.DeviceName])).toEqual([
      [3 * 1024 * 1024, 'VMDK', 'completed', '/dev/sda1'],
      [1024 * 1024, 'VMDK', 'completed', '/dev/sdb'],
    ]);
    expect(task.SnapshotDetails?.[0]?.UserBucket).toEqual({ S3Bucket: IMPORTS, S3Key: 'vms/vm-1/disk1.vmdk' });
    expect(task.SnapshotDetails?.[1]?.Url).toBe(`s3://${IMPORTS}/vms/vm-1/disk2.vmdk`);
    expect(task.SnapshotDetails?.every((d) => d.SnapshotId?.startsWith('snap-'))).toBe(true);

    const images = await client.send(new DescribeImagesCommand({ ImageIds: [task.ImageId ?? ''] }));
    expect(images.Images?.[0]).toMatchObject({ ImageId: task.ImageId, State: 'available', Name: id, OwnerId: '111122223333' });
    expect(images.Images?.[0]?.BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId)).toEqual(task.SnapshotDetails?.map((d) => d.SnapshotId));
  });

  it('returns the same task for a repeated ClientToken and rejects a reused token with other parameters', async () => {
    const client = ec2();
    await putDisk('vms/idem/disk1.vmdk');
    const input = importInput('vms/idem/disk1.vmdk');
    const first = await client.send(new ImportImageCommand(input));
    const again = await client.send(new ImportImageCommand(input));
    expect(again.ImportTaskId).toBe(first.ImportTaskId);
    await expect(client.send(new ImportImageCommand({ ...input, Description: 'other' }))).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
    await client.send(new CancelImportTaskCommand({ ImportTaskId: first.ImportTaskId }));
  });

  it('caps concurrent imports per region, and a cancel frees a slot', async () => {
    const client = ec2('us-west-2');
    await putDisk('vms/limit/disk.vmdk');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')))).ImportTaskId ?? '');
    const sixth = client.send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')));
    await expect(sixth).rejects.toMatchObject({ name: 'ResourceLimitExceeded', $metadata: { httpStatusCode: 400 } });

    // The limit is per region: us-east-1 still accepts.
    const east = await ec2().send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')));
    expect(east.Status).toBe('active');

    const cancelled = await client.send(new CancelImportTaskCommand({ ImportTaskId: ids[0], CancelReason: 'test' }));
    expect(cancelled).toMatchObject({ ImportTaskId: ids[0], PreviousState: 'active', State: 'deleting' });
    const replacement = await client.send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')));
    expect(replacement.Status).toBe('active');
    await expect(client.send(new CancelImportTaskCommand({ ImportTaskId: ids[0] }))).rejects.toMatchObject({ name: 'IncorrectState' });

    await lab.emulator.advance(STAGE);
    expect((await describeTask(client, ids[0] ?? '')).Status).toBe('deleted');
    for (const id of [...ids.slice(1), replacement.ImportTaskId ?? '']) await client.send(new CancelImportTaskCommand({ ImportTaskId: id }));
    await ec2().send(new CancelImportTaskCommand({ ImportTaskId: east.ImportTaskId }));
  });

  it('fails an injected import with Status deleted and a ClientError', async () => {
    const client = ec2();
    const remove = lab.emulator.failImportAt({ match: /bad-os/, stage: 'converting' });
    try {
      await putDisk('vms/bad-os/disk1.vmdk');
      const { ImportTaskId } = await client.send(new ImportImageCommand(importInput('vms/bad-os/disk1.vmdk')));
      await lab.emulator.advance(STAGE);
      expect((await describeTask(client, ImportTaskId ?? '')).StatusMessage).toBe('converting');
      await lab.emulator.advance(STAGE);
      const task = await describeTask(client, ImportTaskId ?? '');
      expect([task.Status, task.StatusMessage, task.ImageId]).toEqual(['deleted', 'ClientError: Unknown OS / Missing OS files.', undefined]);
    } finally {
      remove();
    }
  });

  it('fails disk validation when the S3 object is missing', async () => {
    const client = ec2();
    const { ImportTaskId, Status } = await client.send(new ImportImageCommand(importInput('vms/nowhere/disk1.vmdk')));
    expect(Status).toBe('active');
    await lab.emulator.advance(STAGE);
    const task = await describeTask(client, ImportTaskId ?? '');
    expect([task.Status, task.StatusMessage]).toEqual(['deleted', DISK_VALIDATION_FAILED]);
    expect(DISK_VALIDATION_FAILED).toBe('ClientError: Disk validation failed [We do not have access to the given resource. Reason 403 Forbidden]');
  });

  it('rejects bad disk containers', async () => {
    const client = ec2();
    await expect(
      client.send(new ImportImageCommand(importInput('x', { DiskContainers: [{ Format: 'QCOW2' as 'VMDK', UserBucket: { S3Bucket: IMPORTS, S3Key: 'x.qcow2' } }] }))),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client.send(new ImportImageCommand(importInput('x', { DiskContainers: [] })))).rejects.toMatchObject({ name: 'MissingParameter' });
  });

  it('keeps tasks without Platform stuck in updating', async () => {
    const client = ec2();
    await putDisk('vms/noplatform/disk1.vmdk');
    const { ImportTaskId } = await client.send(new ImportImageCommand(importInput('vms/noplatform/disk1.vmdk', { Platform: undefined })));
    await lab.emulator.advance(10 * STAGE);
    const task = await describeTask(client, ImportTaskId ?? '');
    expect([task.Status, task.StatusMessage]).toEqual(['active', 'updating']);
    await client.send(new CancelImportTaskCommand({ ImportTaskId }));
  });

  it('filters by task-state, pages with MaxResults/NextToken and keeps regions apart', async () => {
    const client = ec2();
    const all: ImportImageTask[] = [];
    for await (const page of paginateDescribeImportImageTasks({ client, pageSize: 2 }, {})) all.push(...(page.ImportImageTasks ?? []));
    const unpaged = (await client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(all.length).toBeGreaterThan(4);
    expect(all.map((t) => t.ImportTaskId)).toEqual(unpaged.map((t) => t.ImportTaskId));

    const completed = await client.send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['completed'] }] }));
    expect(completed.ImportImageTasks?.length).toBeGreaterThan(0);
    expect(new Set(completed.ImportImageTasks?.map((t) => t.Status))).toEqual(new Set(['completed']));

    const eu = ec2('eu-west-1');
    expect((await eu.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? []).toEqual([]);
    await expect(eu.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [unpaged[0]?.ImportTaskId ?? ''] }))).rejects.toMatchObject({
      name: 'InvalidConversionTaskId',
    });
  });
});

describe('instances', () => {
  let imageId: string;
  let subnetA: string;
  let web: string;
  const client = () => ec2();

  beforeAll(async () => {
    imageId = await importedImage(client(), 'vms/web-01/disk1.vmdk');
    const subnets = await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.1.0/24'] }] }));
    subnetA = subnets.Subnets?.[0]?.SubnetId ?? '';
    const groups = await client().send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['web'] }] }));
    web = groups.SecurityGroups?.[0]?.GroupId ?? '';
  });

  const freeIps = async () => (await client().send(new DescribeSubnetsCommand({ SubnetIds: [subnetA] }))).Subnets?.[0]?.AvailableIpAddressCount;

  it('launches into the chosen subnet, IP and security group, then runs, stops, starts and terminates', async () => {
    const before = await freeIps();
    const run = await client().send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't3.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetA,
        SecurityGroupIds: [web],
        PrivateIpAddress: '10.0.1.25',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'web-01' }] }],
      }),
    );
    const inst = run.Instances?.[0];
    expect(inst).toMatchObject({ ImageId: imageId, PrivateIpAddress: '10.0.1.25', SubnetId: subnetA, State: { Name: 'pending', Code: 0 } });
    expect(inst?.SecurityGroups?.map((g) => [g.GroupId, g.GroupName])).toEqual([[web, 'web']]);
    expect(inst?.Tags).toEqual([{ Key: 'Name', Value: 'web-01' }]);
    expect(await freeIps()).toBe((before ?? 0) - 1);
    const id = inst?.InstanceId ?? '';

    const byTag = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['web-01'] }] }));
    expect(byTag.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId))).toEqual([id]);
    const pending = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending'] }, { Name: 'tag-key', Values: ['Name'] }] }));
    expect(pending.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId))).toContain(id);

    await lab.emulator.advance(STAGE);
    const state = async () => (await client().send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
    expect(await state()).toBe('running');

    const stop = await client().send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]).toMatchObject({ PreviousState: { Name: 'running' }, CurrentState: { Name: 'stopping' } });
    await lab.emulator.advance(STAGE);
    expect(await state()).toBe('stopped');
    const start = await client().send(new StartInstancesCommand({ InstanceIds: [id] }));
    expect(start.StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    await lab.emulator.advance(STAGE);
    expect(await state()).toBe('running');

    const term = await client().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(term.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
    await lab.emulator.advance(STAGE);
    expect(await state()).toBe('terminated');
    expect(await freeIps()).toBe(before);
    await expect(client().send(new StartInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({ name: 'IncorrectInstanceState' });
  });

  it('validates the private IP against the subnet', async () => {
    const base = { ImageId: imageId, InstanceType: 't3.small' as const, MinCount: 1, MaxCount: 1, SubnetId: subnetA };
    const first = await client().send(new RunInstancesCommand(base));
    expect(first.Instances?.[0]?.PrivateIpAddress).toBe('10.0.1.4');
    await expect(client().send(new RunInstancesCommand({ ...base, PrivateIpAddress: '10.0.9.9' }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client().send(new RunInstancesCommand({ ...base, PrivateIpAddress: '10.0.1.1' }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client().send(new RunInstancesCommand({ ...base, PrivateIpAddress: '10.0.1.4' }))).rejects.toMatchObject({ name: 'InvalidIPAddress.InUse' });
    await expect(client().send(new RunInstancesCommand({ ...base, ImageId: 'ami-0000000000000dead' }))).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });

    const full = (await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.3.0/24'] }] }))).Subnets?.[0];
    expect(full?.AvailableIpAddressCount).toBe(3);
    await expect(client().send(new RunInstancesCommand({ ...base, SubnetId: full?.SubnetId, MinCount: 4, MaxCount: 4 }))).rejects.toMatchObject({
      name: 'InsufficientFreeAddressesInSubnet',
    });
    await client().send(new TerminateInstancesCommand({ InstanceIds: [first.Instances?.[0]?.InstanceId ?? ''] }));
  });

  it('returns the same instance for a repeated RunInstances ClientToken', async () => {
    const input = { ImageId: imageId, InstanceType: 't3.small' as const, MinCount: 1, MaxCount: 1, SubnetId: subnetA, ClientToken: randomUUID() };
    const first = await client().send(new RunInstancesCommand(input));
    const again = await client().send(new RunInstancesCommand(input));
    expect(again.Instances?.map((i) => i.InstanceId)).toEqual(first.Instances?.map((i) => i.InstanceId));
    expect(again.ReservationId).toBe(first.ReservationId);
    const byToken = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [input.ClientToken] }] }));
    expect(byToken.Reservations?.flatMap((r) => r.Instances ?? []).length).toBe(1);
    await client().send(new TerminateInstancesCommand({ InstanceIds: [first.Instances?.[0]?.InstanceId ?? ''] }));
  });

  it('answers DescribeInstances errors like EC2', async () => {
    await expect(client().send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
    });
    await expect(client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'colour', Values: ['blue'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('creates an AMI from an instance and tags resources', async () => {
    const run = await client().send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnetA }));
    const id = run.Instances?.[0]?.InstanceId ?? '';
    await lab.emulator.advance(STAGE);
    await client().send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'Owner', Value: 'migration' }] }));
    const tagged = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Owner', Values: ['migration'] }] }));
    expect(tagged.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(id);

    const { ImageId } = await client().send(new CreateImageCommand({ InstanceId: id, Name: 'web-01 backup' }));
    const img = async () => (await client().send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['web-01 backup'] }] }))).Images?.[0];
    expect((await img())?.State).toBe('pending');
    await lab.emulator.advance(STAGE);
    expect(await img()).toMatchObject({ ImageId, State: 'available', SourceInstanceId: id });
    await expect(client().send(new CreateImageCommand({ InstanceId: id, Name: 'web-01 backup' }))).rejects.toMatchObject({ name: 'InvalidAMIName.Duplicate' });
    await client().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('describes one network interface per instance and the ENIs holding the nearly full subnet, with filters', async () => {
    const enis = async (filters: Record<string, string[]>, ids?: string[]) =>
      (
        await client().send(
          new DescribeNetworkInterfacesCommand({ Filters: Object.entries(filters).map(([Name, Values]) => ({ Name, Values })), ...(ids ? { NetworkInterfaceIds: ids } : {}) }),
        )
      ).NetworkInterfaces ?? [];
    const run = await client().send(
      new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnetA, SecurityGroupIds: [web], PrivateIpAddress: '10.0.1.77' }),
    );
    const inst = run.Instances?.[0];
    const id = inst?.InstanceId ?? '';
    const vpcId = inst?.VpcId ?? '';

    const [mine, ...others] = await enis({ 'subnet-id': [subnetA], 'addresses.private-ip-address': ['10.0.1.77'] });
    expect(others).toEqual([]);
    expect(mine).toMatchObject({
      NetworkInterfaceId: inst?.NetworkInterfaces?.[0]?.NetworkInterfaceId,
      SubnetId: subnetA,
      VpcId: vpcId,
      PrivateIpAddress: '10.0.1.77',
      Status: 'in-use',
      RequesterManaged: false,
      Attachment: { InstanceId: id, DeviceIndex: 0, Status: 'attached', DeleteOnTermination: true },
      PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.77', Primary: true }],
      Groups: [{ GroupId: web, GroupName: 'web' }],
    });
    expect(mine?.NetworkInterfaceId).toMatch(/^eni-[0-9a-f]{17}$/);
    expect((await enis({ 'private-ip-address': ['10.0.1.77'], 'vpc-id': [vpcId] })).map((e) => e.NetworkInterfaceId)).toEqual([mine?.NetworkInterfaceId]);
    expect(await enis({ 'subnet-id': [subnetA], 'addresses.private-ip-address': ['10.0.1.78'] })).toEqual([]);
    expect(await enis({ 'vpc-id': ['vpc-0000000000000dead'] })).toEqual([]);
    expect((await enis({}, [mine?.NetworkInterfaceId ?? ''])).map((e) => e.PrivateIpAddress)).toEqual(['10.0.1.77']);

    // Every address DescribeSubnets counts as used in the nearly full subnet is a requester-managed ENI (10.0.3.4 …).
    const full = (await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['lab-nearly-full-c'] }] }))).Subnets?.[0];
    const held = await enis({ 'subnet-id': [full?.SubnetId ?? ''] });
    expect(held.length).toBe(256 - 5 - (full?.AvailableIpAddressCount ?? 0));
    expect(held[0]).toMatchObject({ PrivateIpAddress: '10.0.3.4', VpcId: vpcId, RequesterManaged: true, Description: REQUESTER_MANAGED_DESCRIPTION, Status: 'in-use' });
    expect(held[0]?.Attachment?.InstanceId).toBeUndefined();
    expect(held.every((e) => e.RequesterManaged === true && e.Description === REQUESTER_MANAGED_DESCRIPTION)).toBe(true);
    expect((await enis({ 'subnet-id': [full?.SubnetId ?? ''], 'addresses.private-ip-address': ['10.0.3.200'] })).length).toBe(1);
    expect(await enis({ 'subnet-id': [full?.SubnetId ?? ''], 'addresses.private-ip-address': ['10.0.3.253'] })).toEqual([]);

    await expect(client().send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0123456789abcdef0'] }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
    });
    await expect(client().send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'colour', Values: ['blue'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });

    // The instance's ENI goes away with the instance, freeing the address.
    await client().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect((await enis({ 'attachment.instance-id': [id] })).length).toBe(1);
    await lab.emulator.advance(STAGE);
    expect(await enis({ 'subnet-id': [subnetA], 'addresses.private-ip-address': ['10.0.1.77'] })).toEqual([]);
  });
});

describe('instance export tasks', () => {
  const instances: string[] = [];
  const client = () => ec2();

  beforeAll(async () => {
    const imageId = await importedImage(client(), 'vms/export-src/disk1.vmdk');
    const subnet = (await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.2.0/24'] }] }))).Subnets?.[0]?.SubnetId;
    const run = await client().send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.small', MinCount: 7, MaxCount: 7, SubnetId: subnet }));
    instances.push(...(run.Instances ?? []).map((i) => i.InstanceId ?? ''));
    await lab.emulator.advance(STAGE);
  });

  const exportInput = (instanceId: string, bucket = EXPORTS) => ({
    InstanceId: instanceId,
    TargetEnvironment: 'vmware' as const,
    ExportToS3Task: { ContainerFormat: 'ova' as const, DiskImageFormat: 'VMDK' as const, S3Bucket: bucket, S3Prefix: 'exports/' },
  });

  it('cancels an active export, which then cannot be cancelled again', async () => {
    const { ExportTask } = await client().send(new CreateInstanceExportTaskCommand(exportInput(instances[0] ?? '')));
    expect(ExportTask?.State).toBe('active');
    expect(ExportTask?.ExportToS3Task?.S3Key).toBe(`exports/${ExportTask?.ExportTaskId}.ova`);
    await client().send(new CancelExportTaskCommand({ ExportTaskId: ExportTask?.ExportTaskId }));
    const describe = async () => (await client().send(new DescribeExportTasksCommand({ ExportTaskIds: [ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
    expect((await describe())?.State).toBe('cancelling');
    await lab.emulator.advance(STAGE);
    expect((await describe())?.State).toBe('cancelled');
    await expect(client().send(new CancelExportTaskCommand({ ExportTaskId: ExportTask?.ExportTaskId }))).rejects.toMatchObject({ name: 'IncorrectState' });
    await expect(s3c.send(new HeadObjectCommand({ Bucket: EXPORTS, Key: ExportTask?.ExportToS3Task?.S3Key }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('completes an export into S3; a completed export cannot be cancelled', async () => {
    const { ExportTask } = await client().send(new CreateInstanceExportTaskCommand(exportInput(instances[1] ?? '')));
    await lab.emulator.advance(3 * STAGE);
    const done = (await client().send(new DescribeExportTasksCommand({ ExportTaskIds: [ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
    expect(done?.State).toBe('completed');
    const head = await s3c.send(new HeadObjectCommand({ Bucket: EXPORTS, Key: done?.ExportToS3Task?.S3Key }));
    expect(head.ContentLength).toBeGreaterThan(1024);
    await expect(client().send(new CancelExportTaskCommand({ ExportTaskId: ExportTask?.ExportTaskId }))).rejects.toMatchObject({ name: 'IncorrectState' });
  });

  it('caps concurrent exports per region and refuses a second export of one instance', async () => {
    const ids: string[] = [];
    for (const inst of instances.slice(2, 7)) ids.push((await client().send(new CreateInstanceExportTaskCommand(exportInput(inst)))).ExportTask?.ExportTaskId ?? '');
    await expect(client().send(new CreateInstanceExportTaskCommand(exportInput(instances[2] ?? '')))).rejects.toMatchObject({ name: 'IncorrectState' });
    await expect(client().send(new CreateInstanceExportTaskCommand(exportInput(instances[0] ?? '')))).rejects.toMatchObject({
      name: 'ResourceLimitExceeded',
    });
    for (const id of ids) await client().send(new CancelExportTaskCommand({ ExportTaskId: id }));
    const accepted = await client().send(new CreateInstanceExportTaskCommand(exportInput(instances[0] ?? '')));
    expect(accepted.ExportTask?.State).toBe('active');
    await client().send(new CancelExportTaskCommand({ ExportTaskId: accepted.ExportTask?.ExportTaskId }));
    await lab.emulator.advance(STAGE);
  });

  it('validates bucket and formats, and surfaces injected export failures', async () => {
    const inst = instances[0] ?? '';
    await expect(client().send(new CreateInstanceExportTaskCommand(exportInput(inst, 'no-such-bucket')))).rejects.toMatchObject({ name: 'InvalidParameter' });
    const bad = exportInput(inst);
    await expect(
      client().send(new CreateInstanceExportTaskCommand({ ...bad, ExportToS3Task: { ...bad.ExportToS3Task, ContainerFormat: 'zip' as 'ova' } })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      client().send(new CreateInstanceExportTaskCommand({ ...bad, ExportToS3Task: { ...bad.ExportToS3Task, DiskImageFormat: 'QCOW2' as 'VMDK' } })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });

    const remove = lab.emulator.failExport({ match: new RegExp(inst), message: 'ClientError: injected export failure' });
    try {
      const { ExportTask } = await client().send(new CreateInstanceExportTaskCommand(exportInput(inst)));
      await lab.emulator.advance(STAGE);
      const failed = (await client().send(new DescribeExportTasksCommand({ ExportTaskIds: [ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
      expect([failed?.State, failed?.StatusMessage]).toEqual(['cancelled', 'ClientError: injected export failure']);
    } finally {
      remove();
    }
  });
});

describe('networking and account', () => {
  it('seeds one VPC per region with three subnets and three security groups', async () => {
    const cidrs: Record<string, string> = { 'us-east-1': '10.0.0.0/16', 'us-west-2': '10.1.0.0/16', 'eu-west-1': '10.2.0.0/16' };
    for (const [region, cidr] of Object.entries(cidrs)) {
      const client = ec2(region);
      const vpcs = (await client.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
      expect(vpcs.map((v) => v.CidrBlock)).toEqual([cidr]);
      const vpcId = vpcs[0]?.VpcId ?? '';
      const subnets = (await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? [];
      expect(subnets.map((s) => [s.AvailabilityZone, s.VpcId])).toEqual(['a', 'b', 'c'].map((az) => [`${region}${az}`, vpcId]));
      expect(subnets.map((s) => s.CidrBlock?.endsWith('.0/24'))).toEqual([true, true, true]);
      const groups = (await client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups ?? [];
      expect(groups.map((g) => g.GroupName)).toEqual(['default', 'web', 'db']);
      const one = await client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [groups[1]?.GroupId ?? ''] }] }));
      expect(one.SecurityGroups?.map((g) => g.GroupName)).toEqual(['web']);
      expect(one.SecurityGroups?.[0]?.IpPermissions?.map((p) => p.FromPort)).toEqual([80, 443, 22]);
    }
    const nearlyFull = (await ec2().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['lab-nearly-full-c'] }] }))).Subnets;
    expect(nearlyFull?.[0]?.AvailableIpAddressCount).toBe(3);
  });

  it('offers different instance types per region and per AZ', async () => {
    const offered = async (region: string, pattern: string) =>
      ((await ec2(region).send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'region', Filters: [{ Name: 'instance-type', Values: [pattern] }] })))
        .InstanceTypeOfferings ?? []).map((o) => [o.InstanceType, o.Location]);
    expect(await offered('us-east-1', 'm7i.large')).toEqual([['m7i.large', 'us-east-1']]);
    expect(await offered('eu-west-1', 'm7i.*')).toEqual([]);
    expect((await offered('eu-west-1', 'm6i.*')).length).toBe(4);
    const byAz = await ec2().send(
      new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: ['t2.micro'] }] }),
    );
    expect(byAz.InstanceTypeOfferings?.map((o) => o.Location)).toEqual(['us-east-1a', 'us-east-1b']);
  });

  it('lists regions and account attributes, and refuses unknown regions', async () => {
    const regions = await ec2().send(new DescribeRegionsCommand({}));
    expect(regions.Regions?.map((r) => r.RegionName)).toEqual(['us-east-1', 'us-west-2', 'eu-west-1']);
    const attrs = await ec2().send(new DescribeAccountAttributesCommand({ AttributeNames: ['supported-platforms'] }));
    expect(attrs.AccountAttributes?.[0]?.AttributeValues?.map((v) => v.AttributeValue)).toEqual(['VPC']);
    await expect(ec2('ap-south-1').send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'AuthFailure', message: expect.stringMatching(/ap-south-1/) });
  });

  it('is reachable through AWS_ENDPOINT_URL_EC2 alone', async () => {
    process.env.AWS_ENDPOINT_URL_EC2 = lab.url;
    try {
      const client = new EC2Client({ region: 'eu-west-1', credentials: creds });
      clients.push(client);
      expect((await client.send(new DescribeVpcsCommand({}))).Vpcs?.[0]?.CidrBlock).toBe('10.2.0.0/16');
    } finally {
      delete process.env.AWS_ENDPOINT_URL_EC2;
    }
  });

  it('injects throttling and server errors', async () => {
    lab.emulator.throttle('DescribeRegions', 1);
    await expect(ec2('us-east-1', lab.url, 1).send(new DescribeRegionsCommand({}))).rejects.toMatchObject({
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503 },
    });
    lab.emulator.throttle('DescribeRegions', 1);
    const retried = await ec2('us-east-1', lab.url, 2).send(new DescribeRegionsCommand({}));
    expect(retried.$metadata.attempts).toBe(2);
    lab.emulator.serverError('DescribeVpcs', 1);
    await expect(ec2('us-east-1', lab.url, 1).send(new DescribeVpcsCommand({}))).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
  });
});

describe('IAM', () => {
  const iam = () => {
    const c = new IAMClient({ region: 'us-east-1', endpoint: lab.url, credentials: creds });
    clients.push(c);
    return c;
  };

  it('serves the seeded vmimport role and round-trips an inline policy', async () => {
    const role = (await iam().send(new GetRoleCommand({ RoleName: 'vmimport' }))).Role;
    expect(role?.Arn).toBe('arn:aws:iam::111122223333:role/vmimport');
    const trust = JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '')) as { Statement: { Principal: { Service: string } }[] };
    expect(trust.Statement[0]?.Principal.Service).toBe('vmie.amazonaws.com');
    expect((await iam().send(new ListRolePoliciesCommand({ RoleName: 'vmimport' }))).PolicyNames).toEqual([]);
    expect((await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: 'vmimport' }))).AttachedPolicies).toEqual([]);

    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'], Resource: ['arn:aws:s3:::lab-imports', 'arn:aws:s3:::lab-imports/*'] }],
    });
    await iam().send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'vmimport', PolicyDocument: policy }));
    expect((await iam().send(new ListRolePoliciesCommand({ RoleName: 'vmimport' }))).PolicyNames).toEqual(['vmimport']);
    const got = await iam().send(new GetRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'vmimport' }));
    expect(decodeURIComponent(got.PolicyDocument ?? '')).toBe(policy);

    await iam().send(new UpdateAssumeRolePolicyCommand({ RoleName: 'vmimport', PolicyDocument: decodeURIComponent(role?.AssumeRolePolicyDocument ?? '') }));
    await expect(iam().send(new GetRoleCommand({ RoleName: 'nobody' }))).rejects.toMatchObject({ name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } });
    await expect(iam().send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'x', PolicyDocument: '{not json' }))).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    await expect(
      iam().send(new CreateRoleCommand({ RoleName: 'vmimport', AssumeRolePolicyDocument: decodeURIComponent(role?.AssumeRolePolicyDocument ?? '') })),
    ).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
  });

  it('makes ImportImage depend on the service role when enforceServiceRole is set', async () => {
    const strict = await startEc2Emulator({ s3: { endpoint: s3.url, ...creds, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, manualClock: true, enforceServiceRole: true });
    try {
      await putDisk('vms/strict/disk1.vmdk');
      const client = ec2('us-east-1', strict.url);
      await expect(client.send(new ImportImageCommand(importInput('vms/strict/disk1.vmdk')))).rejects.toMatchObject({
        name: 'InvalidParameter',
        message: 'The service role vmimport provided does not exist or does not have sufficient permissions',
      });
      const iamStrict = new IAMClient({ region: 'us-east-1', endpoint: strict.url, credentials: creds });
      clients.push(iamStrict);
      await iamStrict.send(
        new PutRolePolicyCommand({
          RoleName: 'vmimport',
          PolicyName: 'vmimport',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] }),
        }),
      );
      expect((await client.send(new ImportImageCommand(importInput('vms/strict/disk1.vmdk')))).Status).toBe('active');
    } finally {
      await strict.stop();
    }
  });
});

describe('with a running clock (waiters)', () => {
  let live: Ec2EmulatorHandle;
  beforeAll(async () => {
    live = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 40 });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it('imports, launches (waitUntilInstanceRunning), exports (waitUntilExportTaskCompleted) and writes a real OVA', async () => {
    const client = ec2('us-west-2', live.url);
    await putDisk('vms/live/disk1.vmdk');
    const { ImportTaskId } = await client.send(new ImportImageCommand(importInput('vms/live/disk1.vmdk')));
    // No SDK waiter exists for import tasks: poll like the connector does.
    let task = await describeTask(client, ImportTaskId ?? '');
    while (task.Status === 'active') {
      await new Promise((r) => setTimeout(r, 20));
      task = await describeTask(client, ImportTaskId ?? '');
    }
    expect(task.Status).toBe('completed');

    const subnet = (await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.1.1.0/24'] }] }))).Subnets?.[0]?.SubnetId;
    const run = await client.send(
      new RunInstancesCommand({ ImageId: task.ImageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1, SubnetId: subnet, PrivateIpAddress: '10.1.1.25' }),
    );
    const instanceId = run.Instances?.[0]?.InstanceId ?? '';
    const running = await waitUntilInstanceRunning({ client, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { InstanceIds: [instanceId] });
    expect(running.state).toBe('SUCCESS');

    const created = await client.send(
      new CreateInstanceExportTaskCommand({
        InstanceId: instanceId,
        TargetEnvironment: 'vmware',
        Description: 'back to vSphere',
        ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: EXPORTS, S3Prefix: 'exports/' },
      }),
    );
    const exportId = created.ExportTask?.ExportTaskId ?? '';
    expect(exportId).toMatch(/^export-i-[0-9a-f]{17}$/);
    await expect(
      client.send(
        new CreateInstanceExportTaskCommand({
          InstanceId: instanceId,
          TargetEnvironment: 'vmware',
          ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: EXPORTS, S3Prefix: 'again/' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'IncorrectState' });
    const done = await waitUntilExportTaskCompleted({ client, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { ExportTaskIds: [exportId] });
    expect(done.state).toBe('SUCCESS');

    const obj = await s3c.send(new GetObjectCommand({ Bucket: EXPORTS, Key: `exports/${exportId}.ova` }));
    const ova = Buffer.from(await obj.Body?.transformToByteArray() ?? []);
    const entries = readTar(ova);
    expect(entries.map((e) => e.name)).toEqual([`${exportId}.ovf`, `${exportId}-disk1.vmdk`]);
    const ovf = entries[0]?.data.toString('utf8') ?? '';
    expect(ovf).toContain(`ovf:href="${exportId}-disk1.vmdk"`);
    expect(ovf).toContain(instanceId);
    expect(entries[1]?.data.subarray(0, 4).toString('latin1')).toBe('KDMV');
  });
});

describe('retention', () => {
  it('drops finished import and export tasks from Describe* after 7 days', async () => {
    const client = ec2();
    const finished = await client.send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['completed'] }] }));
    const oldId = finished.ImportImageTasks?.[0]?.ImportTaskId ?? '';
    expect(oldId).not.toBe('');
    const exportsBefore = (await client.send(new DescribeExportTasksCommand({}))).ExportTasks ?? [];
    expect(exportsBefore.length).toBeGreaterThan(0);

    await lab.emulator.advance(6 * 24 * 3600 * 1000);
    expect((await describeTask(client, oldId)).Status).toBe('completed');
    await lab.emulator.advance(2 * 24 * 3600 * 1000);
    await expect(describeTask(client, oldId)).rejects.toMatchObject({ name: 'InvalidConversionTaskId' });
    const remaining = (await client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(remaining.map((t) => t.Status).filter((s) => s !== 'active')).toEqual([]);
    expect((await client.send(new DescribeExportTasksCommand({}))).ExportTasks ?? []).toEqual([]);
  });
});

/** Minimal ustar reader for the assertions above. */
function readTar(buf: Buffer): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    let sum = 0;
    header.forEach((b, i) => (sum += i >= 148 && i < 156 ? 32 : b));
    expect(parseInt(header.subarray(148, 156).toString('latin1'), 8)).toBe(sum);
    out.push({ name, data: buf.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
