// Request plumbing the lab's AWS endpoints share (EC2/IAM/STS Query, KMS JSON 1.1, EBS direct REST-JSON): the SigV4
// credential scope, bounded body reads, injected faults and one answer per request under its request id. Each
// service keeps its own routing and error envelope.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** An error answered in its service's error envelope; `code` becomes the SDK exception name. */
export class AwsServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export type InjectedFault = 'throttle' | 'server-error' | 'reset';

export interface SigV4Scope {
  accessKeyId: string;
  region: string;
  service: string;
}

export interface AwsReply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string | number>;
}

/** `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request, …` (the signature is not verified). */
export function sigV4Scope(authorization: string | undefined): SigV4Scope | undefined {
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return m ? { accessKeyId: m[1] ?? '', region: m[2] ?? '', service: m[3] ?? '' } : undefined;
}

/** The whole body; past `limit` bytes rejects once with the service's own error and discards the rest. */
export function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

/**
 * Applies a fault the test injected: `reset` drops the connection without an answer (mid-body when the body is still
 * coming) and returns true; throttle and server-error throw the service's own error.
 */
export function applyFault(req: IncomingMessage, fault: InjectedFault | undefined, errors: { throttle: () => Error; serverError: () => Error }): boolean {
  if (fault === 'throttle') throw errors.throttle();
  if (fault === 'server-error') throw errors.serverError();
  if (fault !== 'reset') return false;
  const bodyComing = !req.complete && (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined);
  if (bodyComing) req.once('data', () => req.socket.destroy());
  else req.socket.destroy();
  return true;
}

function send(res: ServerResponse, requestId: string, reply: AwsReply): void {
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'x-amzn-requestid': requestId,
    ...reply.headers,
    'content-length': Buffer.byteLength(reply.body),
  });
  res.end(reply.body);
}

/**
 * An endpoint: every request gets an id and exactly one answer, `handle`'s (undefined: it dropped the connection).
 * `handle` answers its own errors in its service's envelope; anything it lets through is a bare 500.
 */
export function createAwsServer(handle: (req: IncomingMessage, requestId: string) => Promise<AwsReply | undefined>): Server {
  return createServer((req, res) => {
    const requestId = randomUUID();
    handle(req, requestId).then(
      // A body left unread (refused early) is discarded by Node once the answer is sent; the connection stays usable.
      (reply) => reply && send(res, requestId, reply),
      (err: unknown) => {
        if (!res.headersSent) send(res, requestId, { status: 500, contentType: 'text/plain', body: `Emulator failure: ${(err as Error).message}` });
      },
    );
  });
}
