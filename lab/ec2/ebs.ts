// The EBS direct APIs (REST-JSON on their own endpoint, as AWS serves them at ebs.<region>.amazonaws.com):
// StartSnapshot, PutSnapshotBlock, CompleteSnapshot, ListSnapshotBlocks, ListChangedBlocks, GetSnapshotBlock.
// Exercise it only through @aws-sdk/client-ebs. Behaviour and what is uncertain: docs/ec2-emulator.md.
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { applyFault, createAwsServer, sigV4Scope, type AwsReply } from '../aws-http.ts';
import { BLOCKS_PER_GIB, EBS_BLOCK_SIZE, type EbsSnapshot } from './ebs-store.ts';
import { blockToken, bodyOf, EbsError, header, integer, invalid, notFound, optionalInt, pageStart, pageToken, readTags, route, type Route } from './ebs-wire.ts';
import type { Ec2Emulator } from './emulator.ts';

const MAX_JSON = 64 * 1024;
const MAX_VOLUME_GIB = 65_536;
const DEFAULT_TIMEOUT_MINUTES = 60;
const BLOCK_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

const epochSeconds = (ms: number) => ms / 1000;

function startSnapshotView(emu: Ec2Emulator, s: EbsSnapshot): Record<string, unknown> {
  return {
    SnapshotId: s.id,
    OwnerId: emu.accountId,
    Status: s.status,
    StartTime: epochSeconds(s.startTime),
    VolumeSize: s.volumeSizeGiB,
    BlockSize: EBS_BLOCK_SIZE,
    Description: s.description,
    ParentSnapshotId: s.parentId,
    Tags: s.tags.map((t) => ({ Key: t.key, Value: t.value })),
    KmsKeyArn: s.kmsKeyArn,
    SseType: s.encrypted ? (s.kmsKeyArn ? 'sse-kms' : 'sse-ebs') : 'none',
  };
}

type Reply = { status: number; json?: Record<string, unknown>; headers?: Record<string, string | number>; body?: Buffer };

export function createEbsServer(emu: Ec2Emulator): Server {
  const store = emu.ebs;

  function snapshotIn(region: string, id: string): EbsSnapshot {
    const s = store.get(id);
    if (!s || s.region !== region) {
      if (!/^snap-[0-9a-f]{8,17}$/.test(id)) throw invalid('INVALID_SNAPSHOT_ID', `'${id}' is not a snapshot ID (expecting snap-...).`);
      throw notFound(id);
    }
    return s;
  }

  function completedIn(region: string, id: string): EbsSnapshot {
    const s = snapshotIn(region, id);
    if (s.status !== 'completed') {
      throw invalid('INVALID_SNAPSHOT_ID', `The snapshot ${id} is ${s.status}; blocks can be read only from a completed snapshot.`);
    }
    return s;
  }

  function startSnapshot(region: string, input: Record<string, unknown>): Reply {
    const volumeSize = integer(input.VolumeSize, 'VolumeSize (GiB)', 1, MAX_VOLUME_GIB);
    const parentId = typeof input.ParentSnapshotId === 'string' && input.ParentSnapshotId !== '' ? input.ParentSnapshotId : undefined;
    const encrypted = input.Encrypted === true;
    const kmsKeyArn = typeof input.KmsKeyArn === 'string' && input.KmsKeyArn !== '' ? input.KmsKeyArn : undefined;
    const timeout = input.Timeout === undefined ? DEFAULT_TIMEOUT_MINUTES : integer(input.Timeout, 'Timeout (minutes)', 10, 4320);
    const description = typeof input.Description === 'string' && input.Description !== '' ? input.Description : undefined;
    if (description !== undefined && description.length > 255) throw invalid('INVALID_PARAMETER_VALUE', 'Description must be at most 255 characters.');
    const tags = readTags(input.Tags);
    const clientToken = typeof input.ClientToken === 'string' && input.ClientToken !== '' ? input.ClientToken : undefined;
    if (clientToken !== undefined && clientToken.length > 255) throw invalid('INVALID_PARAMETER_VALUE', 'ClientToken must be at most 255 characters.');
    const fingerprint = JSON.stringify([volumeSize, parentId, encrypted, kmsKeyArn, timeout, description, tags]);

    if (clientToken !== undefined) {
      const existing = store.byToken(region, clientToken);
      if (existing) {
        if (existing.fingerprint !== fingerprint) {
          throw new EbsError(
            'ConflictException',
            409,
            `ClientToken '${clientToken}' was already used by StartSnapshot with different parameters (snapshot ${existing.id}); use a new token for a new snapshot.`,
          );
        }
        return { status: 201, json: startSnapshotView(emu, existing) };
      }
    }
    if (parentId !== undefined && encrypted) {
      throw invalid('INVALID_PARAMETER_VALUE', 'ParentSnapshotId and Encrypted cannot be given together: the child takes the parent snapshot\'s encryption.');
    }
    let parent: EbsSnapshot | undefined;
    if (parentId !== undefined) {
      parent = snapshotIn(region, parentId);
      if (parent.status !== 'completed') {
        throw invalid('INVALID_SNAPSHOT_ID', `The parent snapshot ${parentId} is ${parent.status}; a parent must be completed.`);
      }
      if (volumeSize < parent.volumeSizeGiB) {
        throw invalid('INVALID_VOLUME_SIZE', `VolumeSize ${volumeSize} GiB is smaller than the parent snapshot's ${parent.volumeSizeGiB} GiB.`);
      }
    }
    const now = emu.now();
    const snap = store.create({
      region,
      status: 'pending',
      volumeSizeGiB: volumeSize,
      parentId,
      description,
      tags,
      encrypted: encrypted || (parent?.encrypted ?? false),
      kmsKeyArn: kmsKeyArn ?? parent?.kmsKeyArn,
      clientToken,
      fingerprint,
      timeoutMinutes: timeout,
      startTime: now,
    });
    return { status: 201, json: startSnapshotView(emu, snap) };
  }

  async function putSnapshotBlock(region: string, req: IncomingMessage, snapshotId: string, rawIndex: string): Promise<Reply> {
    const snap = snapshotIn(region, snapshotId);
    if (snap.status !== 'pending') {
      throw invalid(
        snap.status === 'error' ? 'WRITE_REQUEST_TIMEOUT' : 'INVALID_SNAPSHOT_ID',
        `The snapshot ${snapshotId} is ${snap.status}; blocks can be written only to a pending snapshot.`,
      );
    }
    const index = integer(rawIndex, 'BlockIndex', 0, Number.MAX_SAFE_INTEGER);
    const blocks = snap.volumeSizeGiB * BLOCKS_PER_GIB;
    if (index >= blocks) {
      throw invalid('INVALID_BLOCK', `BlockIndex ${index} is beyond the ${snap.volumeSizeGiB} GiB volume (block indexes 0-${blocks - 1}).`);
    }
    const dataLength = integer(header(req, 'x-amz-Data-Length'), 'x-amz-Data-Length', 0, Number.MAX_SAFE_INTEGER);
    if (dataLength !== EBS_BLOCK_SIZE) {
      throw invalid('INVALID_PARAMETER_VALUE', `x-amz-Data-Length must be ${EBS_BLOCK_SIZE} (one 512 KiB block); got ${dataLength}.`);
    }
    const algorithm = header(req, 'x-amz-Checksum-Algorithm');
    if (algorithm !== 'SHA256') throw invalid('INVALID_PARAMETER_VALUE', `x-amz-Checksum-Algorithm must be SHA256; got ${algorithm ?? 'nothing'}.`);
    const checksum = header(req, 'x-amz-Checksum');
    if (checksum === undefined || !/^[A-Za-z0-9+/=]{1,64}$/.test(checksum)) {
      throw invalid('INVALID_PARAMETER_VALUE', 'x-amz-Checksum must be the Base64 SHA-256 of the block data.');
    }
    optionalInt(header(req, 'x-amz-Progress'), 'x-amz-Progress', 0, 100);
    const data = await bodyOf(req, EBS_BLOCK_SIZE);
    if (data.length !== dataLength) {
      throw invalid('INVALID_PARAMETER_VALUE', `The block data is ${data.length} bytes but x-amz-Data-Length says ${dataLength}.`);
    }
    // A block equal to stored content with the claimed checksum is verified by comparison (cheaper than hashing).
    const claimed = Buffer.from(checksum, 'base64').toString('hex');
    const known = store.hasBlock(claimed) && store.blockData(claimed).equals(data);
    const digest = known ? Buffer.from(claimed, 'hex') : createHash('sha256').update(data).digest();
    if (digest.toString('base64') !== checksum) {
      throw invalid('INVALID_PARAMETER_VALUE', `x-amz-Checksum ${checksum} does not match the SHA-256 of the block data received for block ${index}; resend the block.`);
    }
    // The snapshot may have been completed or timed out while the body was arriving.
    if (snap.status !== 'pending') throw invalid('INVALID_SNAPSHOT_ID', `The snapshot ${snapshotId} is ${snap.status}; blocks can be written only to a pending snapshot.`);
    store.putBlock(snap, index, data, digest.toString('hex'), emu.now());
    return { status: 201, json: {}, headers: { 'x-amz-Checksum': checksum, 'x-amz-Checksum-Algorithm': 'SHA256' } };
  }

  function completeSnapshot(region: string, req: IncomingMessage, snapshotId: string): Reply {
    const snap = snapshotIn(region, snapshotId);
    const count = integer(header(req, 'x-amz-ChangedBlocksCount'), 'x-amz-ChangedBlocksCount', 0, Number.MAX_SAFE_INTEGER);
    if (snap.status !== 'pending') return { status: 202, json: { Status: snap.status } };
    const aggregate = header(req, 'x-amz-Checksum');
    if (aggregate !== undefined) {
      const algorithm = header(req, 'x-amz-Checksum-Algorithm');
      const method = header(req, 'x-amz-Checksum-Aggregation-Method');
      if (algorithm !== 'SHA256') throw invalid('INVALID_PARAMETER_VALUE', `x-amz-Checksum-Algorithm must be SHA256; got ${algorithm ?? 'nothing'}.`);
      if (method !== 'LINEAR') throw invalid('INVALID_PARAMETER_VALUE', `x-amz-Checksum-Aggregation-Method must be LINEAR; got ${method ?? 'nothing'}.`);
    }
    const written = snap.own.size;
    snap.completedAt = emu.now();
    if (count !== written) {
      snap.status = 'error';
      snap.statusMessage = `CompleteSnapshot said ${count} changed blocks but ${written} distinct blocks were written.`;
    } else if (aggregate !== undefined && !aggregateMatches(snap, aggregate)) {
      snap.status = 'error';
      snap.statusMessage = 'The aggregated checksum given to CompleteSnapshot does not match the blocks written.';
    } else {
      snap.status = 'completed';
    }
    return { status: 202, json: { Status: snap.status } };
  }

  /** LINEAR: SHA-256 over the per-block checksums in block order (either their raw digests or their Base64 text). */
  function aggregateMatches(snap: EbsSnapshot, expected: string): boolean {
    const ordered = [...snap.own.entries()].sort(([a], [b]) => a - b).map(([, key]) => Buffer.from(key, 'hex'));
    const raw = createHash('sha256').update(Buffer.concat(ordered)).digest('base64');
    const text = createHash('sha256').update(ordered.map((d) => d.toString('base64')).join('')).digest('base64');
    return expected === raw || expected === text;
  }

  function page(query: URLSearchParams): { start: number; max: number } {
    const max = optionalInt(query.get('maxResults'), 'MaxResults', 100, 10_000) ?? 10_000;
    const fromToken = pageStart(query.get('pageToken'));
    const starting = optionalInt(query.get('startingBlockIndex'), 'StartingBlockIndex', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    return { start: Math.max(fromToken ?? 0, starting), max };
  }

  function listSnapshotBlocks(region: string, snapshotId: string, query: URLSearchParams): Reply {
    const snap = completedIn(region, snapshotId);
    const { start, max } = page(query);
    const indexes = store.populated(snap).filter((i) => i >= start);
    const shown = indexes.slice(0, max);
    const next = indexes[max];
    return {
      status: 200,
      json: {
        Blocks: shown.map((i) => ({ BlockIndex: i, BlockToken: blockToken(snap.id, i, store.resolve(snap, i)) })),
        ExpiryTime: epochSeconds(emu.now() + BLOCK_TOKEN_TTL_MS),
        VolumeSize: snap.volumeSizeGiB,
        BlockSize: EBS_BLOCK_SIZE,
        NextToken: next === undefined ? undefined : pageToken(next),
      },
    };
  }

  function listChangedBlocks(region: string, secondId: string, query: URLSearchParams): Reply {
    const second = completedIn(region, secondId);
    const firstId = query.get('firstSnapshotId') ?? undefined;
    const first = firstId === undefined || firstId === '' ? undefined : completedIn(region, firstId);
    const { start, max } = page(query);
    let candidates: number[];
    if (!first) candidates = store.populated(second);
    else {
      // Only blocks written below the common ancestor can differ; compare what each side resolves to.
      const a = store.lineage(first);
      const b = store.lineage(second);
      const common = a.find((s) => b.includes(s));
      if (!common) {
        throw invalid('UNRELATED_SNAPSHOTS', `The snapshots ${first.id} and ${second.id} are not of the same lineage (neither has the other, or a common snapshot, as parent).`);
      }
      const touched = new Set<number>();
      for (const s of [...a.slice(0, a.indexOf(common)), ...b.slice(0, b.indexOf(common))]) for (const i of s.own.keys()) touched.add(i);
      candidates = [...touched].filter((i) => store.resolve(first, i) !== store.resolve(second, i)).sort((x, y) => x - y);
    }
    const limit = Math.max(first?.volumeSizeGiB ?? 0, second.volumeSizeGiB) * BLOCKS_PER_GIB;
    const indexes = candidates.filter((i) => i >= start && i < limit);
    const shown = indexes.slice(0, max);
    const next = indexes[max];
    return {
      status: 200,
      json: {
        ChangedBlocks: shown.map((i) => {
          const k1 = first ? store.resolve(first, i) : undefined;
          const k2 = store.resolve(second, i);
          return {
            BlockIndex: i,
            FirstBlockToken: first && k1 !== undefined ? blockToken(first.id, i, k1) : undefined,
            SecondBlockToken: k2 !== undefined ? blockToken(second.id, i, k2) : undefined,
          };
        }),
        ExpiryTime: epochSeconds(emu.now() + BLOCK_TOKEN_TTL_MS),
        VolumeSize: second.volumeSizeGiB,
        BlockSize: EBS_BLOCK_SIZE,
        NextToken: next === undefined ? undefined : pageToken(next),
      },
    };
  }

  function getSnapshotBlock(region: string, snapshotId: string, rawIndex: string, query: URLSearchParams): Reply {
    const snap = completedIn(region, snapshotId);
    const index = integer(rawIndex, 'BlockIndex', 0, Number.MAX_SAFE_INTEGER);
    const key = store.resolve(snap, index);
    const token = query.get('blockToken');
    if (token === null || token === '' || key === undefined || token !== blockToken(snap.id, index, key)) {
      throw invalid('INVALID_BLOCK_TOKEN', `The BlockToken is not valid for block ${index} of ${snap.id}; use a token from ListSnapshotBlocks or ListChangedBlocks of this snapshot.`);
    }
    const data = store.blockData(key);
    return {
      status: 200,
      body: data,
      headers: {
        'content-type': 'application/octet-stream',
        'x-amz-Data-Length': data.length,
        'x-amz-Checksum': Buffer.from(key, 'hex').toString('base64'),
        'x-amz-Checksum-Algorithm': 'SHA256',
      },
    };
  }

  async function dispatch(req: IncomingMessage, r: Route, region: string, query: URLSearchParams): Promise<Reply> {
    switch (r.action) {
      case 'StartSnapshot': {
        const raw = await bodyOf(req, MAX_JSON);
        let input: unknown;
        try {
          input = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
        } catch {
          throw invalid('INVALID_PARAMETER_VALUE', 'The request body is not valid JSON.');
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('INVALID_PARAMETER_VALUE', 'The request body must be a JSON object.');
        return startSnapshot(region, input as Record<string, unknown>);
      }
      case 'PutSnapshotBlock':
        return putSnapshotBlock(region, req, r.snapshotId, r.blockIndex);
      case 'CompleteSnapshot':
        req.resume();
        return completeSnapshot(region, req, r.snapshotId);
      case 'ListSnapshotBlocks':
        return listSnapshotBlocks(region, r.snapshotId, query);
      case 'ListChangedBlocks':
        return listChangedBlocks(region, r.snapshotId, query);
      case 'GetSnapshotBlock':
        return getSnapshotBlock(region, r.snapshotId, r.blockIndex, query);
    }
  }

  const jsonReply = (reply: Reply): AwsReply => ({
    status: reply.status,
    contentType: 'application/json',
    body: reply.body ?? JSON.stringify(reply.json ?? {}),
    ...(reply.headers ? { headers: reply.headers } : {}),
  });

  async function handle(req: IncomingMessage): Promise<AwsReply | undefined> {
    const url = new URL(req.url ?? '/', 'http://ebs');
    try {
      const r = route(req.method ?? 'GET', url.pathname);
      if (!r) throw invalid('INVALID_PARAMETER_VALUE', `${req.method} ${url.pathname} is not an EBS direct API operation.`);
      const region = sigV4Scope(req.headers.authorization)?.region;
      if (region === undefined) {
        throw new EbsError('AccessDeniedException', 403, 'The request is missing a SigV4 Authorization header. Configure credentials (any access key works against the lab emulator).', 'UNAUTHORIZED_ACCOUNT');
      }
      const dropped = applyFault(req, emu.takeFault(r.action), {
        throttle: () => new EbsError('RequestThrottledException', 400, 'The request was throttled; retry with backoff.', 'ACCOUNT_THROTTLED'),
        serverError: () => new EbsError('InternalServerException', 500, 'An internal error has occurred.'),
      });
      if (dropped) return undefined;
      if (!emu.region(region)) {
        throw new EbsError('AccessDeniedException', 403, `The lab EBS endpoint does not serve region '${region}'. Use one of ${emu.regions.join(', ')}.`, 'UNAUTHORIZED_ACCOUNT');
      }
      await emu.tick();
      return jsonReply(await dispatch(req, r, region, url.searchParams));
    } catch (err) {
      const e = err instanceof EbsError ? err : new EbsError('InternalServerException', 500, `Emulator failure: ${(err as Error).message}`);
      return {
        status: e.status,
        contentType: 'application/json',
        body: JSON.stringify({ Message: e.message, message: e.message, Reason: e.reason }),
        headers: { 'x-amzn-errortype': e.code },
      };
    }
  }

  return createAwsServer(handle);
}
