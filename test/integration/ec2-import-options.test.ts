// Issue 18 in the EC2 emulator, driven only through the real SDK clients: ImportImage's licence type / usage
// operation, encryption with a KMS key, boot mode and tags, read back from the task, the AMI, its snapshots, the
// instance and its volumes; and every refusal, at the call or as a failed task where AWS documents it so.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  EC2Client,
  ImportImageCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type ImportImageCommandInput,
  type ImportImageTask,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { CompleteSnapshotCommand, EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { LAB_KMS_ALIASES } from '../../lab/ec2/index.ts';
import { clients, creds, ec2, IMPORTS, lab, s3c, STAGE, useEc2EmulatorLab } from '../support/ec2-emulator-lab.ts';

const ACCOUNT = '111122223333';

useEc2EmulatorLab([IMPORTS]);

function kms(region = 'us-east-1'): KMSClient {
  const c = new KMSClient({ region, endpoint: lab.kmsUrl, credentials: creds });
  clients.push(c);
  return c;
}

/** A completed (empty) 1 GiB EBS snapshot written through the EBS direct APIs. */
async function ebsSnapshot(): Promise<string> {
  const ebs = new EBSClient({ region: 'us-east-1', endpoint: lab.ebsUrl, credentials: creds });
  clients.push(ebs);
  const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: randomUUID() }));
  await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 0 }));
  return SnapshotId ?? '';
}

async function keyArn(alias: string, region = 'us-east-1'): Promise<string> {
  return (await kms(region).send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata?.Arn ?? '';
}

/** A fresh disk object and ImportImage input for it. */
async function disk(extra: Partial<ImportImageCommandInput> = {}): Promise<ImportImageCommandInput> {
  const key = `vms/${randomUUID()}/disk1.vmdk`;
  await s3c.send(new PutObjectCommand({ Bucket: IMPORTS, Key: key, Body: randomBytes(64 * 1024) }));
  return { Description: key, Platform: 'Linux', ClientToken: randomUUID(), DiskContainers: [{ Format: 'VMDK', UserBucket: { S3Bucket: IMPORTS, S3Key: key } }], ...extra };
}

async function task(client: EC2Client, id: string): Promise<ImportImageTask> {
  const t = (await client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [id] }))).ImportImageTasks?.[0];
  if (!t) throw new Error(`task ${id} not returned`);
  return t;
}

/** ImportImage, then the clock through every stage; returns the finished task (completed or failed). */
async function runImport(input: ImportImageCommandInput, region = 'us-east-1'): Promise<ImportImageTask> {
  const client = ec2(region);
  const started = await client.send(new ImportImageCommand(input));
  expect(started.Status).toBe('active');
  await lab.emulator.advance(6 * STAGE);
  return task(client, started.ImportTaskId ?? '');
}

async function image(id: string, region = 'us-east-1') {
  const img = (await ec2(region).send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];
  if (!img) throw new Error(`image ${id} not returned`);
  return img;
}

async function subnet(region = 'us-east-1'): Promise<string> {
  const out = await ec2(region).send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['lab-app-a'] }] }));
  return out.Subnets?.[0]?.SubnetId ?? '';
}

async function launch(imageId: string, extra: Partial<RunInstancesCommandInput> = {}, region = 'us-east-1'): Promise<Instance> {
  const out = await ec2(region).send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1, SubnetId: await subnet(region), ...extra }));
  await lab.emulator.advance(STAGE);
  const id = out.Instances?.[0]?.InstanceId ?? '';
  const inst = (await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
  if (!inst) throw new Error(`instance ${id} not returned`);
  return inst;
}

/** The SDK's error name and message of a failing call. */
async function failure(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  throw new Error('expected the call to fail');
}

describe('licence type and usage operation', () => {
  it('BYOL import of a Windows Server VM: the task, the AMI and a dedicated instance carry Windows BYOL (RunInstances:0800)', async () => {
    const done = await runImport(await disk({ Platform: 'Windows', LicenseType: 'BYOL' }));
    expect(done).toMatchObject({ Status: 'completed', Platform: 'Windows', LicenseType: 'BYOL', UsageOperation: 'RunInstances:0800' });
    const ami = await image(done.ImageId ?? '');
    expect(ami).toMatchObject({ Platform: 'windows', PlatformDetails: 'Windows BYOL', UsageOperation: 'RunInstances:0800' });
    const inst = await launch(ami.ImageId ?? '', { Placement: { Tenancy: 'dedicated' } });
    expect(inst).toMatchObject({ PlatformDetails: 'Windows BYOL', UsageOperation: 'RunInstances:0800', Placement: { Tenancy: 'dedicated' }, State: { Name: 'running' } });
    expect(inst.UsageOperationUpdateTime).toBeInstanceOf(Date);
  });

  it('left unset: AWS for Windows Server, BYOL for Windows client and Linux', async () => {
    expect(await runImport(await disk({ Platform: 'Windows' }))).toMatchObject({ LicenseType: 'AWS', UsageOperation: 'RunInstances:0002' });
    const linux = await runImport(await disk({ Platform: 'Linux' }));
    expect(linux).toMatchObject({ LicenseType: 'BYOL', UsageOperation: 'RunInstances' });
    expect(await image(linux.ImageId ?? '')).toMatchObject({ PlatformDetails: 'Linux/UNIX', UsageOperation: 'RunInstances' });
    const input = await disk({ Platform: 'Windows' });
    const stop = lab.emulator.detectGuestOs({ match: new RegExp(String(input.Description)), os: 'windows-client' });
    try {
      const client = await runImport(input);
      expect(client).toMatchObject({ Status: 'completed', LicenseType: 'BYOL', UsageOperation: 'RunInstances:0800' });
      expect((await image(client.ImageId ?? '')).PlatformDetails).toBe('Windows BYOL');
    } finally {
      stop();
    }
  });

  it('UsageOperation blends OS and SQL Server licences; the AMI is billed with it', async () => {
    const done = await runImport(await disk({ Platform: 'Windows', UsageOperation: 'RunInstances:0006' }));
    expect(done).toMatchObject({ Status: 'completed', LicenseType: 'AWS', UsageOperation: 'RunInstances:0006' });
    expect(await image(done.ImageId ?? '')).toMatchObject({ PlatformDetails: 'Windows with SQL Server Standard', UsageOperation: 'RunInstances:0006' });
  });

  it('refused at the call: LicenseType with UsageOperation, an unknown UsageOperation or LicenseType', async () => {
    expect(await failure(ec2().send(new ImportImageCommand(await disk({ LicenseType: 'BYOL', UsageOperation: 'RunInstances:0800' }))))).toEqual({
      name: 'InvalidParameterCombination',
      message: 'Specify either LicenseType or UsageOperation, not both.',
    });
    expect((await failure(ec2().send(new ImportImageCommand(await disk({ UsageOperation: 'RunInstances:9999' }))))).name).toBe('InvalidParameterValue');
    expect((await failure(ec2().send(new ImportImageCommand(await disk({ LicenseType: 'byol-ish' }))))).name).toBe('InvalidParameterValue');
  });

  it('a licence the detected OS does not allow fails the task (not the call), with the reason', async () => {
    const input = await disk({ Platform: 'Windows', LicenseType: 'AWS' });
    const stop = lab.emulator.detectGuestOs({ match: new RegExp(String(input.Description)), os: 'windows-client' });
    try {
      const failed = await runImport(input);
      expect(failed.Status).toBe('deleted');
      expect(failed.StatusMessage).toBe('ClientError: License type AWS is not supported for the detected operating system (Windows client); it supports BYOL only.');
      expect(failed.ImageId).toBeUndefined();
    } finally {
      stop();
    }
    expect((await runImport(await disk({ Platform: 'Linux', LicenseType: 'AWS' }))).StatusMessage).toMatch(/License type AWS is not supported .*\(Linux\)/);
    expect((await runImport(await disk({ Platform: 'Linux', UsageOperation: 'RunInstances:0002' }))).StatusMessage).toMatch(
      /Usage operation RunInstances:0002 \(Windows\) is not supported for the detected operating system \(Linux\)/,
    );
  });
});

describe('encryption with a KMS key', () => {
  it('a custom key (by alias, alias ARN, key id or key ARN) encrypts the AMI snapshots and the instance volumes with that key', async () => {
    const arn = await keyArn(LAB_KMS_ALIASES.usable);
    const keyId = arn.split('/').pop() ?? '';
    for (const ref of [LAB_KMS_ALIASES.usable, `arn:aws:kms:us-east-1:${ACCOUNT}:${LAB_KMS_ALIASES.usable}`, keyId, arn]) {
      const done = await runImport(await disk({ Encrypted: true, KmsKeyId: ref }));
      expect(done, ref).toMatchObject({ Status: 'completed', Encrypted: true, KmsKeyId: arn });
      const ami = await image(done.ImageId ?? '');
      const mapping = ami.BlockDeviceMappings?.[0]?.Ebs;
      expect(mapping?.Encrypted).toBe(true);
      const snap = (await ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: [mapping?.SnapshotId ?? ''] }))).Snapshots?.[0];
      expect(snap).toMatchObject({ Encrypted: true, KmsKeyId: arn, State: 'completed' });
      expect(snap?.Description).toBe(`Created by AWS-VMImport service for ${done.ImportTaskId}`);
    }
    const last = await runImport(await disk({ Encrypted: true, KmsKeyId: arn }));
    const inst = await launch(last.ImageId ?? '');
    const volumes = (await ec2().send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.InstanceId ?? ''] }] }))).Volumes ?? [];
    expect(volumes).toHaveLength(1);
    expect(volumes[0]).toMatchObject({ Encrypted: true, KmsKeyId: arn, State: 'in-use', Attachments: [{ InstanceId: inst.InstanceId, Device: '/dev/sda1' }] });
    const encrypted = (await ec2().send(new DescribeVolumesCommand({ Filters: [{ Name: 'encrypted', Values: ['true'] }] }))).Volumes ?? [];
    expect(encrypted.map((v) => v.VolumeId)).toContain(volumes[0]?.VolumeId);
  });

  it('Encrypted without a key uses the account default, the AWS-managed aws/ebs key; unencrypted imports stay unencrypted', async () => {
    const done = await runImport(await disk({ Encrypted: true }));
    expect(done).toMatchObject({ Status: 'completed', Encrypted: true, KmsKeyId: await keyArn(LAB_KMS_ALIASES.awsEbs) });
    const plain = await runImport(await disk());
    expect(plain.Encrypted).toBe(false);
    expect(plain.KmsKeyId).toBeUndefined();
    const snapId = (await image(plain.ImageId ?? '')).BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
    const snap = (await ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: [snapId] }))).Snapshots?.[0];
    expect(snap?.Encrypted).toBe(false);
    expect(snap?.KmsKeyId).toBeUndefined();
  });

  it('an import of an unencrypted EBS snapshot with Encrypted gives the AMI its own snapshot encrypted with the key', async () => {
    const source = await ebsSnapshot();
    const arn = await keyArn(LAB_KMS_ALIASES.usable);
    const done = await runImport({ Platform: 'Linux', Encrypted: true, KmsKeyId: LAB_KMS_ALIASES.usable, DiskContainers: [{ SnapshotId: source }] });
    expect(done).toMatchObject({ Status: 'completed', Encrypted: true, KmsKeyId: arn });
    const own = (await image(done.ImageId ?? '')).BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
    const snaps = (await ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: [source, own] }))).Snapshots ?? [];
    expect(snaps.find((x) => x.SnapshotId === source)).toMatchObject({ Encrypted: false });
    expect(snaps.find((x) => x.SnapshotId === own)).toMatchObject({ Encrypted: true, KmsKeyId: arn });
  });

  it('KmsKeyId without Encrypted is refused at the call', async () => {
    expect(await failure(ec2().send(new ImportImageCommand(await disk({ KmsKeyId: LAB_KMS_ALIASES.usable }))))).toEqual({
      name: 'InvalidParameterCombination',
      message: 'KmsKeyId can be specified only when Encrypted is true.',
    });
  });

  it('a key EBS cannot use is accepted by the call and fails the task, saying why', async () => {
    const cases: [string, RegExp][] = [
      ['alias/does-not-exist', /^ClientError: The KMS key alias\/does-not-exist was not found in us-east-1\.$/],
      [LAB_KMS_ALIASES.disabled, /^ClientError: The KMS key arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36} is disabled\.$/],
      [LAB_KMS_ALIASES.pendingDeletion, /is pending deletion\.$/],
      [LAB_KMS_ALIASES.asymmetric, /is asymmetric \(RSA_2048\); Amazon EBS supports only symmetric encryption keys\.$/],
      [LAB_KMS_ALIASES.notForVmimport, /^ClientError: The service role vmimport is not allowed to use the KMS key .*; allow it in the key policy/],
      [`arn:aws:kms:us-west-2:${ACCOUNT}:${LAB_KMS_ALIASES.usable}`, /was not found in us-east-1\.$/],
    ];
    for (const [ref, message] of cases) {
      const client = ec2();
      const started = await client.send(new ImportImageCommand(await disk({ Encrypted: true, KmsKeyId: ref })));
      expect(started, ref).toMatchObject({ Status: 'active', Encrypted: true, KmsKeyId: ref });
      await lab.emulator.advance(STAGE);
      const failed = await task(client, started.ImportTaskId ?? '');
      expect(failed.Status, ref).toBe('deleted');
      expect(failed.StatusMessage, ref).toMatch(message);
    }
  });

  it('a key disabled after the import ends the launch: pending → terminated with Client.InvalidKMSKey.InvalidState', async () => {
    const region = 'us-west-2';
    const done = await runImport(await disk({ Encrypted: true, KmsKeyId: LAB_KMS_ALIASES.usable }), region);
    expect(done.Status).toBe('completed');
    await kms(region).send(new DisableKeyCommand({ KeyId: LAB_KMS_ALIASES.usable }));
    const inst = await launch(done.ImageId ?? '', {}, region);
    expect(inst.State?.Name).toBe('terminated');
    expect(inst.StateReason).toEqual({ Code: 'Client.InvalidKMSKey.InvalidState', Message: 'Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state' });
  });

  it('a stopped instance whose key was disabled meanwhile does not start: pending → stopped with the same state reason', async () => {
    const region = 'eu-west-1';
    const done = await runImport(await disk({ Encrypted: true, KmsKeyId: LAB_KMS_ALIASES.usable }), region);
    const inst = await launch(done.ImageId ?? '', {}, region);
    expect(inst.State?.Name).toBe('running');
    const id = inst.InstanceId ?? '';
    await ec2(region).send(new StopInstancesCommand({ InstanceIds: [id] }));
    await lab.emulator.advance(STAGE);
    await kms(region).send(new DisableKeyCommand({ KeyId: LAB_KMS_ALIASES.usable }));
    const started = await ec2(region).send(new StartInstancesCommand({ InstanceIds: [id] }));
    expect(started.StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    await lab.emulator.advance(STAGE);
    const after = (await ec2(region).send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
    expect(after?.State?.Name).toBe('stopped');
    expect(after?.StateReason?.Code).toBe('Client.InvalidKMSKey.InvalidState');
  });

  it('a changed KmsKeyId under the same ClientToken is an idempotency mismatch', async () => {
    const input = await disk({ Encrypted: true, KmsKeyId: LAB_KMS_ALIASES.usable });
    await ec2().send(new ImportImageCommand(input));
    expect((await failure(ec2().send(new ImportImageCommand({ ...input, KmsKeyId: LAB_KMS_ALIASES.awsEbs })))).name).toBe('IdempotentParameterMismatch');
  });
});

describe('boot mode', () => {
  it('DescribeInstanceTypes reports SupportedBootModes: Xen t2 legacy BIOS only, Nitro types UEFI too', async () => {
    const out = await ec2().send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t2.micro', 'm5.large'] }));
    const modes = new Map((out.InstanceTypes ?? []).map((t) => [t.InstanceType, t.SupportedBootModes]));
    expect(modes.get('t2.micro')).toEqual(['legacy-bios']);
    expect(modes.get('m5.large')).toEqual(['legacy-bios', 'uefi']);
    const m5 = out.InstanceTypes?.find((t) => t.InstanceType === 'm5.large');
    expect(m5).toMatchObject({ Hypervisor: 'nitro', VCpuInfo: { DefaultVCpus: 2 }, MemoryInfo: { SizeInMiB: 8192 }, ProcessorInfo: { SupportedArchitectures: ['x86_64'] } });
    const uefi = await ec2().send(new DescribeInstanceTypesCommand({ Filters: [{ Name: 'supported-boot-mode', Values: ['uefi'] }] }));
    const names = (uefi.InstanceTypes ?? []).map((t) => t.InstanceType);
    expect(names).toContain('t3.micro');
    expect(names.some((n) => n?.startsWith('t2.'))).toBe(false);
    expect(await failure(ec2().send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.huge' as never] })))).toEqual({
      name: 'InvalidInstanceType',
      message: 'The following supplied instance types do not exist: [x9.huge]',
    });
  });

  it('a UEFI VM is imported and launched as UEFI; a type without UEFI is refused as EC2 refuses it', async () => {
    const done = await runImport(await disk({ BootMode: 'uefi' }));
    expect(done).toMatchObject({ Status: 'completed', BootMode: 'uefi' });
    expect((await image(done.ImageId ?? '')).BootMode).toBe('uefi');
    expect(await failure(ec2().send(new RunInstancesCommand({ ImageId: done.ImageId, InstanceType: 't2.micro', MinCount: 1, MaxCount: 1, SubnetId: await subnet() })))).toEqual({
      name: 'InvalidParameterValue',
      message:
        'The t2.micro instance type does not support an AMI with a boot mode of UEFI. Only instance types built on the Nitro System support UEFI. Specify an instance type that supports UEFI, and try again.',
    });
    const inst = await launch(done.ImageId ?? '', { InstanceType: 't3.micro' });
    expect(inst).toMatchObject({ BootMode: 'uefi', CurrentInstanceBootMode: 'uefi', State: { Name: 'running' } });
    const bios = await launch((await runImport(await disk({ BootMode: 'legacy-bios' }))).ImageId ?? '', { InstanceType: 't2.micro' });
    expect(bios).toMatchObject({ BootMode: 'legacy-bios', CurrentInstanceBootMode: 'legacy-bios' });
  });

  it('uefi-preferred is not accepted for imports; a UEFI import from an EBS snapshot needs Platform', async () => {
    expect(await failure(ec2().send(new ImportImageCommand(await disk({ BootMode: 'uefi-preferred' }))))).toEqual({
      name: 'InvalidParameterValue',
      message: "The uefi-preferred boot mode isn't supported for importing images. Specify legacy-bios or uefi.",
    });
    const source = await ebsSnapshot();
    expect(await failure(ec2().send(new ImportImageCommand({ BootMode: 'uefi', DiskContainers: [{ SnapshotId: source }] })))).toEqual({
      name: 'MissingParameter',
      message: 'Importing a UEFI VM from an EBS snapshot requires the parameter Platform (Windows | Linux).',
    });
    expect((await runImport({ Platform: 'Linux', BootMode: 'uefi', DiskContainers: [{ SnapshotId: source }] })).BootMode).toBe('uefi');
  });
});

describe('tags', () => {
  it('ImportImage tags only the task; the AMI, snapshots, instance and volumes take tags through CreateTags and RunInstances', async () => {
    const tags = [{ Key: 'CostCenter', Value: 'cc-42' }, { Key: 'vm2ec2:task', Value: 't-18' }];
    const done = await runImport(await disk({ TagSpecifications: [{ ResourceType: 'import-image-task', Tags: tags }] }));
    expect(done.Tags).toEqual(tags);
    const byTag = await ec2().send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'tag:CostCenter', Values: ['cc-42'] }] }));
    expect(byTag.ImportImageTasks?.map((t) => t.ImportTaskId)).toEqual([done.ImportTaskId]);
    const ami = await image(done.ImageId ?? '');
    expect(ami.Tags ?? []).toEqual([]);
    const snapId = ami.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
    expect((await ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: [snapId] }))).Snapshots?.[0]?.Tags ?? []).toEqual([]);

    await ec2().send(new CreateTagsCommand({ Resources: [ami.ImageId ?? '', snapId], Tags: tags }));
    expect((await image(ami.ImageId ?? '')).Tags).toEqual(tags);
    expect((await ec2().send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:CostCenter', Values: ['cc-42'] }] }))).Snapshots?.map((s) => s.SnapshotId)).toEqual([snapId]);

    const inst = await launch(ami.ImageId ?? '', {
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [...tags, { Key: 'Name', Value: 'web-01' }] },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
    expect(inst.Tags).toEqual([...tags, { Key: 'Name', Value: 'web-01' }]);
    const vols = (await ec2().send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:vm2ec2:task', Values: ['t-18'] }] }))).Volumes ?? [];
    expect(vols.map((v) => v.Attachments?.[0]?.InstanceId)).toEqual([inst.InstanceId]);
    expect(vols[0]?.Tags).toEqual(tags);
    await ec2().send(new CreateTagsCommand({ Resources: [vols[0]?.VolumeId ?? ''], Tags: [{ Key: 'Backup', Value: 'daily' }] }));
    expect((await ec2().send(new DescribeVolumesCommand({ VolumeIds: [vols[0]?.VolumeId ?? ''] }))).Volumes?.[0]?.Tags).toContainEqual({ Key: 'Backup', Value: 'daily' });
  });

  it('tags EC2 refuses: a reserved aws: key, a key over 128 characters, a value over 256, more than 50, a resource type the call does not tag', async () => {
    const importWith = async (t: { Key: string; Value: string }[], type = 'import-image-task') =>
      failure(ec2().send(new ImportImageCommand(await disk({ TagSpecifications: [{ ResourceType: type as 'import-image-task', Tags: t }] }))));
    expect(await importWith([{ Key: 'aws:cost', Value: 'x' }])).toEqual({
      name: 'InvalidParameterValue',
      message: "Value ( aws:cost ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use",
    });
    expect((await importWith([{ Key: 'k'.repeat(129), Value: 'x' }])).message).toMatch(/Tag keys must be 1 to 128 characters long/);
    expect((await importWith([{ Key: 'k', Value: 'v'.repeat(257) }])).message).toMatch(/Tag values can be at most 256 characters long/);
    expect((await importWith(Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })))).name).toBe('TagLimitExceeded');
    expect(await importWith([{ Key: 'k', Value: 'v' }], 'image')).toEqual({ name: 'InvalidParameterValue', message: "'image' is not a valid taggable resource type for this operation." });
    const done = await runImport(await disk());
    expect((await failure(ec2().send(new CreateTagsCommand({ Resources: [done.ImageId ?? ''], Tags: [{ Key: 'AWS:x', Value: '' }] })))).name).toBe('InvalidParameterValue');
    expect(
      (await failure(ec2().send(new RunInstancesCommand({ ImageId: done.ImageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1, SubnetId: await subnet(), TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'k', Value: 'v' }] }] })))).message,
    ).toBe("'image' is not a valid taggable resource type for this operation.");
  });
});
