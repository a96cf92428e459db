// The lab S3 (s3rver + shim, and the sink) exercised through the real AWS SDK v3 S3 client.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutBucketAclCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compositeSha256, labS3ClientConfig, startS3, type S3Handle, type S3SinkHandle } from '../../lab/s3/index.ts';

const MIB = 1024 * 1024;
const EXPORT_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';

/** A stream of `total` random bytes in 1 MiB chunks (no known length), plus the digest of what it produced. */
function randomStream(total: number, failAfter?: number) {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let sent = 0;
  const stream = Readable.from(
    (function* () {
      while (sent < total) {
        if (failAfter !== undefined && sent >= failAfter) throw new Error('source disk read failed');
        const chunk = randomBytes(Math.min(MIB, total - sent));
        sent += chunk.length;
        hash.update(chunk);
        chunks.push(chunk);
        yield chunk;
      }
    })(),
  );
  return { stream, digest: () => hash.digest('hex'), data: () => Buffer.concat(chunks) };
}

async function sha256Of(body: AsyncIterable<Uint8Array>): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

describe('lab S3: s3rver behind the shim', () => {
  let s3: S3Handle;
  let client: S3Client;
  const bucket = 'lab-test';

  beforeAll(async () => {
    s3 = await startS3({ buckets: [bucket] });
    client = new S3Client(labS3ClientConfig(s3));
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('streams a multipart upload through lib-storage and reads back the same SHA-256', async () => {
    const source = randomStream(13 * MIB);
    const upload = new Upload({ client, params: { Bucket: bucket, Key: 'vms/disk1.vmdk', Body: source.stream }, partSize: 5 * MIB, queueSize: 2 });
    const parts: number[] = [];
    upload.on('httpUploadProgress', (p) => p.part !== undefined && parts.push(p.part));
    await upload.done();
    expect(new Set(parts).size).toBe(3);

    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'vms/disk1.vmdk' }));
    expect(head.ContentLength).toBe(13 * MIB);
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'vms/disk1.vmdk' }));
    const readBack = await sha256Of(got.Body as AsyncIterable<Uint8Array>);
    expect(readBack).toEqual({ sha256: source.digest(), bytes: 13 * MIB });
  });

  it('lists open multipart uploads and their parts, then aborts', async () => {
    const key = 'vms/open.vmdk';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const part1 = randomBytes(5 * MIB);
    const part2 = randomBytes(1000);
    const e1 = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part1 }));
    const e2 = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: part2 }));

    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'vms/' }));
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, UploadId]]);
    expect(uploads.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);

    const listed = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 5 * MIB, e1.ETag],
      [2, 1000, e2.ETag],
    ]);
    const page = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId, MaxParts: 1 }));
    expect(page.IsTruncated).toBe(true);
    expect(page.Parts?.map((p) => p.PartNumber)).toEqual([1]);

    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
    const after = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(after.Uploads ?? []).toEqual([]);
    await expect(client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }))).rejects.toMatchObject({ name: 'NoSuchUpload' });
    await expect(client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 3, Body: part2 }))).rejects.toMatchObject({
      name: 'NoSuchUpload',
    });
    await expect(client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it('resumes an upload from ListParts and completes it', async () => {
    const key = 'vms/resumed.vmdk';
    const part1 = randomBytes(5 * MIB);
    const part2 = randomBytes(3 * MIB);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part1 }));
    // "Restart": only ListParts tells what is already there.
    const done = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
    const e2 = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: part2 }));
    const parts = [...(done.Parts ?? []).map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })), { PartNumber: 2, ETag: e2.ETag }];
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const expected = createHash('sha256').update(part1).update(part2).digest('hex');
    expect((await sha256Of(got.Body as AsyncIterable<Uint8Array>)).sha256).toBe(expected);
  });

  it('lets lib-storage abort a failed upload and surface the source error', async () => {
    const source = randomStream(12 * MIB, 6 * MIB);
    const upload = new Upload({ client, params: { Bucket: bucket, Key: 'vms/broken.vmdk', Body: source.stream }, partSize: 5 * MIB, queueSize: 1 });
    await expect(upload.done()).rejects.toThrow('source disk read failed');
    const open = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'vms/broken' }));
    expect(open.Uploads ?? []).toEqual([]);
  });

  it('stores and returns bucket ACL grants (export bucket setup)', async () => {
    await client.send(new PutBucketAclCommand({ Bucket: bucket, GrantWrite: `id="${EXPORT_ID}"`, GrantReadACP: `id="${EXPORT_ID}"` }));
    const acl = await client.send(new GetBucketAclCommand({ Bucket: bucket }));
    expect(acl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.ID, g.Permission])).toEqual([
      ['CanonicalUser', EXPORT_ID, 'WRITE'],
      ['CanonicalUser', EXPORT_ID, 'READ_ACP'],
    ]);
    expect(acl.Owner?.ID).toBe('123456789000');

    await client.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
    const reset = await client.send(new GetBucketAclCommand({ Bucket: bucket }));
    expect(reset.Grants?.map((g) => g.Permission)).toEqual(['FULL_CONTROL']);
    await expect(client.send(new GetBucketAclCommand({ Bucket: 'no-such-bucket' }))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('refuses aws-chunked uploads instead of storing the framing', async () => {
    const careless = new S3Client({ ...labS3ClientConfig(s3), requestChecksumCalculation: 'WHEN_SUPPORTED' });
    try {
      const body = Readable.from([randomBytes(64 * 1024)]);
      await expect(
        careless.send(new PutObjectCommand({ Bucket: bucket, Key: 'chunked.bin', Body: body, ContentLength: 64 * 1024 })),
      ).rejects.toThrow(/WHEN_REQUIRED/);
      await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'chunked.bin' }))).rejects.toMatchObject({ name: 'NotFound' });
    } finally {
      careless.destroy();
    }
  });
});

describe('lab S3: sink mode', () => {
  let sink: S3SinkHandle;
  let client: S3Client;

  beforeAll(async () => {
    sink = await startS3({ sink: true });
    client = new S3Client(labS3ClientConfig(sink));
    await client.send(new CreateBucketCommand({ Bucket: 'sink' }));
  });
  afterAll(async () => {
    client?.destroy();
    await sink?.stop();
  });

  it('counts and hashes a concurrent multipart upload without storing it', async () => {
    const total = 12 * MIB + 123;
    const source = randomStream(total);
    await new Upload({ client, params: { Bucket: 'sink', Key: 'big.vmdk', Body: source.stream }, partSize: 5 * MIB, queueSize: 3 }).done();
    const stats = sink.sinkStats('sink', 'big.vmdk');
    const data = source.data();
    const expectedParts = [0, 1, 2].map((i) => createHash('sha256').update(data.subarray(i * 5 * MIB, (i + 1) * 5 * MIB)).digest('hex'));
    expect(stats?.bytes).toBe(total);
    expect(stats?.parts.map((p) => p.bytes)).toEqual([5 * MIB, 5 * MIB, 2 * MIB + 123]);
    expect(stats?.parts.map((p) => p.sha256)).toEqual(expectedParts);
    expect(stats?.compositeSha256).toBe(compositeSha256(expectedParts));
  });

  it('hashes a single PutObject whole', async () => {
    const body = randomBytes(100_000);
    await client.send(new PutObjectCommand({ Bucket: 'sink', Key: 'small.bin', Body: body }));
    expect(sink.sinkStats('sink', 'small.bin')).toMatchObject({ bytes: 100_000, sha256: createHash('sha256').update(body).digest('hex') });
    expect(sink.sinkStats('sink', 'missing')).toBeUndefined();
    await expect(client.send(new GetObjectCommand({ Bucket: 'sink', Key: 'small.bin' }))).rejects.toMatchObject({ name: 'NotImplemented' });
  });
});
