// The EC2 emulator's imports must give back every S3 connection they open, whatever the disk's format: an import that
// reads only a disk's header used to leave the rest of the GetObject body unread, holding one pooled socket each. After
// 50 imports (the SDK's pool size) the emulator's S3 calls waited for a socket for ever, and the lab S3 could not stop.
import { randomBytes, randomUUID } from 'node:crypto';
import { DescribeImportImageTasksCommand, EC2Client, ImportImageCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type LabS3Handle } from '../../lab/s3/index.ts';

const STAGE = 1000;
const BUCKET = 'lab-imports';
const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };

let s3: LabS3Handle;
let s3Stopped = false;
let s3c: S3Client;
let lab: Ec2EmulatorHandle;
let ec2: EC2Client;

beforeAll(async () => {
  s3 = await startS3({ buckets: [BUCKET] });
  s3c = new S3Client(labS3ClientConfig(s3));
  lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: STAGE, manualClock: true });
  ec2 = new EC2Client({ region: 'us-east-1', endpoint: lab.url, credentials: creds, maxAttempts: 1, requestHandler: { requestTimeout: 10_000, throwOnRequestTimeout: true } });
});

afterAll(async () => {
  ec2?.destroy();
  s3c?.destroy();
  await lab?.stop();
  if (!s3Stopped) await s3?.stop();
});

describe('EC2 emulator imports and the S3 connection pool', () => {
  it('60 imports of a disk the emulator reads only the header of: each one completes, none waits for a socket', { timeout: 120_000 }, async () => {
    // Not a stream-optimized VMDK: the emulator stops reading after its header. 2 MiB outlasts the socket buffers,
    // so an unread rest keeps s3rver's response (and the client's socket) busy.
    await s3c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'disk.vmdk', Body: randomBytes(2 * 1024 * 1024) }));
    for (let i = 0; i < 60; i += 1) {
      const { ImportTaskId } = await ec2.send(
        new ImportImageCommand({
          Platform: 'Linux',
          LicenseType: 'BYOL',
          RoleName: 'vmimport',
          ClientToken: randomUUID(),
          DiskContainers: [{ Format: 'VMDK', UserBucket: { S3Bucket: BUCKET, S3Key: 'disk.vmdk' } }],
        }),
      );
      await lab.emulator.advance(6 * STAGE);
      const task = (await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [ImportTaskId ?? ''] }))).ImportImageTasks?.[0];
      expect(task?.Status, `import ${i + 1}: ${task?.StatusMessage ?? ''}`).toBe('completed');
    }
    // And the lab S3 stops: no response of it is left half-read.
    s3Stopped = true;
    const stopped = await Promise.race([s3.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('hung'), 10_000).unref())]);
    expect(stopped).toBe('stopped');
  });
});
