// The round-trip benchmark's OVA: what the lab's VM Export (lab/ec2/ova.ts) writes for an instance whose root volume
// is `sizeGiB` of dense, incompressible data. The volume is a block map over 32 distinct 512 KiB blocks, so the
// writer deflates 256 distinct grains once and the archive is produced as a stream: neither the bench nor its workers
// hold more than a few tens of MiB whatever the size. Deterministic: every process that builds it gets the same bytes.
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BLOCKS_PER_GIB, EBS_BLOCK_SIZE, EbsStore } from '../lab/ec2/ebs-store.ts';
import { exportArtifact } from '../lab/ec2/ova.ts';
import type { Instance } from '../lab/ec2/state.ts';
import { labS3ClientConfig, type S3Handle } from '../lab/s3/index.ts';

const DISTINCT_BLOCKS = 32;
const MTIME_MS = Date.UTC(2026, 11, 1);

export interface BenchOva {
  /** The OVA's bytes in order (a fresh pass each call). */
  chunks(): Iterable<Buffer>;
  /** The OVF descriptor (the archive's first file) and the stream-optimized VMDK after it. */
  descriptor: string;
  diskName: string;
  diskBytes: number;
  ovaBytes: number;
}

/** Pseudo-random (xorshift32) block content: incompressible, so every grain is stored at full size. */
function block(seed: number): Buffer {
  const out = Buffer.alloc(EBS_BLOCK_SIZE);
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length / 4);
  let x = (0x9e3779b9 ^ (seed * 0x85ebca6b)) >>> 0 || 1;
  for (let i = 0; i < words.length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  // Byte order fixed (little-endian), whatever the host's.
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) out.swap32();
  return out;
}

function artifact(sizeGiB: number) {
  const ebs = new EbsStore();
  const keys = Array.from({ length: DISTINCT_BLOCKS }, (_, i) => ebs.retainBlock(block(i)));
  const blocks = new Map<number, string>();
  for (let i = 0; i < sizeGiB * BLOCKS_PER_GIB; i += 1) blocks.set(i, keys[(i * 7 + (i >> 5)) % DISTINCT_BLOCKS]!);
  const snap = ebs.createFromBlocks(
    { region: 'us-east-1', status: 'completed', volumeSizeGiB: sizeGiB, tags: [], encrypted: false, timeoutMinutes: 60, startTime: MTIME_MS },
    blocks,
  );
  // exportArtifact reads the instance's id, type, platform and root volume only.
  const inst = { id: `i-0bench${String(sizeGiB).padStart(9, '0')}`, instanceType: 'm5.large', volumes: [{ snapshotId: snap.id }] } as unknown as Instance;
  const taskId = `export-i-0bench${sizeGiB}g`;
  const out = exportArtifact(ebs, inst, taskId, 'vmdk', true, MTIME_MS);
  if ('error' in out) throw new Error(out.error);
  return { out, diskName: `${taskId}-disk1.vmdk` };
}

const BLOCK = 512;
const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** Builds the OVA's plan (every grain deflated once, sizes known) without producing its bytes yet. */
export function benchOva(sizeGiB: number): BenchOva {
  let planned: ReturnType<typeof artifact> | undefined = artifact(sizeGiB);
  const it = planned.out.chunks[Symbol.iterator]();
  it.next(); // the descriptor's tar header
  const descriptor = (it.next().value as Buffer).toString('utf8');
  const diskBytes = Number(/ovf:size="(\d+)"/.exec(descriptor)?.[1]);
  if (!Number.isSafeInteger(diskBytes)) throw new Error('the OVF descriptor of the bench OVA names no disk size');
  const { diskName } = planned;
  planned = undefined;
  return {
    descriptor,
    diskName,
    diskBytes,
    // tar: header + descriptor, header + disk, two zero blocks at the end.
    ovaBytes: BLOCK + padded(Buffer.byteLength(descriptor)) + BLOCK + padded(diskBytes) + 2 * BLOCK,
    // The plan is made here, when called (StreamVmdkWriter deflates each distinct grain): call it before timing.
    chunks: () => artifact(sizeGiB).out.chunks,
  };
}

/** The VMDK alone (the OVA's second file) out of the OVA's chunks: what a raw upload to the import lease sends. */
export function* vmdkOnly(ova: BenchOva, chunks: Iterable<Buffer>): Generator<Buffer> {
  let skip = BLOCK + padded(Buffer.byteLength(ova.descriptor)) + BLOCK;
  let left = ova.diskBytes;
  for (const chunk of chunks) {
    if (left <= 0) return;
    let c = chunk;
    if (skip > 0) {
      const n = Math.min(skip, c.length);
      skip -= n;
      c = c.subarray(n);
      if (c.length === 0) continue;
    }
    if (c.length > left) c = c.subarray(0, left);
    left -= c.length;
    yield c;
  }
  if (left > 0) throw new Error(`the bench OVA ended ${left} bytes short of its VMDK`);
}

/** Puts the OVA into the lab S3 with the SDK's managed multipart upload, as the lab's VM Export does. */
export async function putBenchOva(s3: Pick<S3Handle, 'url' | 'accessKeyId' | 'secretAccessKey'>, bucket: string, key: string, ova: BenchOva): Promise<void> {
  const client = new S3Client(labS3ClientConfig(s3));
  try {
    await new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: Readable.from(ova.chunks(), { objectMode: false }), ContentType: 'application/x-tar', ContentLength: ova.ovaBytes },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    }).done();
  } finally {
    client.destroy();
  }
}
