// The EBS direct APIs on the wire (lab/ec2/ebs.ts serves them): their paths, the REST-JSON error envelope, and how
// a request's numbers, page tokens, block tokens and tags are read, refusing what AWS refuses with its reasons.
import type { IncomingMessage } from 'node:http';
import { readBody } from '../aws-http.ts';
import type { Tag } from './query.ts';

/** An error in the EBS direct APIs' REST-JSON envelope; `code` becomes the SDK exception name. */
export class EbsError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export const invalid = (reason: string, message: string) => new EbsError('ValidationException', 400, message, reason);
export const notFound = (id: string) =>
  new EbsError('ResourceNotFoundException', 404, `The snapshot '${id}' does not exist in this Region.`, 'SNAPSHOT_NOT_FOUND');

export type Route =
  | { action: 'StartSnapshot' }
  | { action: 'PutSnapshotBlock' | 'GetSnapshotBlock'; snapshotId: string; blockIndex: string }
  | { action: 'CompleteSnapshot' | 'ListSnapshotBlocks' | 'ListChangedBlocks'; snapshotId: string };

export function route(method: string, path: string): Route | undefined {
  let parts: string[];
  try {
    parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (parts[0] !== 'snapshots') return undefined;
  if (method === 'POST' && parts.length === 1) return { action: 'StartSnapshot' };
  if (method === 'POST' && parts.length === 3 && parts[1] === 'completion') return { action: 'CompleteSnapshot', snapshotId: parts[2] ?? '' };
  const [, snapshotId = '', kind, blockIndex] = parts;
  if (kind === 'blocks' && parts.length === 4 && (method === 'PUT' || method === 'GET')) {
    return { action: method === 'PUT' ? 'PutSnapshotBlock' : 'GetSnapshotBlock', snapshotId, blockIndex: blockIndex ?? '' };
  }
  if (method === 'GET' && parts.length === 3 && kind === 'blocks') return { action: 'ListSnapshotBlocks', snapshotId };
  if (method === 'GET' && parts.length === 3 && kind === 'changedblocks') return { action: 'ListChangedBlocks', snapshotId };
  return undefined;
}

export function bodyOf(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readBody(req, limit, () => invalid('INVALID_PARAMETER_VALUE', `The request body is larger than ${limit} bytes.`));
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function integer(value: unknown, name: string, min: number, max: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid('INVALID_PARAMETER_VALUE', `${name} must be an integer from ${min} to ${max}; got ${String(value)}.`);
  }
  return n;
}

export function optionalInt(value: string | null | undefined, name: string, min: number, max: number): number | undefined {
  return value === null || value === undefined || value === '' ? undefined : integer(value, name, min, max);
}

/** Opaque page token: the next block index. */
export function pageStart(token: string | null): number | undefined {
  if (token === null || token === '') return undefined;
  const m = /^next:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m) throw invalid('INVALID_PAGE_TOKEN', 'The NextToken is not valid; pass the NextToken of the previous page unchanged.');
  return Number(m[1]);
}

export const pageToken = (next: number) => Buffer.from(`next:${next}`).toString('base64url');

export function blockToken(snapshotId: string, index: number, key: string | undefined): string {
  return Buffer.from(`${snapshotId}/${index}/${(key ?? 'zero').slice(0, 16)}`).toString('base64url');
}

export function readTags(value: unknown): Tag[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('INVALID_TAG', 'Tags must be a list of {Key, Value}.');
  return value.map((t: unknown) => {
    const tag = t as { Key?: unknown; Value?: unknown };
    if (typeof tag.Key !== 'string' || tag.Key === '' || tag.Key.length > 127 || tag.Key.startsWith('aws:')) {
      throw invalid('INVALID_TAG', `Tag keys must be 1-127 characters and must not start with aws:; got ${JSON.stringify(tag.Key)}.`);
    }
    if (tag.Value !== undefined && (typeof tag.Value !== 'string' || tag.Value.length > 255)) {
      throw invalid('INVALID_TAG', `Tag values must be at most 255 characters (tag ${tag.Key}).`);
    }
    return { key: tag.Key, value: typeof tag.Value === 'string' ? tag.Value : '' };
  });
}
