// A discard-everything S3 endpoint: counts bytes (and hashes them unless told not to), writes nothing, to measure
// streaming throughput without disk I/O. Implements only what uploads need (bucket create/head, PutObject, multipart).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import { CHUNKED_MESSAGE, isChunkedUpload, parseS3Path, readAll, S3_NAMESPACE, sendError, sendXml, xmlEscape } from './http.ts';

export interface SinkPart {
  partNumber: number;
  bytes: number;
  /** Empty when the sink was started with `hash: false`. */
  sha256: string;
}

export interface SinkObjectStats {
  bytes: number;
  /** SHA-256 of the whole object; only for PutObject (multipart parts arrive concurrently, out of order). */
  sha256?: string;
  /**
   * SHA-256 over the parts' binary SHA-256 digests in part order, like S3's COMPOSITE checksums.
   * Recompute it from the source by hashing each partSize chunk.
   */
  compositeSha256: string;
  parts: SinkPart[];
  completedAt: Date;
}

export function compositeSha256(partDigestsHex: string[]): string {
  const h = createHash('sha256');
  for (const d of partDigestsHex) h.update(Buffer.from(d, 'hex'));
  return h.digest('hex');
}

interface OpenUpload {
  bucket: string;
  key: string;
  parts: Map<number, SinkPart>;
}

/** Counts (and optionally hashes) a request body without keeping it. */
function consume(req: IncomingMessage, hashing: boolean): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = hashing ? createHash('sha256') : undefined;
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash?.update(c);
    });
    req.on('end', () => resolve({ bytes, sha256: hash ? hash.digest('hex') : '' }));
    req.on('error', reject);
  });
}

export interface S3Sink {
  server: Server;
  stats(bucket: string, key: string): SinkObjectStats | undefined;
}

export interface S3SinkOptions {
  /** SHA-256 every body (default true); false makes the sink cost only the socket reads, for benchmarks. */
  hash?: boolean;
}

export function createS3Sink(opts: S3SinkOptions = {}): S3Sink {
  const hashing = opts.hash ?? true;
  const buckets = new Set<string>();
  const objects = new Map<string, SinkObjectStats>();
  const uploads = new Map<string, OpenUpload>();
  const id = (bucket: string, key: string) => `${bucket}/${key}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { bucket, key, query } = parseS3Path(req.url);
    const method = req.method ?? 'GET';
    const uploadId = query.get('uploadId');
    const notImplemented = () => {
      req.resume();
      sendError(res, 501, 'NotImplemented', `The lab S3 sink does not implement ${method} ${req.url ?? ''}; it only accepts uploads.`);
    };
    if (bucket === undefined) return notImplemented();
    if ((method === 'PUT' || method === 'POST') && isChunkedUpload(req)) {
      req.resume();
      return sendError(res, 400, 'NotImplemented', CHUNKED_MESSAGE);
    }
    if (key === undefined) {
      if (method === 'PUT' && [...query.keys()].length === 0) {
        req.resume();
        buckets.add(bucket);
        res.writeHead(200, { location: `/${bucket}`, 'content-length': 0 }).end();
        return;
      }
      if (method === 'HEAD') {
        res.writeHead(buckets.has(bucket) ? 200 : 404).end();
        return;
      }
      return notImplemented();
    }
    if (!buckets.has(bucket)) {
      req.resume();
      return sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    }
    const upload = uploadId === null ? undefined : uploads.get(uploadId);
    if (uploadId !== null && (!upload || upload.bucket !== bucket || upload.key !== key)) {
      req.resume();
      return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    }

    if (method === 'PUT' && upload) {
      const partNumber = Number(query.get('partNumber'));
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
        req.resume();
        return sendError(res, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
      }
      const { bytes, sha256 } = await consume(req, hashing);
      upload.parts.set(partNumber, { partNumber, bytes, sha256 });
      res.writeHead(200, { etag: `"${sha256.slice(0, 32) || randomBytes(16).toString('hex')}"`, 'content-length': 0 }).end();
      return;
    }
    if (method === 'PUT' && uploadId === null) {
      if (req.headers['x-amz-copy-source'] !== undefined) return notImplemented();
      const { bytes, sha256 } = await consume(req, hashing);
      objects.set(id(bucket, key), { bytes, sha256, compositeSha256: compositeSha256([sha256]), parts: [{ partNumber: 1, bytes, sha256 }], completedAt: new Date() });
      res.writeHead(200, { etag: `"${sha256.slice(0, 32) || randomBytes(16).toString('hex')}"`, 'content-length': 0 }).end();
      return;
    }
    if (method === 'POST' && query.has('uploads')) {
      req.resume();
      const newId = randomBytes(16).toString('hex');
      uploads.set(newId, { bucket, key, parts: new Map() });
      return sendXml(
        res,
        200,
        `<InitiateMultipartUploadResult xmlns="${S3_NAMESPACE}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${newId}</UploadId></InitiateMultipartUploadResult>`,
      );
    }
    if (method === 'POST' && upload && uploadId !== null) {
      const body = (await readAll(req)).toString('utf8');
      const parser = new XMLParser({ removeNSPrefix: true, isArray: (name) => name === 'Part', parseTagValue: false });
      const doc = parser.parse(body) as { CompleteMultipartUpload?: { Part?: { PartNumber?: string }[] } };
      const numbers = (doc.CompleteMultipartUpload?.Part ?? []).map((p) => Number(p.PartNumber));
      const parts: SinkPart[] = [];
      for (const n of numbers) {
        const part = upload.parts.get(n);
        if (!part) return sendError(res, 400, 'InvalidPart', `Part ${n} was not uploaded.`, { UploadId: uploadId });
        parts.push(part);
      }
      if (parts.length === 0 || numbers.some((n, i) => i > 0 && n <= (numbers[i - 1] ?? 0))) {
        return sendError(res, 400, 'InvalidPartOrder', 'The list of parts was not in ascending order or was empty.');
      }
      const composite = compositeSha256(parts.map((p) => p.sha256));
      objects.set(id(bucket, key), { bytes: parts.reduce((s, p) => s + p.bytes, 0), compositeSha256: composite, parts, completedAt: new Date() });
      uploads.delete(uploadId);
      return sendXml(
        res,
        200,
        `<CompleteMultipartUploadResult xmlns="${S3_NAMESPACE}"><Location>/${xmlEscape(bucket)}/${xmlEscape(key)}</Location>` +
          `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>"${composite.slice(0, 32)}-${parts.length}"</ETag></CompleteMultipartUploadResult>`,
      );
    }
    if (method === 'DELETE' && upload && uploadId !== null) {
      uploads.delete(uploadId);
      res.writeHead(204).end();
      return;
    }
    if (method === 'HEAD' && uploadId === null) {
      const obj = objects.get(id(bucket, key));
      res.writeHead(obj ? 200 : 404, obj ? { 'content-length': obj.bytes } : {}).end();
      return;
    }
    notImplemented();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', `Lab S3 sink failure: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  return { server, stats: (bucket, key) => objects.get(id(bucket, key)) };
}
