// The emulator's view of S3: what VM Import/Export itself would read and write in the customer's bucket.
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetBucketAclCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface S3Endpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export type HeadResult = { ok: true; size: number } | { ok: false; reason: string };

export interface LabS3Access {
  headObject(bucket: string, key: string): Promise<HeadResult>;
  bucketExists(bucket: string): Promise<boolean>;
  /** Canonical-user grants on the bucket as `ID:PERMISSION`, or undefined when ACLs cannot be read. */
  bucketGrants(bucket: string): Promise<string[] | undefined>;
  putObject(bucket: string, key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes as a stream (VM Import reading a disk image). */
  getObject(bucket: string, key: string): Promise<AsyncIterable<Uint8Array>>;
  /** Writes an object of any size from a stream (multipart), never holding it whole. */
  putStream(bucket: string, key: string, body: Iterable<Buffer> | AsyncIterable<Buffer>, contentType: string): Promise<void>;
  deleteObject(bucket: string, key: string): Promise<void>;
  destroy(): void;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

export function createS3Access(target: S3Endpoint): LabS3Access {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: target.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
    // A stalled S3 must not wedge the emulator: transitions (and requests) wait for these calls.
    requestHandler: { connectionTimeout: 2000, requestTimeout: 15_000 },
  });
  return {
    async headObject(bucket, key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { ok: true, size: head.ContentLength ?? 0 };
      } catch (err) {
        const status = statusOf(err);
        return { ok: false, reason: status === undefined ? `S3 unreachable: ${(err as Error).message}` : `HTTP ${status}` };
      }
    },
    async bucketExists(bucket) {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    },
    async bucketGrants(bucket) {
      try {
        const acl = await client.send(new GetBucketAclCommand({ Bucket: bucket }));
        return (acl.Grants ?? []).filter((g) => g.Grantee?.ID !== undefined).map((g) => `${g.Grantee?.ID}:${g.Permission}`);
      } catch {
        return undefined;
      }
    },
    async putObject(bucket, key, body, contentType) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
    async getObject(bucket, key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!(out.Body instanceof Readable)) throw new Error(`S3 returned no body for s3://${bucket}/${key}`);
      return out.Body;
    },
    async putStream(bucket, key, body, contentType) {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: Readable.from(body, { objectMode: false }), ContentType: contentType },
        partSize: 8 * 1024 * 1024,
        queueSize: 2,
        leavePartsOnError: false,
      });
      await upload.done();
    },
    async deleteObject(bucket, key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    destroy() {
      client.destroy();
    },
  };
}
