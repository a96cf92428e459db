// AWS fault suite (issue 7), S3: SlowDown and 500s from the lab S3 a few at a time and beyond the retry budget, a
// clean-up S3 keeps refusing, AccessDenied on the upload, and connections dropped in the middle of UploadPart bodies.
// The lab, helpers and tally, and what "clean" means: test/support/aws-faults-lab.ts.
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { AWS_CALL_ROUNDS } from '../../connector/engine/engine.ts';
import type { S3Operation } from '../../lab/s3/index.ts';
import {
  buildEngine,
  expectCleanFailure,
  expectCleanSuccess,
  finished,
  importTasksOf,
  instancesOf,
  main,
  s3,
  S3_ATTEMPTS,
  s3Client,
  stagedObjects,
  submit,
  useAwsFaultsLab,
  VMS,
} from '../support/aws-faults-lab.ts';
import { decodeStreamOptimizedVmdk } from '../support/vmdk.ts';
import { expectedRawSha256 } from '../support/lab-disk-content.ts';
import { REGION } from '../integration/engine-helpers.ts';

let failedWithMessage = 0;
useAwsFaultsLab('aws-faults-s3', () => ({ failedWithMessage }));

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
