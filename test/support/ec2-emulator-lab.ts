// The lab EC2 emulator (with its EBS endpoint) on a manual clock over a lab S3, for the test files that drive it
// only through the real AWS SDK v3 clients: test/integration/ec2-emulator-*.test.ts and ebs-emulator-*.test.ts.
// A test file calls useEc2EmulatorLab() once at its top level; `s3`, `s3c` and `lab` are ES module live bindings,
// set by that file's beforeAll and read by its tests.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { EBSClient, PutSnapshotBlockCommand, StartSnapshotCommand, type StartSnapshotCommandInput } from '@aws-sdk/client-ebs';
import {
  DescribeImportImageTasksCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ImportImageCommand,
  type ImportImageCommandInput,
  type ImportImageTask,
} from '@aws-sdk/client-ec2';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { EBS_BLOCK_SIZE, startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type S3Handle } from '../../lab/s3/index.ts';

export const STAGE = 1000;
export const IMPORTS = 'lab-imports';
export const EXPORTS = 'lab-exports';
export const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };

export let s3: S3Handle;
export let s3c: S3Client;
export let lab: Ec2EmulatorHandle; // manual clock: time moves only with advance()
export const clients: { destroy(): void }[] = [];

/** Starts the lab S3 (with `buckets`) and the manual-clock emulator before the file's tests; stops both after. */
export function useEc2EmulatorLab(buckets: string[]): void {
  beforeAll(async () => {
    s3 = await startS3({ buckets });
    s3c = new S3Client(labS3ClientConfig(s3));
    lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: STAGE, manualClock: true });
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    s3c?.destroy();
    await lab?.stop();
    await s3?.stop();
  });
}

export function ec2(region = 'us-east-1', url = lab.url, maxAttempts?: number): EC2Client {
  const c = new EC2Client({ region, endpoint: url, credentials: creds, ...(maxAttempts ? { maxAttempts } : {}) });
  clients.push(c);
  return c;
}

// ---------- VM Import from S3 ----------

export async function putDisk(key: string, bytes = 64 * 1024): Promise<void> {
  await s3c.send(new PutObjectCommand({ Bucket: IMPORTS, Key: key, Body: randomBytes(bytes) }));
}

export function importInput(key: string, extra: Partial<ImportImageCommandInput> = {}): ImportImageCommandInput {
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

export async function describeTask(client: EC2Client, id: string): Promise<ImportImageTask> {
  const out = await client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [id] }));
  const task = out.ImportImageTasks?.[0];
  if (!task) throw new Error(`task ${id} not returned`);
  return task;
}

/** ImportImage → completed AMI on the manual-clock emulator. */
export async function importedImage(client: EC2Client, key: string): Promise<string> {
  await putDisk(key);
  const { ImportTaskId } = await client.send(new ImportImageCommand(importInput(key)));
  await lab.emulator.advance(6 * STAGE);
  const task = await describeTask(client, ImportTaskId ?? '');
  if (!task.ImageId) throw new Error(`import ${ImportTaskId} did not complete: ${task.Status} ${task.StatusMessage}`);
  return task.ImageId;
}

// ---------- EBS direct APIs and snapshots ----------

export function ebs(opts: { region?: string; maxAttempts?: number } = {}): EBSClient {
  const c = new EBSClient({ region: opts.region ?? 'us-east-1', endpoint: lab.ebsUrl, credentials: creds, ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}) });
  clients.push(c);
  return c;
}

/** A 512 KiB block whose content is derived from `seed`. */
export function block(seed: number): Buffer {
  const b = Buffer.alloc(EBS_BLOCK_SIZE);
  for (let off = 0; off < EBS_BLOCK_SIZE; off += 4) b.writeUInt32LE((seed * 2654435761 + off) >>> 0, off);
  return b;
}

export const b64sha = (data: Buffer) => createHash('sha256').update(data).digest('base64');

export async function put(client: EBSClient, snapshotId: string, index: number, data: Buffer, checksum = b64sha(data)): Promise<void> {
  await client.send(
    new PutSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockData: data, DataLength: data.length, Checksum: checksum, ChecksumAlgorithm: 'SHA256' }),
  );
}

export async function start(client: EBSClient, input: Partial<StartSnapshotCommandInput> = {}): Promise<string> {
  const out = await client.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: randomUUID(), ...input }));
  return out.SnapshotId ?? '';
}

/** SHA-256 (hex) of a volume of `gib` GiB with `blocks` written over zeros. */
export function volumeSha(gib: number, blocks: Map<number, Buffer>): string {
  const h = createHash('sha256');
  const zero = Buffer.alloc(EBS_BLOCK_SIZE);
  for (let i = 0; i < gib * 2048; i++) h.update(blocks.get(i) ?? zero);
  return h.digest('hex');
}

export async function describeSnapshot(id: string) {
  const out = await ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
  return out.Snapshots?.[0];
}
