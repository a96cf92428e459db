// The lab EC2's VM Export writes a real OVA whose disk is the instance's source disk: qemu-img (Debian qemu-utils)
// makes the source stream-optimized VMDK, VM Import reads it, and the exported OVA's VMDK must pass `qemu-img check`
// and hold the same raw content (qemu-img compare, and the SHA-256 of its raw conversion). GNU tar reads the OVA.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, openSync, closeSync, writeSync, ftruncateSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  CreateInstanceExportTaskCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeExportTasksCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  EC2Client,
  ImportImageCommand,
  RunInstancesCommand,
  type ExportTask,
  type ImportImageCommandInput,
  type ImportImageTask,
} from '@aws-sdk/client-ec2';
import { CompleteSnapshotCommand, EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type S3Handle } from '../../lab/s3/index.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const IMPORTS = 'ova-imports';
const EXPORTS = 'ova-exports';
const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };

let s3: S3Handle;
let s3c: S3Client;
let lab: Ec2EmulatorHandle;
let ec2: EC2Client;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ec2-export-ova-'));
  s3 = await startS3({ buckets: [IMPORTS, EXPORTS] });
  s3c = new S3Client(labS3ClientConfig(s3));
  lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 40 });
  ec2 = new EC2Client({ region: 'us-east-1', endpoint: lab.url, credentials: creds });
});

afterAll(async () => {
  ec2?.destroy();
  s3c?.destroy();
  await lab?.stop();
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A sparse raw disk of `bytes` with random data in a few places (start, middle, the last grain), zeros elsewhere. */
function sourceDisk(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, bytes);
    for (const [at, n] of [[0, 3 * MiB], [40 * MiB + 4096, MiB + 512], [bytes - 64 * 1024, 64 * 1024]] as const) {
      writeSync(fd, randomBytes(n), 0, n, at);
    }
  } finally {
    closeSync(fd);
  }
}

/** A sparse source disk of `bytes` (sourceDisk) and the stream-optimized VMDK qemu-img makes of it, named `name`. */
function sourceVmdk(name: string, bytes: number): { raw: string; vmdk: string } {
  const raw = join(dir, `${name}.raw`);
  const vmdk = join(dir, `${name}.vmdk`);
  sourceDisk(raw, bytes);
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk);
  return { raw, vmdk };
}

/** SHA-256 of a file's bytes followed by zeros up to `paddedTo`. */
async function sha256Padded(path: string, paddedTo: number): Promise<string> {
  const h = createHash('sha256');
  let n = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h.update(chunk);
    n += chunk.length;
  }
  const zeros = Buffer.alloc(MiB);
  while (n < paddedTo) {
    const step = Math.min(zeros.length, paddedTo - n);
    h.update(zeros.subarray(0, step));
    n += step;
  }
  return h.digest('hex');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function importDisk(key: string, body: Buffer): Promise<ImportImageTask> {
  await s3c.send(new PutObjectCommand({ Bucket: IMPORTS, Key: key, Body: body }));
  return importImage({ DiskContainers: [{ Format: 'VMDK', UserBucket: { S3Bucket: IMPORTS, S3Key: key } }] });
}

/** ImportImage (a BYOL Linux unless `input` says otherwise), awaited to its end. */
async function importImage(input: Partial<ImportImageCommandInput>): Promise<ImportImageTask> {
  const started = await ec2.send(new ImportImageCommand({ Platform: 'Linux', LicenseType: 'BYOL', ...input }));
  return until(`import ${started.ImportTaskId}`, async () => {
    const t = (await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [started.ImportTaskId ?? ''] }))).ImportImageTasks?.[0];
    return t?.Status === 'active' ? undefined : t;
  });
}

async function launch(imageId: string): Promise<string> {
  const subnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId;
  const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1, SubnetId: subnet }));
  const id = run.Instances?.[0]?.InstanceId ?? '';
  await until(`${id} running`, async () => {
    const state = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
    return state === 'running' ? state : undefined;
  });
  return id;
}

async function exportOva(instanceId: string): Promise<ExportTask> {
  const created = await ec2.send(
    new CreateInstanceExportTaskCommand({
      InstanceId: instanceId,
      TargetEnvironment: 'vmware',
      ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: EXPORTS, S3Prefix: 'exports/' },
    }),
  );
  return until(`export ${created.ExportTask?.ExportTaskId}`, async () => {
    const t = (await ec2.send(new DescribeExportTasksCommand({ ExportTaskIds: [created.ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
    return t?.State === 'active' || t?.State === 'cancelling' ? undefined : t;
  });
}

describe('VM Export of an imported instance', () => {
  it("writes an OVA (descriptor first) whose stream-optimized VMDK passes qemu-img check and holds the source disk's content", async () => {
    // 96 MiB + 1 sector: not a whole GiB, so the volume (and the exported disk) is the capacity rounded up to 1 GiB.
    const capacity = 96 * MiB + 512;
    const { raw, vmdk } = sourceVmdk('source', capacity);

    const imported = await importDisk('vms/round-trip/disk-1.vmdk', readFileSync(vmdk));
    expect([imported.Status, imported.StatusMessage]).toEqual(['completed', undefined]);
    const instanceId = await launch(imported.ImageId ?? '');
    const volumes = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }))).Volumes;
    expect(volumes?.map((v) => v.Size)).toEqual([1]);

    const done = await exportOva(instanceId);
    expect([done.State, done.StatusMessage]).toEqual(['completed', undefined]);
    const ova = join(dir, 'export.ova');
    const obj = await s3c.send(new GetObjectCommand({ Bucket: EXPORTS, Key: done.ExportToS3Task?.S3Key }));
    await pipeline(obj.Body as Readable, createWriteStream(ova));

    const id = done.ExportTaskId ?? '';
    const listed = execFileSync('tar', ['-tvf', ova], { encoding: 'utf8' }).trim().split('\n');
    expect(listed.map((l) => l.split(/\s+/).at(-1))).toEqual([`${id}.ovf`, `${id}-disk1.vmdk`]);
    execFileSync('tar', ['-xf', ova, '-C', dir]);
    const ovf = readFileSync(join(dir, `${id}.ovf`), 'utf8');
    const disk = join(dir, `${id}-disk1.vmdk`);
    const diskBytes = readFileSync(disk).length;
    expect(ovf).toContain(`ovf:href="${id}-disk1.vmdk"`);
    expect(ovf).toContain(`ovf:size="${diskBytes}"`);
    expect(ovf).toContain(`ovf:capacity="${GiB}"`);
    expect(ovf).toContain(instanceId);

    const info = JSON.parse(qemuImg('info', '--output=json', disk)) as { format: string; 'virtual-size': number; 'format-specific'?: { data?: { 'create-type'?: string } } };
    expect([info.format, info['virtual-size'], info['format-specific']?.data?.['create-type']]).toEqual(['vmdk', GiB, 'streamOptimized']);
    expect(qemuImg('check', disk)).toMatch(/No errors were found/);
    // Sparse: only the source's data grains are stored, compressed (random data does not shrink).
    expect(diskBytes).toBeLessThan(8 * MiB);
    // Non-strict compare: the same bytes over the source's size, and zeros in the exported disk past it.
    expect(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, disk)).toMatch(/Images are identical/);
    const back = join(dir, 'export.raw');
    qemuImg('convert', '-f', 'vmdk', '-O', 'raw', disk, back);
    expect(await sha256Padded(back, GiB)).toBe(await sha256Padded(raw, GiB));
  });

  it('fails the import of a damaged VMDK, and an export whose AMI snapshot was deleted, each saying why', async () => {
    const { vmdk } = sourceVmdk('small', 64 * MiB);
    const whole = readFileSync(vmdk);

    // Cut inside the first grain record (after the 64 KiB header area qemu-img writes).
    const cut = await importDisk('vms/damaged/disk-1.vmdk', whole.subarray(0, 64 * 1024 + 4096));
    expect(cut.Status).toBe('deleted');
    expect(cut.StatusMessage).toMatch(/^ClientError: Disk validation failed \[Unsupported VMDK File Format: .*ends inside/);

    const ok = await importDisk('vms/small/disk-1.vmdk', whole);
    expect([ok.Status, ok.StatusMessage]).toEqual(['completed', undefined]);
    const instanceId = await launch(ok.ImageId ?? '');
    await ec2.send(new DeregisterImageCommand({ ImageId: ok.ImageId }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: ok.SnapshotDetails?.[0]?.SnapshotId }));
    const failed = await exportOva(instanceId);
    expect(failed.State).toBe('cancelled');
    expect(failed.StatusMessage).toMatch(/snapshot .* no longer exists\. Create an AMI from the instance and export that/);
  });
});

describe("VM Export's documented refusals (user guide, \"Considerations for instance export\")", () => {
  /** What CreateInstanceExportTask answers for an instance launched from the image `input` imports. */
  async function refusalFor(input: Partial<ImportImageCommandInput>): Promise<{ instanceId: string; name?: string; message?: string }> {
    const imported = await importImage(input);
    expect([imported.Status, imported.StatusMessage]).toEqual(['completed', undefined]);
    const instanceId = await launch(imported.ImageId ?? '');
    try {
      await exportOva(instanceId);
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      expect(e.$metadata?.httpStatusCode).toBe(400);
      return { instanceId, name: e.name, message: e.message };
    }
    throw new Error(`the export of ${instanceId} was accepted`);
  }

  it('refuses encrypted volumes, more than one disk, a volume over 1 TiB and licence-included Windows with NotExportable, starting no task', async () => {
    const { vmdk } = sourceVmdk('refused', 8 * MiB);
    const body = readFileSync(vmdk);
    await Promise.all(['refused/disk-1.vmdk', 'refused/disk-2.vmdk'].map((Key) => s3c.send(new PutObjectCommand({ Bucket: IMPORTS, Key, Body: body }))));
    const disk = (key: string) => ({ Format: 'VMDK', UserBucket: { S3Bucket: IMPORTS, S3Key: key } });
    // A 1,025 GiB disk without data: an EBS direct APIs snapshot that VM Import takes as the disk.
    const ebs = new EBSClient({ region: 'us-east-1', endpoint: lab.ebsUrl, credentials: creds });
    const big = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1025, ClientToken: randomBytes(8).toString('hex') }))).SnapshotId ?? '';
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: big, ChangedBlocksCount: 0 }));
    ebs.destroy();
    const before = (await ec2.send(new DescribeExportTasksCommand({}))).ExportTasks?.length ?? 0;

    const [encrypted, twoDisks, tooBig, windows, byol] = await Promise.all([
      refusalFor({ Encrypted: true, DiskContainers: [disk('refused/disk-1.vmdk')] }),
      refusalFor({ DiskContainers: [disk('refused/disk-1.vmdk'), disk('refused/disk-2.vmdk')] }),
      refusalFor({ DiskContainers: [{ SnapshotId: big }] }),
      // Left unset, a Windows Server import is licence-included (AWS): AWS-provided software.
      refusalFor({ Platform: 'Windows', LicenseType: undefined, DiskContainers: [disk('refused/disk-1.vmdk')] }),
      // The same Windows Server with its own licence (BYOL) is exportable.
      importImage({ Platform: 'Windows', LicenseType: 'BYOL', DiskContainers: [disk('refused/disk-1.vmdk')] }).then(async (t) => exportOva(await launch(t.ImageId ?? ''))),
    ]);
    expect(encrypted).toEqual({
      instanceId: encrypted.instanceId,
      name: 'NotExportable',
      message: expect.stringMatching(/^Instance i-\w+ has encrypted EBS volumes \(vol-\w+\)\. VM Export cannot export an instance with encrypted EBS volumes or snapshots\.$/),
    });
    expect(twoDisks).toMatchObject({ name: 'NotExportable', message: `Instance ${twoDisks.instanceId} has 2 EBS volumes (/dev/sda1, /dev/sdb). VM Export can export an instance with one virtual disk only.` });
    expect(tooBig).toMatchObject({ name: 'NotExportable', message: expect.stringMatching(/^Volume vol-\w+ of instance i-\w+ is 1025 GiB\. VM Export supports volumes up to 1 TiB\.$/) });
    expect(windows).toMatchObject({
      name: 'NotExportable',
      message: `Instance ${windows.instanceId} contains software provided by AWS (Windows, usage operation RunInstances:0002). VM Export cannot export it.`,
    });
    expect([byol.State, byol.StatusMessage]).toEqual(['completed', undefined]);
    // Refused at the call: no export task exists for any of them (only the BYOL one's).
    const after = (await ec2.send(new DescribeExportTasksCommand({}))).ExportTasks ?? [];
    expect(after).toHaveLength(before + 1);
    const refused = new Set([encrypted, twoDisks, tooBig, windows].map((r) => r.instanceId));
    expect(after.filter((t) => refused.has(t.InstanceExportDetails?.InstanceId ?? ''))).toEqual([]);
  });
});
