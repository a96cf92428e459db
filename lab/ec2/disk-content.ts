// What an imported disk holds, from the S3 object VM Import converted to the export VM Export writes: the object is
// read once while the task is `converting` (as VM Import does; the staging copy may be deleted right after) into the
// EBS store's deduplicated 512 KiB blocks, and an instance's volume is read back from its snapshot's blocks.
import { BLOCKS_PER_GIB, EBS_BLOCK_SIZE, type EbsSnapshot, type EbsStore } from './ebs-store.ts';
import { GRAIN_BYTES, readStreamVmdk, type VmdkSource } from './vmdk-stream.ts';
import type { Core, ImportDisk } from './state.ts';

const GIB = 1024 ** 3;
const ZERO_BLOCK = Buffer.alloc(EBS_BLOCK_SIZE);

/** A converted disk: its capacity and block map (references owned until a snapshot takes them). */
export interface ConvertedDisk {
  capacityBytes: number;
  blocks: Map<number, string>;
}

/** Assembles grains into 512 KiB blocks (zeros are left out) as references in the EBS store. */
class BlockAssembler {
  readonly blocks = new Map<number, string>();
  private index = -1;
  private buf = Buffer.alloc(EBS_BLOCK_SIZE);
  private dirty = false;

  constructor(private readonly ebs: EbsStore) {}

  write(offset: number, data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      const at = offset + pos;
      const index = Math.floor(at / EBS_BLOCK_SIZE);
      if (index !== this.index) this.open(index);
      const within = at % EBS_BLOCK_SIZE;
      const n = Math.min(data.length - pos, EBS_BLOCK_SIZE - within);
      data.copy(this.buf, within, pos, pos + n);
      this.dirty = true;
      pos += n;
    }
  }

  private open(index: number): void {
    this.flush();
    this.index = index;
    this.buf = Buffer.alloc(EBS_BLOCK_SIZE);
    // A block met again (grains out of order): start from what it already holds.
    const held = this.blocks.get(index);
    if (held !== undefined) {
      this.ebs.blockData(held).copy(this.buf);
      this.blocks.delete(index);
      this.ebs.releaseBlock(held);
    }
  }

  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    if (!this.buf.equals(ZERO_BLOCK)) this.blocks.set(this.index, this.ebs.retainBlock(this.buf));
  }

  release(): void {
    for (const key of this.blocks.values()) this.ebs.releaseBlock(key);
    this.blocks.clear();
  }
}

export class DiskImageError extends Error {}

/**
 * Reads a disk's S3 object into blocks. A stream-optimized VMDK or a RAW image is read; an object in another format
 * (or not a disk image at all) returns undefined: the lab keeps no content for it and its volume reads as zeros.
 */
export async function convertDisk(core: Core, disk: ImportDisk): Promise<ConvertedDisk | undefined> {
  if (disk.bucket === undefined || disk.key === undefined) return undefined;
  if (disk.format !== 'VMDK' && disk.format !== 'RAW') return undefined;
  let body: AsyncIterable<Uint8Array>;
  try {
    body = await core.s3.getObject(disk.bucket, disk.key);
  } catch (err) {
    throw new DiskImageError(`ClientError: Disk validation failed [Could not read s3://${disk.bucket}/${disk.key}: ${(err as Error).message}]`);
  }
  const blocks = new BlockAssembler(core.ebs);
  try {
    if (disk.format === 'RAW') {
      let offset = 0;
      for await (const chunk of body) {
        blocks.write(offset, Buffer.from(chunk));
        offset += chunk.byteLength;
      }
      blocks.flush();
      return { capacityBytes: offset, blocks: blocks.blocks };
    }
    const header = await readStreamVmdk(body, (offset, raw) => blocks.write(offset, raw));
    blocks.flush();
    if (!header) {
      blocks.release();
      return undefined;
    }
    return { capacityBytes: header.capacityBytes, blocks: blocks.blocks };
  } catch (err) {
    blocks.release();
    throw new DiskImageError(`ClientError: Disk validation failed [Unsupported VMDK File Format: ${(err as Error).message}]`);
  } finally {
    // Always: the VMDK reader stops at the end-of-stream marker, and an S3 body left unread holds its socket (and
    // s3rver's response) open for ever; after ~50 imports the emulator's S3 pool had no socket left and its calls hung.
    (body as { destroy?: () => void }).destroy?.();
  }
}

/** Gives back the references of a conversion no snapshot took (a failed or cancelled task). */
export function releaseConverted(ebs: EbsStore, converted: ConvertedDisk | undefined): void {
  if (!converted) return;
  for (const key of converted.blocks.values()) ebs.releaseBlock(key);
  converted.blocks.clear();
}

/** EBS volumes come in whole GiB: the disk's capacity rounded up. */
export function volumeGiB(capacityBytes: number): number {
  return Math.max(1, Math.ceil(capacityBytes / GIB));
}

/** A volume restored from `snap`, as grains: its size is the snapshot's, the bytes its blocks' (zeros elsewhere). */
export function volumeSource(ebs: EbsStore, snap: EbsSnapshot): VmdkSource & { read(offset: number, length: number): Buffer } {
  const map = ebs.flatten(snap);
  const capacityBytes = snap.volumeSizeGiB * BLOCKS_PER_GIB * EBS_BLOCK_SIZE;
  const perBlock = EBS_BLOCK_SIZE / GRAIN_BYTES;
  return {
    capacityBytes,
    grain(g) {
      const key = map.get(Math.floor(g / perBlock));
      if (key === undefined) return undefined;
      const start = (g % perBlock) * GRAIN_BYTES;
      return ebs.blockData(key).subarray(start, start + GRAIN_BYTES);
    },
    grainKey(g) {
      const key = map.get(Math.floor(g / perBlock));
      return key === undefined ? undefined : `${key}:${g % perBlock}`;
    },
    read(offset, length) {
      const out = Buffer.alloc(length);
      for (let pos = 0; pos < length; ) {
        const at = offset + pos;
        const within = at % EBS_BLOCK_SIZE;
        const n = Math.min(length - pos, EBS_BLOCK_SIZE - within);
        const key = map.get(Math.floor(at / EBS_BLOCK_SIZE));
        if (key !== undefined) ebs.blockData(key).copy(out, pos, within, within + n);
        pos += n;
      }
      return out;
    },
  };
}
