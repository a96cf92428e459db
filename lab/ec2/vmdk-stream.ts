// Stream-optimized VMDK ("Virtual Disk Format 5.0": sparse extent with markers and deflate-compressed grains), both
// ways: VM Import reads one from S3 into raw blocks, VM Export writes one from an instance's volume. Hand-written: no
// maintained npm package reads or writes this format, and a disk is never held whole in memory either way.
import { deflateSync, inflateSync } from 'node:zlib';

export const SECTOR = 512;
export const GRAIN_SECTORS = 128;
export const GRAIN_BYTES = GRAIN_SECTORS * SECTOR; // 64 KiB
const GT_ENTRIES = 512;
const GD_AT_END = 0xffffffffffffffffn;
const FLAGS = 0x1 | 0x10000 | 0x20000; // valid newline test, compressed grains, markers
const MARKER_EOS = 0;
const MARKER_GT = 1;
const MARKER_GD = 2;
const MARKER_FOOTER = 3;

export class VmdkFormatError extends Error {}

/** Pulls exact byte counts from a chunked stream (an S3 GetObject body). */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  offset = 0;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else {
        const b = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        this.chunks.push(b);
        this.buffered += b.length;
      }
    }
    return this.buffered >= n;
  }

  /** Exactly n bytes, or undefined at the end of the stream. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    this.offset += n;
    return out;
  }

  /** True when the stream has ended with nothing left unread. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      const step = Math.min(left, 1 << 20);
      if (!(await this.read(step))) return false;
      left -= step;
    }
    return true;
  }
}

export interface VmdkHeader {
  capacityBytes: number;
  grainBytes: number;
  overheadSectors: number;
}

function parseHeader(h: Buffer): VmdkHeader | undefined {
  if (h.length < SECTOR || h.toString('latin1', 0, 4) !== 'KDMV') return undefined;
  const flags = h.readUInt32LE(8);
  const capacity = Number(h.readBigUInt64LE(12));
  const grain = Number(h.readBigUInt64LE(20));
  const overhead = Number(h.readBigUInt64LE(64));
  const compression = h.readUInt16LE(77);
  // Only the stream-optimized variant (markers + deflate) can be read front to back.
  if ((flags & 0x30000) !== 0x30000 || compression !== 1 || grain <= 0) return undefined;
  return { capacityBytes: capacity * SECTOR, grainBytes: grain * SECTOR, overheadSectors: overhead };
}

/**
 * Reads a stream-optimized VMDK front to back and hands every stored grain to `onGrain` (byte offset on the disk,
 * raw content). Returns the disk's capacity, or undefined when the stream is not a stream-optimized VMDK (nothing
 * was handed over then). A truncated or corrupt stream throws VmdkFormatError.
 */
export async function readStreamVmdk(
  source: AsyncIterable<Uint8Array>,
  onGrain: (offset: number, raw: Buffer) => void | Promise<void>,
): Promise<VmdkHeader | undefined> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  const first = await r.read(SECTOR);
  const header = first && parseHeader(first);
  if (!header) return undefined;
  if (!(await r.skip(header.overheadSectors * SECTOR - SECTOR))) throw new VmdkFormatError('the VMDK ends inside its header');
  for (;;) {
    // qemu-img's streamOptimized output ends after its last grain (its grain directory is at the front): the end of
    // the object between two records is the end of the stream too, as qemu and VM Import read it.
    if (await r.atEnd()) return header;
    const marker = await r.read(12);
    if (!marker) throw new VmdkFormatError(`the VMDK ends at byte ${r.offset} inside a grain marker`);
    const value = Number(marker.readBigUInt64LE(0));
    const size = marker.readUInt32LE(8);
    if (size > 0) {
      const data = await r.read(size);
      if (!data) throw new VmdkFormatError(`the VMDK ends inside the grain at sector ${value}`);
      let raw: Buffer;
      try {
        raw = inflateSync(data);
      } catch (err) {
        throw new VmdkFormatError(`the grain at sector ${value} does not inflate: ${(err as Error).message}`);
      }
      const offset = value * SECTOR;
      if (raw.length > header.grainBytes || offset + raw.length > header.capacityBytes) {
        throw new VmdkFormatError(`the grain at sector ${value} lies outside the disk's capacity of ${header.capacityBytes} bytes`);
      }
      await onGrain(offset, raw);
      const pad = (SECTOR - ((12 + size) % SECTOR)) % SECTOR;
      if (pad > 0 && !(await r.skip(pad))) throw new VmdkFormatError('the VMDK ends inside a grain record');
      continue;
    }
    // Metadata marker: the rest of its sector holds the type; `value` sectors of metadata follow.
    const rest = await r.read(SECTOR - 12);
    if (!rest) throw new VmdkFormatError('the VMDK ends inside a marker');
    const type = rest.readUInt32LE(0);
    if (type === MARKER_EOS) return header;
    if (![MARKER_GT, MARKER_GD, MARKER_FOOTER].includes(type)) throw new VmdkFormatError(`unknown VMDK marker type ${type} at byte ${r.offset - SECTOR}`);
    if (!(await r.skip(value * SECTOR))) throw new VmdkFormatError('the VMDK ends inside its metadata');
  }
}

function headerSector(capacitySectors: bigint, descriptorSectors: number, overheadSectors: number, gdOffset: bigint): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write('KDMV', 0, 'latin1');
  h.writeUInt32LE(3, 4);
  h.writeUInt32LE(FLAGS, 8);
  h.writeBigUInt64LE(capacitySectors, 12);
  h.writeBigUInt64LE(BigInt(GRAIN_SECTORS), 20);
  h.writeBigUInt64LE(1n, 28);
  h.writeBigUInt64LE(BigInt(descriptorSectors), 36);
  h.writeUInt32LE(GT_ENTRIES, 44);
  h.writeBigUInt64LE(0n, 48);
  h.writeBigUInt64LE(gdOffset, 56);
  h.writeBigUInt64LE(BigInt(overheadSectors), 64);
  h.write('\n \r\n', 73, 'latin1');
  h.writeUInt16LE(1, 77);
  return h;
}

function markerSector(sectors: number, type: number): Buffer {
  const m = Buffer.alloc(SECTOR);
  m.writeBigUInt64LE(BigInt(sectors), 0);
  m.writeUInt32LE(type, 12);
  return m;
}

/** A grain's record: marker (LBA, compressed size) + deflate data, padded to whole sectors. */
function grainRecord(grain: number, compressed: Buffer): Buffer {
  const len = 12 + compressed.length;
  const rec = Buffer.alloc(Math.ceil(len / SECTOR) * SECTOR);
  rec.writeBigUInt64LE(BigInt(grain * GRAIN_SECTORS), 0);
  rec.writeUInt32LE(compressed.length, 8);
  compressed.copy(rec, 12);
  return rec;
}

export interface VmdkSource {
  capacityBytes: number;
  /** Raw content of grain g (GRAIN_BYTES, the last one may be shorter), or undefined when it reads as zeros. */
  grain(g: number): Buffer | undefined;
  /** A key naming the grain's content when it may repeat (compressed once per distinct content), else undefined. */
  grainKey?(g: number): string | undefined;
}

/**
 * A stream-optimized VMDK of `src`, planned first (so its size is known before a byte is written: a tar header needs
 * it) and then produced sector group by sector group. Zero grains are left out (sparse), as VMware writes them.
 */
export class StreamVmdkWriter {
  readonly size: number;
  private readonly grains: number;
  private readonly recordSectors: Map<number, number>;
  private readonly descriptor: Buffer;
  private readonly overhead: number;
  private readonly cache = new Map<string, Buffer>();
  private cacheBytes = 0;

  constructor(
    private readonly src: VmdkSource,
    fileName: string,
  ) {
    const capSectors = Math.ceil(src.capacityBytes / SECTOR);
    this.grains = Math.ceil(capSectors / GRAIN_SECTORS);
    this.descriptor = descriptorText(capSectors, fileName);
    this.overhead = 1 + this.descriptor.length / SECTOR;
    // Planning pass: each present grain's record length (compressed once per distinct content).
    this.recordSectors = new Map();
    let sectors = this.overhead;
    for (let g = 0; g < this.grains; g += 1) {
      const c = this.compressed(g);
      if (!c) continue;
      const n = Math.ceil((12 + c.length) / SECTOR);
      this.recordSectors.set(g, n);
      sectors += n;
    }
    const tables = Math.ceil(this.grains / GT_ENTRIES);
    const gdSectors = Math.ceil((tables * 4) / SECTOR);
    // Grain tables (marker + 4 sectors each), the directory (marker + entries), footer (marker + header), end marker.
    sectors += tables * (1 + (GT_ENTRIES * 4) / SECTOR) + 1 + gdSectors + 2 + 1;
    this.size = sectors * SECTOR;
  }

  private compressed(g: number): Buffer | undefined {
    const raw = this.src.grain(g);
    if (!raw || isZero(raw)) return undefined;
    const key = this.src.grainKey?.(g);
    if (key !== undefined) {
      const hit = this.cache.get(key);
      if (hit) return hit;
    }
    const c = deflateSync(raw, { level: 1 });
    if (key !== undefined) {
      if (this.cacheBytes > 32 << 20) {
        this.cache.clear();
        this.cacheBytes = 0;
      }
      this.cache.set(key, c);
      this.cacheBytes += c.length;
    }
    return c;
  }

  /** The VMDK's bytes in order, a grain record (or a metadata run) at a time. */
  *chunks(): Generator<Buffer> {
    const capSectors = BigInt(Math.ceil(this.src.capacityBytes / SECTOR));
    yield headerSector(capSectors, this.descriptor.length / SECTOR, this.overhead, GD_AT_END);
    yield this.descriptor;
    let at = this.overhead;
    const where = new Map<number, number>();
    for (let g = 0; g < this.grains; g += 1) {
      const expected = this.recordSectors.get(g);
      if (expected === undefined) continue;
      const c = this.compressed(g);
      if (!c) throw new Error(`grain ${g} changed while its VMDK was written`);
      const rec = grainRecord(g, c);
      if (rec.length !== expected * SECTOR) throw new Error(`grain ${g} compressed differently while its VMDK was written`);
      where.set(g, at);
      at += expected;
      yield rec;
    }
    const tables = Math.ceil(this.grains / GT_ENTRIES);
    const gtSectors = (GT_ENTRIES * 4) / SECTOR;
    const gd = Buffer.alloc(Math.ceil((tables * 4) / SECTOR) * SECTOR);
    for (let t = 0; t < tables; t += 1) {
      yield markerSector(gtSectors, MARKER_GT);
      at += 1;
      const gt = Buffer.alloc(gtSectors * SECTOR);
      for (let i = 0; i < GT_ENTRIES; i += 1) gt.writeUInt32LE(where.get(t * GT_ENTRIES + i) ?? 0, i * 4);
      gd.writeUInt32LE(at, t * 4);
      at += gtSectors;
      yield gt;
    }
    yield markerSector(gd.length / SECTOR, MARKER_GD);
    at += 1;
    const gdOffset = at;
    yield gd;
    yield markerSector(1, MARKER_FOOTER);
    yield headerSector(capSectors, this.descriptor.length / SECTOR, this.overhead, BigInt(gdOffset));
    yield markerSector(0, MARKER_EOS);
  }
}

const ZERO_GRAIN = Buffer.alloc(GRAIN_BYTES);

function isZero(b: Buffer): boolean {
  return b.length === GRAIN_BYTES ? b.equals(ZERO_GRAIN) : b.equals(ZERO_GRAIN.subarray(0, b.length));
}

function descriptorText(capSectors: number, fileName: string): Buffer {
  const cylinders = Math.min(65535, Math.floor(capSectors / (255 * 63)));
  const text = [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    'CID=fffffffe',
    'parentCID=ffffffff',
    'createType="streamOptimized"',
    '',
    '# Extent description',
    `RW ${capSectors} SPARSE "${fileName.replace(/"/g, '')}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.adapterType = "lsilogic"',
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "255"',
    'ddb.geometry.sectors = "63"',
    'ddb.virtualHWVersion = "10"',
    '',
  ].join('\n');
  const b = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(Math.ceil(b.length / SECTOR) * SECTOR);
  b.copy(out);
  return out;
}
