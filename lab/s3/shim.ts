// HTTP shim in front of s3rver 3.7.1: adds the multipart-listing/abort and bucket-ACL operations s3rver
// lacks (405/501 there), by reading s3rver's on-disk state; every other request is proxied unchanged.
//
// s3rver's FilesystemStore keeps an open multipart upload in
//   <dir>/<bucket>/._S3rver_uploads/<uploadId>/{key, metadata, <partNumber>, <partNumber>.md5}
// (`.md5` is written after the part is fully stored) and removes the folder on completion.
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { accessKeyOf, CHUNKED_MESSAGE, isChunkedUpload, parseS3Path, readAll, S3_NAMESPACE, S3RVER_OWNER, sendError, sendXml, xmlEscape } from './http.ts';

export interface Grant {
  type: 'CanonicalUser' | 'Group' | 'AmazonCustomerByEmail';
  id?: string;
  uri?: string;
  email?: string;
  displayName?: string;
  permission: string;
}

const UPLOADS_DIR = '._S3rver_uploads';
const ACL_FILE = '._S3rver_lab-acl.json';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTH_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
const PERMISSIONS = ['FULL_CONTROL', 'WRITE', 'WRITE_ACP', 'READ', 'READ_ACP'];

const ownerGrant = (): Grant => ({ type: 'CanonicalUser', id: S3RVER_OWNER.id, displayName: S3RVER_OWNER.displayName, permission: 'FULL_CONTROL' });
const group = (uri: string, permission: string): Grant => ({ type: 'Group', uri, permission });

function cannedAcl(name: string): Grant[] | undefined {
  const canned: Record<string, Grant[]> = {
    private: [],
    'public-read': [group(ALL_USERS, 'READ')],
    'public-read-write': [group(ALL_USERS, 'READ'), group(ALL_USERS, 'WRITE')],
    'authenticated-read': [group(AUTH_USERS, 'READ')],
    'log-delivery-write': [group(LOG_DELIVERY, 'WRITE'), group(LOG_DELIVERY, 'READ_ACP')],
    'bucket-owner-read': [],
    'bucket-owner-full-control': [],
  };
  const extra = canned[name];
  return extra && [ownerGrant(), ...extra];
}

/** `x-amz-grant-write: id="…", uri="…", emailAddress="…"` */
function headerGrants(req: IncomingMessage): Grant[] {
  const grants: Grant[] = [];
  for (const permission of PERMISSIONS) {
    const value = req.headers[`x-amz-grant-${permission.toLowerCase().replace('_', '-')}`];
    if (typeof value !== 'string') continue;
    for (const m of value.matchAll(/(id|uri|emailAddress)\s*=\s*"([^"]*)"/g)) {
      const [, kind, v] = m;
      if (kind === 'id') grants.push({ type: 'CanonicalUser', id: v, permission });
      else if (kind === 'uri') grants.push({ type: 'Group', uri: v, permission });
      else grants.push({ type: 'AmazonCustomerByEmail', email: v, permission });
    }
  }
  return grants;
}

function bodyGrants(xml: string): Grant[] {
  const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, isArray: (name) => name === 'Grant', parseTagValue: false });
  const doc = parser.parse(xml) as { AccessControlPolicy?: { AccessControlList?: { Grant?: Record<string, unknown>[] } } };
  const grants = doc.AccessControlPolicy?.AccessControlList?.Grant ?? [];
  return grants.map((g) => {
    const grantee = (g.Grantee ?? {}) as Record<string, string | undefined>;
    const permission = String(g.Permission ?? '');
    if (grantee.URI) return { type: 'Group', uri: grantee.URI, permission };
    if (grantee.EmailAddress) return { type: 'AmazonCustomerByEmail', email: grantee.EmailAddress, permission };
    return { type: 'CanonicalUser', id: grantee.ID, displayName: grantee.DisplayName, permission };
  });
}

function grantXml(g: Grant): string {
  const inner =
    g.type === 'Group'
      ? `<URI>${xmlEscape(g.uri ?? '')}</URI>`
      : g.type === 'AmazonCustomerByEmail'
        ? `<EmailAddress>${xmlEscape(g.email ?? '')}</EmailAddress>`
        : `<ID>${xmlEscape(g.id ?? '')}</ID>${g.displayName ? `<DisplayName>${xmlEscape(g.displayName)}</DisplayName>` : ''}`;
  return (
    `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="${g.type}">${inner}</Grantee>` +
    `<Permission>${g.permission}</Permission></Grant>`
  );
}

const owner = () => `<ID>${S3RVER_OWNER.id}</ID><DisplayName>${S3RVER_OWNER.displayName}</DisplayName>`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export type S3Operation =
  | 'CreateBucket'
  | 'HeadBucket'
  | 'ListMultipartUploads'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'Other';

/** `reset`: the connection is destroyed once the request body starts arriving; `slow-down`: 503 SlowDown; `internal-error`: 500; `access-denied`: 403 (a policy that does not allow the call). */
export type S3Fault = 'reset' | 'slow-down' | 'internal-error' | 'access-denied';

/** Failure injection for the shim: the next N requests of an operation get a fault; every request is counted. */
export class S3Faults {
  private readonly pending: { op: S3Operation | '*'; fault: S3Fault; remaining: number }[] = [];
  private readonly received = new Map<S3Operation, number>();
  private answered = 0;

  inject(op: S3Operation | '*', fault: S3Fault, count: number): void {
    if (count > 0) this.pending.push({ op, fault, remaining: count });
  }

  /** Counts the request and consumes a pending fault for it, if any. */
  take(op: S3Operation): S3Fault | undefined {
    this.received.set(op, (this.received.get(op) ?? 0) + 1);
    const entry = this.pending.find((f) => f.op === op || f.op === '*');
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.pending.splice(this.pending.indexOf(entry), 1);
    this.answered += 1;
    return entry.fault;
  }

  calls(op: S3Operation): number {
    return this.received.get(op) ?? 0;
  }

  /** Faults actually answered since start. */
  get injected(): number {
    return this.answered;
  }

  remaining(op?: S3Operation): number {
    return this.pending.filter((f) => op === undefined || f.op === op).reduce((n, f) => n + f.remaining, 0);
  }

  clear(): void {
    this.pending.length = 0;
  }
}

/** The S3 API operation of a path-style request. */
export function s3OperationOf(method: string, key: string | undefined, bucket: string | undefined, query: URLSearchParams): S3Operation {
  if (bucket === undefined) return 'Other';
  if (key === undefined) {
    if (method === 'PUT' && !query.has('acl')) return 'CreateBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'GET' && query.has('uploads')) return 'ListMultipartUploads';
    return 'Other';
  }
  const uploadId = query.has('uploadId');
  switch (method) {
    case 'PUT':
      return uploadId && query.has('partNumber') ? 'UploadPart' : 'PutObject';
    case 'POST':
      return query.has('uploads') ? 'CreateMultipartUpload' : uploadId ? 'CompleteMultipartUpload' : 'Other';
    case 'DELETE':
      return uploadId ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'GET':
      return uploadId ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    default:
      return 'Other';
  }
}

function answerFault(req: IncomingMessage, res: ServerResponse, fault: S3Fault): void {
  if (fault === 'reset') {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    // Mid-body: wait for the first bytes of the payload, then drop the connection without an answer.
    if (hasBody) req.once('data', () => req.socket.destroy());
    else req.socket.destroy();
    return;
  }
  req.resume();
  if (fault === 'slow-down') sendError(res, 503, 'SlowDown', 'Please reduce your request rate.');
  else if (fault === 'access-denied') sendError(res, 403, 'AccessDenied', 'Access Denied');
  else sendError(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
}

export function createS3Shim(directory: string, s3rverPort: number, accessKeyId: string, faults?: S3Faults): Server {
  const bucketDir = (bucket: string) => join(directory, bucket);
  const uploadDir = (bucket: string, uploadId: string) => join(directory, bucket, UPLOADS_DIR, uploadId);

  /** The upload's key, or undefined when it does not exist (aborted, completed or never created). */
  async function uploadKey(bucket: string, uploadId: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) return undefined;
    return readFile(join(uploadDir(bucket, uploadId), 'key'), 'utf8').catch(() => undefined);
  }

  const noSuchUpload = (res: ServerResponse, uploadId: string) =>
    sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
      UploadId: uploadId,
    });
  const noSuchBucket = (res: ServerResponse, bucket: string) =>
    sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });

  async function listUploads(res: ServerResponse, bucket: string, q: URLSearchParams): Promise<void> {
    const prefix = q.get('prefix') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const idMarker = q.get('upload-id-marker') ?? '';
    const max = Math.min(Number(q.get('max-uploads') ?? 1000) || 1000, 1000);
    const ids = await readdir(join(bucketDir(bucket), UPLOADS_DIR)).catch(() => [] as string[]);
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    for (const id of ids) {
      const key = await uploadKey(bucket, id);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const initiated = (await stat(join(uploadDir(bucket, id), 'key'))).mtime;
      uploads.push({ key, id, initiated });
    }
    uploads.sort((a, b) => (a.key === b.key ? a.initiated.getTime() - b.initiated.getTime() : a.key < b.key ? -1 : 1));
    const after = uploads.filter((u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.id > idMarker));
    const page = after.slice(0, max);
    const truncated = after.length > page.length;
    const last = page[page.length - 1];
    sendXml(
      res,
      200,
      `<ListMultipartUploadsResult xmlns="${S3_NAMESPACE}"><Bucket>${xmlEscape(bucket)}</Bucket>` +
        `<KeyMarker>${xmlEscape(keyMarker)}</KeyMarker><UploadIdMarker>${xmlEscape(idMarker)}</UploadIdMarker>` +
        (truncated && last ? `<NextKeyMarker>${xmlEscape(last.key)}</NextKeyMarker><NextUploadIdMarker>${last.id}</NextUploadIdMarker>` : '') +
        `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
        page
          .map(
            (u) =>
              `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiator>${owner()}</Initiator>` +
              `<Owner>${owner()}</Owner><StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
          )
          .join('') +
        `</ListMultipartUploadsResult>`,
    );
  }

  async function listParts(res: ServerResponse, bucket: string, key: string, uploadId: string, q: URLSearchParams): Promise<void> {
    if ((await uploadKey(bucket, uploadId)) !== key) return noSuchUpload(res, uploadId);
    const marker = Number(q.get('part-number-marker') ?? 0) || 0;
    const max = Math.min(Number(q.get('max-parts') ?? 1000) || 1000, 1000);
    const dir = uploadDir(bucket, uploadId);
    const entries = await readdir(dir);
    // Only parts whose .md5 exists are complete; a part still being written is not listed.
    const numbers = entries
      .filter((e) => /^\d+\.md5$/.test(e))
      .map((e) => Number(e.slice(0, -4)))
      .filter((n) => n > marker)
      .sort((a, b) => a - b);
    const page = numbers.slice(0, max);
    const truncated = numbers.length > page.length;
    const parts = await Promise.all(
      page.map(async (n) => {
        const [info, md5] = await Promise.all([stat(join(dir, String(n))), readFile(join(dir, `${n}.md5`), 'utf8')]);
        return `<Part><PartNumber>${n}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified><ETag>"${md5.trim()}"</ETag><Size>${info.size}</Size></Part>`;
      }),
    );
    sendXml(
      res,
      200,
      `<ListPartsResult xmlns="${S3_NAMESPACE}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId>` +
        `<Initiator>${owner()}</Initiator><Owner>${owner()}</Owner><StorageClass>STANDARD</StorageClass>` +
        `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${page[page.length - 1] ?? marker}</NextPartNumberMarker>` +
        `<MaxParts>${max}</MaxParts><IsTruncated>${truncated}</IsTruncated>${parts.join('')}</ListPartsResult>`,
    );
  }

  // Part and complete requests still inside s3rver, per upload folder: s3rver opens its part files asynchronously, so
  // removing the folder under an in-flight part made s3rver throw ENOENT out of its own code (an uncaught exception).
  const writing = new Map<string, number>();
  const retired = new Set<string>();
  const removeWhenIdle = (dir: string): void => {
    if ((writing.get(dir) ?? 0) > 0) return;
    retired.delete(dir);
    // A short grace: a request s3rver is still unwinding after its client dropped may yet open a file there.
    setTimeout(() => void rm(dir, { recursive: true, force: true }).catch(() => undefined), 1_000).unref();
  };

  /** Aborted at once for every client (no key file: NoSuchUpload, not listed); the folder goes once no part is being written. */
  async function abort(res: ServerResponse, bucket: string, key: string, uploadId: string): Promise<void> {
    if ((await uploadKey(bucket, uploadId)) !== key) return noSuchUpload(res, uploadId);
    const dir = uploadDir(bucket, uploadId);
    await rm(join(dir, 'key'), { force: true });
    retired.add(dir);
    removeWhenIdle(dir);
    res.writeHead(204).end();
  }

  async function putAcl(req: IncomingMessage, res: ServerResponse, bucket: string): Promise<void> {
    const body = (await readAll(req)).toString('utf8');
    const canned = req.headers['x-amz-acl'];
    let grants: Grant[] | undefined;
    if (typeof canned === 'string') {
      grants = cannedAcl(canned);
      if (!grants) return sendError(res, 400, 'InvalidArgument', `Unknown canned ACL '${canned}'.`);
    } else if (body.trim().length > 0) grants = bodyGrants(body);
    else grants = headerGrants(req);
    if (grants.some((g) => !PERMISSIONS.includes(g.permission))) return sendError(res, 400, 'MalformedACLError', 'A grant has an unknown Permission.');
    await writeFile(join(bucketDir(bucket), ACL_FILE), JSON.stringify(grants, null, 2));
    res.writeHead(200, { 'content-length': 0 }).end();
  }

  async function getAcl(res: ServerResponse, bucket: string): Promise<void> {
    const stored = await readFile(join(bucketDir(bucket), ACL_FILE), 'utf8').catch(() => undefined);
    const grants = stored === undefined ? [ownerGrant()] : (JSON.parse(stored) as Grant[]);
    sendXml(
      res,
      200,
      `<AccessControlPolicy xmlns="${S3_NAMESPACE}"><Owner>${owner()}</Owner><AccessControlList>${grants.map(grantXml).join('')}</AccessControlList></AccessControlPolicy>`,
    );
  }

  function proxy(req: IncomingMessage, res: ServerResponse): void {
    const upstream = request({ host: '127.0.0.1', port: s3rverPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) sendError(res, 502, 'InternalError', `The lab S3 (s3rver) did not answer: ${err.message}`);
      else res.destroy();
    });
    // A client that drops mid-request (a reset part upload) must not leave s3rver waiting for the rest of the body.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { bucket, key, query } = parseS3Path(req.url);
    const method = req.method ?? 'GET';
    const fault = faults?.take(s3OperationOf(method, key, bucket, query));
    if (fault) return answerFault(req, res, fault);
    if ((method === 'PUT' || method === 'POST') && isChunkedUpload(req)) {
      req.resume();
      return sendError(res, 400, 'NotImplemented', CHUNKED_MESSAGE);
    }
    const uploadId = query.get('uploadId');
    const ours =
      bucket !== undefined &&
      ((key === undefined && (query.has('acl') || (method === 'GET' && query.has('uploads')))) ||
        (key !== undefined && uploadId !== null && ['GET', 'DELETE', 'PUT', 'POST'].includes(method)));
    if (!ours || bucket === undefined) return proxy(req, res);

    const presentedKey = accessKeyOf(req, query);
    if (presentedKey !== undefined && presentedKey !== accessKeyId) {
      req.resume();
      return sendError(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: presentedKey });
    }
    if (!(await exists(bucketDir(bucket)))) {
      req.resume();
      return noSuchBucket(res, bucket);
    }
    if (key === undefined) {
      if (method === 'GET' && query.has('uploads')) return listUploads(res, bucket, query);
      if (method === 'PUT') return putAcl(req, res, bucket);
      if (method === 'GET') return getAcl(res, bucket);
      return proxy(req, res);
    }
    if (uploadId === null) return proxy(req, res);
    if (method === 'GET') return listParts(res, bucket, key, uploadId, query);
    if (method === 'DELETE') return abort(res, bucket, key, uploadId);
    // UploadPart / CompleteMultipartUpload: s3rver would silently recreate an aborted upload's folder.
    if ((await uploadKey(bucket, uploadId)) !== key) {
      req.resume();
      return noSuchUpload(res, uploadId);
    }
    const dir = uploadDir(bucket, uploadId);
    writing.set(dir, (writing.get(dir) ?? 0) + 1);
    res.once('close', () => {
      const left = (writing.get(dir) ?? 1) - 1;
      if (left > 0) writing.set(dir, left);
      else writing.delete(dir);
      if (retired.has(dir)) removeWhenIdle(dir);
    });
    proxy(req, res);
  }

  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', `Lab S3 shim failure: ${(err as Error).message}`);
      else res.destroy();
    });
  });
}
