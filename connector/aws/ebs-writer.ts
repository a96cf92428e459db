// Writes blocks into an EBS snapshot with the EBS direct APIs (StartSnapshot, PutSnapshotBlock, CompleteSnapshot):
// 512 KiB blocks with base64 SHA-256 checksums, a bounded number in flight, an idempotent ClientToken per snapshot.
// Throttling (RequestThrottledException), 5xx and network errors are retried by the SDK's standard retry strategy.
import { createHash } from 'node:crypto';
import {
  CompleteSnapshotCommand,
  EBSClient,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { EBS_BLOCK_BYTES } from '../engine/warm/types.ts';

const GiB = 1024 ** 3;

export interface EbsClientConfig {
  region: string;
  /** The EBS direct API endpoint (lab: the emulator's ebsUrl); default AWS's. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Tries per request, the first included (SDK standard retry: throttling, 5xx, network); default 6. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
}

export function createEbsClient(c: EbsClientConfig): EBSClient {
  return new EBSClient({
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.credentials ? { credentials: c.credentials } : {}),
    retryMode: 'standard',
    maxAttempts: c.maxAttempts ?? 6,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: c.requestTimeoutMs ?? 60_000 },
  });
}

/** EBS sizes volumes in whole GiB. */
export function volumeSizeGiB(capacityBytes: number): number {
  return Math.max(1, Math.ceil(capacityBytes / GiB));
}

export function blockChecksum(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}

export interface StartedSnapshot {
  snapshotId: string;
  status: string;
}

export async function startEbsSnapshot(
  ebs: EBSClient,
  req: {
    capacityBytes: number;
    parentSnapshotId?: string;
    clientToken: string;
    tags?: { Key: string; Value: string }[];
    description?: string;
    /** A chain's first snapshot only (a child takes its parent's encryption); without kmsKeyArn the account's EBS default key. */
    encrypted?: boolean;
    kmsKeyArn?: string;
    /** Minutes without a write or completion before EBS cancels the snapshot; default 60. */
    timeoutMinutes?: number;
  },
  signal?: AbortSignal,
): Promise<StartedSnapshot> {
  const r = await ebs.send(
    new StartSnapshotCommand({
      VolumeSize: volumeSizeGiB(req.capacityBytes),
      ...(req.parentSnapshotId ? { ParentSnapshotId: req.parentSnapshotId } : {}),
      ClientToken: req.clientToken,
      ...(req.tags?.length ? { Tags: req.tags } : {}),
      ...(req.description ? { Description: req.description } : {}),
      ...(req.encrypted ? { Encrypted: true, ...(req.kmsKeyArn ? { KmsKeyArn: req.kmsKeyArn } : {}) } : {}),
      Timeout: req.timeoutMinutes ?? 60,
    }),
    signal ? { abortSignal: signal } : {},
  );
  if (!r.SnapshotId) throw new Error('EBS answered StartSnapshot without a snapshot id');
  return { snapshotId: r.SnapshotId, status: r.Status ?? 'pending' };
}

/** One 512 KiB block; a shorter buffer (the end of a disk) is padded with zeros, as EBS takes whole blocks only. */
export async function putEbsBlock(
  ebs: EBSClient,
  snapshotId: string,
  blockIndex: number,
  data: Buffer,
  opts: { progress?: number; signal?: AbortSignal } = {},
): Promise<void> {
  let block = data;
  if (block.length !== EBS_BLOCK_BYTES) {
    if (block.length > EBS_BLOCK_BYTES) throw new Error(`An EBS block is ${EBS_BLOCK_BYTES} bytes, not ${block.length}`);
    block = Buffer.alloc(EBS_BLOCK_BYTES);
    data.copy(block);
  }
  await ebs.send(
    new PutSnapshotBlockCommand({
      SnapshotId: snapshotId,
      BlockIndex: blockIndex,
      BlockData: block,
      DataLength: EBS_BLOCK_BYTES,
      Checksum: blockChecksum(block),
      ChecksumAlgorithm: 'SHA256',
      ...(opts.progress !== undefined ? { Progress: Math.max(0, Math.min(100, Math.floor(opts.progress))) } : {}),
    }),
    opts.signal ? { abortSignal: opts.signal } : {},
  );
}

/**
 * Seals the snapshot. `changedBlocks` is the number of distinct blocks written to it (EBS puts a snapshot whose count
 * disagrees in `error`). A snapshot completed before (a resume after a crash between completion and its checkpoint)
 * is recognised: EBS serves block lists only for completed snapshots.
 */
export async function completeEbsSnapshot(ebs: EBSClient, snapshotId: string, changedBlocks: number, signal?: AbortSignal): Promise<string> {
  const o = signal ? { abortSignal: signal } : {};
  try {
    const r = await ebs.send(new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: changedBlocks }), o);
    if (r.Status === 'error') {
      throw new Error(`EBS put snapshot ${snapshotId} in error at completion (it was sent ${changedBlocks} blocks); the next cycle sends it again`);
    }
    return r.Status ?? 'pending';
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    if (name !== 'ValidationException' && name !== 'ConflictException') throw err;
    const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 100 }), o).then(
      () => true,
      () => false,
    );
    if (listed) return 'completed';
    throw err;
  }
}

/**
 * Runs `work` for each item with at most `concurrency` in flight, in ascending order of start; stops starting new
 * work at the first failure and rejects with it once the running ones settled.
 */
export async function boundedEach<T>(items: Iterable<T>, concurrency: number, work: (item: T, lane: number) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let failure: { err: unknown } | undefined;
  const lane = async (n: number): Promise<void> => {
    for (;;) {
      if (failure) return;
      const next = it.next();
      if (next.done) return;
      try {
        await work(next.value, n);
      } catch (err) {
        failure ??= { err };
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, (_, n) => lane(n)));
  if (failure) throw failure.err;
}
