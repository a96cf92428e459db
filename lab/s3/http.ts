// Small REST-XML helpers shared by the s3rver shim and the sink.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** s3rver's built-in account (lib/models/account.js), reported as owner and initiator. */
export const S3RVER_OWNER = { id: '123456789000', displayName: 'S3rver' };

export interface S3Request {
  bucket?: string;
  key?: string;
  query: URLSearchParams;
}

/** Path-style addressing only (clients use forcePathStyle). */
export function parseS3Path(rawUrl: string | undefined): S3Request {
  const url = new URL(rawUrl ?? '/', 'http://s3');
  const [, bucket, ...rest] = url.pathname.split('/');
  const key = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  return { bucket: bucket ? decodeURIComponent(bucket) : undefined, key: key === '' ? undefined : key, query: url.searchParams };
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

export function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export function sendXml(res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': requestId(), ...headers });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  sendXml(res, status, `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${requestId()}</RequestId></Error>`);
}

export function readAll(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Streaming SigV4 bodies (aws-chunked) would be stored with their framing: refuse them loudly. */
export function isChunkedUpload(req: IncomingMessage): boolean {
  const sha = req.headers['x-amz-content-sha256'];
  return typeof sha === 'string' && sha.startsWith('STREAMING-');
}

export const CHUNKED_MESSAGE =
  "aws-chunked uploads are not supported by the lab S3. Create the S3 client with requestChecksumCalculation: 'WHEN_REQUIRED' (see labS3ClientConfig).";

/** The access key of a SigV4 request, if signed. */
export function accessKeyOf(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
  return header ?? query.get('X-Amz-Credential')?.split('/')[0];
}
