// Streaming validator/decoder for stream-optimized VMDK (VMware "Virtual Disk Format 5.0", monolithic sparse,
// compressed grains with markers). Hand-written: no maintained npm package parses this format.
// Memory stays bounded by one grain record whatever the disk size; raw bytes go to a callback and/or a SHA-256.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { inflateSync } from 'node:zlib';

export const SECTOR = 512;
const MAGIC = 0x564d444b; // "KDMV" little-endian
const GD_AT_END = 0xffffffffffffffffn;
const FLAG_VALID_NEWLINE = 0x1;
const FLAG_COMPRESSED = 0x10000;
const FLAG_MARKERS = 0x20000;
const MARKER_EOS = 0;
const MARKER_GT = 1;
const MARKER_GD = 2;
const MARKER_FOOTER = 3;

export interface SparseHeader {
  version: number;
  flags: number;
  capacitySectors: number;
  grainSectors: number;
  descriptorOffset: number;
  descriptorSectors: number;
  numGTEsPerGT: number;
  rgdOffset: bigint;
  gdOffset: bigint;
  overHead: number;
  uncleanShutdown: number;
  compressAlgorithm: number;
}

export interface VmdkReport {
  header: SparseHeader;
  footer: SparseHeader;
  descriptor: string;
  createType: string;
  capacityBytes: number;
  grainBytes: number;
  /** Grains present in the stream (allocated). */
  grains: number;
  grainTables: number;
  grainDirectoryEntries: number;
  /** Bytes of the VMDK stream consumed, end-of-stream marker included. */
  streamBytes: number;
  /** SHA-256 (hex) of the decoded raw disk, full capacity including unallocated zeros (when `hashRaw`). */
  rawSha256?: string;
}

export interface VmdkDecodeOptions {
  /** Receives decoded raw bytes in order (zeros for unallocated grains); `offset` is the raw byte offset. */
  onRaw?: (chunk: Buffer, offset: number) => void | Promise<void>;
  /** Receives each allocated grain (index, inflated data) as it is decoded. */
  onGrain?: (grainIndex: number, data: Buffer) => void | Promise<void>;
  /** Compute rawSha256 over the full decoded capacity. */
  hashRaw?: boolean;
}

export class VmdkFormatError extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(`Invalid stream-optimized VMDK at byte ${offset}: ${message}`);
    this.name = 'VmdkFormatError';
    this.offset = offset;
  }
}

/** Pull-based exact reads over an async chunk source, without concatenating the whole stream. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  position = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const b = typeof r.value === 'string' ? Buffer.from(r.value, 'latin1') : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      if (b.length) {
        this.chunks.push(b);
        this.buffered += b.length;
      }
    }
    return this.buffered >= n;
  }

  async read(n: number, what: string): Promise<Buffer> {
    if (!(await this.fill(n))) {
      throw new VmdkFormatError(this.position + this.buffered, `stream ended while reading ${what} (${n} bytes needed, ${this.buffered} left)`);
    }
    let out: Buffer;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0] as Buffer;
        const take = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, take);
        filled += take;
        if (take === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(take);
      }
    }
    this.buffered -= n;
    this.position += n;
    return out;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  async drainCount(): Promise<number> {
    let n = this.buffered;
    this.chunks = [];
    this.buffered = 0;
    while (!this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else n += typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.byteLength;
    }
    return n;
  }

  async cancel(): Promise<void> {
    await this.it.return?.();
  }
}

function u64(buf: Buffer, off: number): bigint {
  return buf.readBigUInt64LE(off);
}

function safeNumber(v: bigint, what: string, offset: number): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VmdkFormatError(offset, `${what} ${v} is out of range`);
  return Number(v);
}

export function parseSparseHeader(buf: Buffer, offset: number): SparseHeader {
  if (buf.length < SECTOR) throw new VmdkFormatError(offset, 'short header');
  const magic = buf.readUInt32LE(0);
  if (magic !== MAGIC) {
    throw new VmdkFormatError(offset, `bad magic 0x${magic.toString(16)} (expected KDMV 0x564d444b)`);
  }
  const h: SparseHeader = {
    version: buf.readUInt32LE(4),
    flags: buf.readUInt32LE(8),
    capacitySectors: safeNumber(u64(buf, 12), 'capacity', offset),
    grainSectors: safeNumber(u64(buf, 20), 'grainSize', offset),
    descriptorOffset: safeNumber(u64(buf, 28), 'descriptorOffset', offset),
    descriptorSectors: safeNumber(u64(buf, 36), 'descriptorSize', offset),
    numGTEsPerGT: buf.readUInt32LE(44),
    rgdOffset: u64(buf, 48),
    gdOffset: u64(buf, 56),
    overHead: safeNumber(u64(buf, 64), 'overHead', offset),
    uncleanShutdown: buf.readUInt8(72),
    compressAlgorithm: buf.readUInt16LE(77),
  };
  if (h.version !== 3) throw new VmdkFormatError(offset, `version ${h.version} (stream-optimized disks use version 3)`);
  const need = FLAG_VALID_NEWLINE | FLAG_COMPRESSED | FLAG_MARKERS;
  if ((h.flags & need) !== need) {
    throw new VmdkFormatError(offset, `flags 0x${h.flags.toString(16)} lack newline-test/compressed/markers bits (0x30001)`);
  }
  if (buf[73] !== 0x0a || buf[74] !== 0x20 || buf[75] !== 0x0d || buf[76] !== 0x0a) {
    throw new VmdkFormatError(offset, 'newline detection bytes are not 0A 20 0D 0A (file was altered by a text transfer)');
  }
  if (h.grainSectors < 8 || (h.grainSectors & (h.grainSectors - 1)) !== 0) {
    throw new VmdkFormatError(offset, `grain size ${h.grainSectors} sectors is not a power of two >= 8`);
  }
  if (h.numGTEsPerGT !== 512) throw new VmdkFormatError(offset, `numGTEsPerGT ${h.numGTEsPerGT} (expected 512)`);
  if (h.compressAlgorithm !== 1) throw new VmdkFormatError(offset, `compressAlgorithm ${h.compressAlgorithm} (expected 1 = deflate)`);
  if (h.capacitySectors <= 0) throw new VmdkFormatError(offset, 'capacity is zero');
  return h;
}

function parseDescriptor(text: string, capacitySectors: number, offset: number): string {
  const createType = /^\s*createType\s*=\s*"([^"]*)"/m.exec(text)?.[1];
  if (createType !== 'streamOptimized') {
    throw new VmdkFormatError(offset, `descriptor createType is ${JSON.stringify(createType)} (expected "streamOptimized")`);
  }
  const extent = /^\s*RW\s+(\d+)\s+SPARSE\s+"[^"]*"/m.exec(text);
  if (!extent) throw new VmdkFormatError(offset, 'descriptor has no "RW <sectors> SPARSE" extent line');
  if (Number(extent[1]) !== capacitySectors) {
    throw new VmdkFormatError(offset, `descriptor extent has ${extent[1]} sectors but the header capacity is ${capacitySectors}`);
  }
  return createType;
}

/**
 * Validates a whole stream-optimized VMDK stream and decodes it. Checks: header (magic, version 3, flags 0x30001,
 * grain size, GD at end), descriptor createType and extent size, every grain marker (aligned increasing LBA, inflated size),
 * grain tables (entries point at their grains), grain directory (entries point at the tables), footer (header copy with
 * the real gdOffset), end-of-stream marker and nothing after it. Throws VmdkFormatError on the first violation.
 */
export async function decodeStreamOptimizedVmdk(
  source: Readable | AsyncIterable<Buffer | Uint8Array | string>,
  opts: VmdkDecodeOptions = {},
): Promise<VmdkReport> {
  const r = new ByteReader(source);
  try {
    return await decode(r, opts);
  } catch (err) {
    await r.cancel().catch(() => undefined);
    throw err;
  }
}

async function decode(r: ByteReader, opts: VmdkDecodeOptions): Promise<VmdkReport> {
  const headerBuf = await r.read(SECTOR, 'the sparse header');
  const header = parseSparseHeader(headerBuf, 0);
  if (header.gdOffset !== GD_AT_END) {
    throw new VmdkFormatError(56, `header gdOffset is ${header.gdOffset} (a stream-optimized header must say GD_AT_END, -1)`);
  }
  if (header.descriptorOffset < 1 || header.descriptorOffset + header.descriptorSectors > header.overHead) {
    throw new VmdkFormatError(28, 'embedded descriptor lies outside the header overhead');
  }
  // Sectors 1 .. overHead-1: descriptor (at descriptorOffset) and padding.
  const overheadBuf = await r.read((header.overHead - 1) * SECTOR, 'the descriptor/overhead area');
  const dStart = (header.descriptorOffset - 1) * SECTOR;
  const dRaw = overheadBuf.subarray(dStart, dStart + header.descriptorSectors * SECTOR);
  const nul = dRaw.indexOf(0);
  const descriptor = dRaw.subarray(0, nul === -1 ? dRaw.length : nul).toString('utf8');
  const createType = parseDescriptor(descriptor, header.capacitySectors, header.descriptorOffset * SECTOR);

  const grainBytes = header.grainSectors * SECTOR;
  const capacityBytes = header.capacitySectors * SECTOR;
  const totalGrains = Math.ceil(header.capacitySectors / header.grainSectors);
  const gdEntries = Math.ceil(totalGrains / header.numGTEsPerGT);
  const hash = opts.hashRaw ? createHash('sha256') : undefined;
  const zeros = Buffer.alloc(grainBytes);

  let rawPos = 0; // raw bytes emitted so far
  const emitZerosTo = async (end: number): Promise<void> => {
    while (rawPos < end) {
      const n = Math.min(grainBytes, end - rawPos);
      const z = zeros.subarray(0, n);
      hash?.update(z);
      await opts.onRaw?.(z, rawPos);
      rawPos += n;
    }
  };

  // Grain offsets (sector of the grain marker) of the current grain-table window, to check each GT.
  const grainSectorOf = new Map<number, number>();
  const gtDataSector = new Map<number, number>(); // table index -> sector of its data
  let grains = 0;
  let grainTables = 0;
  let lastLba = -1;
  let gdDataSector = -1;
  let footer: SparseHeader | undefined;

  for (;;) {
    const at = r.position;
    if (at % SECTOR !== 0) throw new VmdkFormatError(at, 'record is not sector aligned');
    const head = await r.read(12, 'a marker');
    const value = head.readBigUInt64LE(0);
    const size = head.readUInt32LE(8);
    if (size !== 0) {
      // Grain marker: LBA, compressed size, zlib data, padded to a sector.
      const lba = safeNumber(value, 'grain LBA', at);
      if (lba % header.grainSectors !== 0) throw new VmdkFormatError(at, `grain LBA ${lba} is not grain aligned`);
      if (lba >= header.capacitySectors) throw new VmdkFormatError(at, `grain LBA ${lba} is beyond the capacity ${header.capacitySectors}`);
      if (lba <= lastLba) throw new VmdkFormatError(at, `grain LBA ${lba} does not increase (previous ${lastLba})`);
      if (footer || gdDataSector >= 0) throw new VmdkFormatError(at, 'grain after the grain directory/footer');
      if (size > grainBytes * 2 + 1024) throw new VmdkFormatError(at, `compressed grain size ${size} is implausible`);
      const recordBytes = Math.ceil((12 + size) / SECTOR) * SECTOR;
      const rest = await r.read(recordBytes - 12, `grain data at LBA ${lba}`);
      let data: Buffer;
      try {
        data = inflateSync(rest.subarray(0, size));
      } catch (e) {
        throw new VmdkFormatError(at + 12, `grain at LBA ${lba} is not valid zlib data (${(e as Error).message})`);
      }
      const expected = Math.min(grainBytes, capacityBytes - lba * SECTOR);
      if (data.length !== expected) {
        throw new VmdkFormatError(at, `grain at LBA ${lba} inflates to ${data.length} bytes (expected ${expected})`);
      }
      const g = lba / header.grainSectors;
      grainSectorOf.set(g, at / SECTOR);
      await emitZerosTo(lba * SECTOR);
      hash?.update(data);
      await opts.onRaw?.(data, rawPos);
      await opts.onGrain?.(g, data);
      rawPos += data.length;
      lastLba = lba;
      grains++;
      continue;
    }

    // Metadata marker: numSectors, size 0, type, padding to a sector; then numSectors of metadata.
    const rest = await r.read(SECTOR - 12, 'a metadata marker');
    const type = rest.readUInt32LE(0);
    const numSectors = safeNumber(value, 'marker sector count', at);
    if (type === MARKER_EOS) {
      if (numSectors !== 0) throw new VmdkFormatError(at, 'end-of-stream marker with a non-zero sector count');
      if (!footer) throw new VmdkFormatError(at, 'end-of-stream marker before the footer');
      if (!(await r.atEnd())) {
        const extra = await r.drainCount();
        throw new VmdkFormatError(r.position, `${extra} bytes after the end-of-stream marker`);
      }
      break;
    }
    const data = await r.read(numSectors * SECTOR, `metadata of type ${type}`);
    const dataSector = at / SECTOR + 1;
    if (type === MARKER_GT) {
      if (numSectors !== (header.numGTEsPerGT * 4) / SECTOR) throw new VmdkFormatError(at, `grain table of ${numSectors} sectors`);
      if (lastLba < 0) throw new VmdkFormatError(at, 'grain table before any grain');
      const t = Math.floor(lastLba / header.grainSectors / header.numGTEsPerGT);
      if (gtDataSector.has(t)) throw new VmdkFormatError(at, `second grain table for table ${t}`);
      for (let i = 0; i < header.numGTEsPerGT; i++) {
        const g = t * header.numGTEsPerGT + i;
        const entry = data.readUInt32LE(i * 4);
        const want = grainSectorOf.get(g) ?? 0;
        if (entry !== want) throw new VmdkFormatError(at + SECTOR + i * 4, `grain table ${t} entry ${i} is ${entry}, grain ${g} is at sector ${want}`);
      }
      for (const g of [...grainSectorOf.keys()]) {
        if (Math.floor(g / header.numGTEsPerGT) <= t) grainSectorOf.delete(g);
      }
      if (grainSectorOf.size) throw new VmdkFormatError(at, `grains of a later table appeared before grain table ${t}`);
      gtDataSector.set(t, dataSector);
      grainTables++;
    } else if (type === MARKER_GD) {
      if (grainSectorOf.size) throw new VmdkFormatError(at, 'grains without a grain table before the grain directory');
      if (numSectors !== Math.ceil((gdEntries * 4) / SECTOR)) {
        throw new VmdkFormatError(at, `grain directory of ${numSectors} sectors (expected ${Math.ceil((gdEntries * 4) / SECTOR)} for ${gdEntries} tables)`);
      }
      for (let t = 0; t < gdEntries; t++) {
        const entry = data.readUInt32LE(t * 4);
        const want = gtDataSector.get(t) ?? 0;
        if (entry !== want) throw new VmdkFormatError(at + SECTOR + t * 4, `grain directory entry ${t} is ${entry}, its table is at sector ${want}`);
      }
      gdDataSector = dataSector;
    } else if (type === MARKER_FOOTER) {
      if (numSectors !== 1) throw new VmdkFormatError(at, `footer of ${numSectors} sectors`);
      if (gdDataSector < 0) throw new VmdkFormatError(at, 'footer before the grain directory');
      const f = parseSparseHeader(data, at + SECTOR);
      if (f.gdOffset !== BigInt(gdDataSector)) {
        throw new VmdkFormatError(at + SECTOR + 56, `footer gdOffset ${f.gdOffset} does not point at the grain directory (sector ${gdDataSector})`);
      }
      const same: (keyof SparseHeader)[] = ['version', 'flags', 'capacitySectors', 'grainSectors', 'descriptorOffset', 'descriptorSectors', 'numGTEsPerGT', 'overHead', 'compressAlgorithm'];
      for (const k of same) {
        if (f[k] !== header[k]) throw new VmdkFormatError(at + SECTOR, `footer ${k} ${String(f[k])} differs from the header (${String(header[k])})`);
      }
      footer = f;
    } else {
      throw new VmdkFormatError(at, `unknown marker type ${type}`);
    }
  }

  await emitZerosTo(capacityBytes);
  return {
    header,
    footer: footer as SparseHeader,
    descriptor,
    createType,
    capacityBytes,
    grainBytes,
    grains,
    grainTables,
    grainDirectoryEntries: gdEntries,
    streamBytes: r.position,
    ...(hash ? { rawSha256: hash.digest('hex') } : {}),
  };
}
