// Reads an OVA as a stream (an S3 GetObject body): the tar's first file must be the .ovf descriptor, which is read
// whole (it is small); every later file is handed over as a stream of exactly its bytes, so a disk can go straight
// into a vCenter import lease without being staged. Hand-written: the tar subset an OVA uses (ustar, pax and GNU long
// names, base-256 sizes) is small, and no tar package is a dependency.

const BLOCK = 512;
/** An OVF descriptor is a few KiB; refuse anything that could not be one rather than buffering it. */
const MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024;

export class OvaFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OvaFormatError';
  }
}

class Reader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else if (next.value.byteLength > 0) {
        const b = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        this.chunks.push(b);
        this.buffered += b.length;
      }
    }
    return this.buffered >= n;
  }

  /** Exactly n bytes, or undefined when the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered = all.length - n;
    return all.subarray(0, n);
  }

  /** Up to `max` bytes as they arrive (at least one), or undefined at the end of the stream. */
  async some(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill(1))) return undefined;
    const first = this.chunks[0]!;
    if (first.length <= max) {
      this.chunks.shift();
      this.buffered -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.buffered -= max;
    return first.subarray(0, max);
  }
}

interface Header {
  name: string;
  size: number;
  type: string;
}

function cstring(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const end = s.indexOf(0);
  return s.toString('utf8', 0, end < 0 ? s.length : end);
}

function tarSize(b: Buffer): number {
  const field = b.subarray(124, 136);
  if ((field[0]! & 0x80) !== 0) {
    // base-256 (GNU): big-endian, high bit of the first byte set
    let v = 0;
    for (let i = 1; i < field.length; i += 1) v = v * 256 + field[i]!;
    return v;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(text)) throw new OvaFormatError(`a tar header has an unreadable size field ${JSON.stringify(text)}`);
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(b: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  const stored = parseInt(b.toString('latin1', 148, 156).replace(/\0.*$/s, '').trim(), 8);
  return stored === sum;
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.toString('latin1', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.toString('utf8', space + 1, pos + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return out;
}

export interface OvaFile {
  name: string;
  size: number;
  /** The file's bytes; read it to the end (or not at all) before asking for the next file. */
  body: AsyncIterable<Buffer>;
}

export interface Ova {
  descriptorName: string;
  descriptor: string;
  /** The files after the descriptor (disks, manifest, certificate), in archive order. */
  files: AsyncGenerator<OvaFile>;
}

async function nextHeader(r: Reader): Promise<Header | undefined> {
  let longName: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    const h = await r.read(BLOCK);
    if (!h) throw new OvaFormatError('the OVA ends without the end-of-archive blocks: it was cut short');
    if (h.every((x) => x === 0)) return undefined;
    if (!checksumOk(h)) throw new OvaFormatError('a tar header of the OVA has a wrong checksum: the file is damaged or not an OVA');
    const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
    let size = tarSize(h);
    if (type === 'x' || type === 'L' || type === 'g') {
      if (size > 1024 * 1024) throw new OvaFormatError(`a tar extended header of ${size} bytes is too large`);
      const data = (await r.read(Math.ceil(size / BLOCK) * BLOCK))?.subarray(0, size);
      if (!data) throw new OvaFormatError('the OVA ends inside a tar extended header');
      if (type === 'x') pax = paxRecords(data);
      if (type === 'L') longName = cstring(data, 0, data.length);
      continue;
    }
    const prefix = h.toString('latin1', 257, 262) === 'ustar' ? cstring(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    if (pax.has('path')) name = pax.get('path')!;
    if (pax.has('size')) size = Number(pax.get('size'));
    if (!Number.isSafeInteger(size) || size < 0) throw new OvaFormatError(`the tar entry ${name} has an unreadable size`);
    return { name: name.replace(/^\.\//, ''), size, type };
  }
}

interface EntryState {
  left: number;
  reading: boolean;
}

/** Bytes of one entry as they arrive; `state.left` says what was not read when the caller stops early. */
async function* entryBody(r: Reader, size: number, name: string, state: EntryState): AsyncGenerator<Buffer> {
  state.reading = true;
  try {
    while (state.left > 0) {
      const chunk = await r.some(Math.min(state.left, 1 << 20));
      if (!chunk) throw new OvaFormatError(`the OVA ends inside ${name} (${size - state.left} of ${size} bytes)`);
      state.left -= chunk.length;
      yield chunk;
    }
  } finally {
    state.reading = false;
  }
}

async function skip(r: Reader, n: number, name: string): Promise<void> {
  let left = n;
  while (left > 0) {
    const chunk = await r.some(Math.min(left, 1 << 20));
    if (!chunk) throw new OvaFormatError(`the OVA ends inside ${name}`);
    left -= chunk.length;
  }
}

/** Opens an OVA stream: reads its descriptor, then lets the caller stream each later file. */
export async function openOva(source: AsyncIterable<Uint8Array>): Promise<Ova> {
  const r = new Reader(source[Symbol.asyncIterator]());
  const first = await nextHeader(r);
  if (!first) throw new OvaFormatError('the OVA is an empty archive; export the instance again');
  if (first.type !== '0' || !first.name.toLowerCase().endsWith('.ovf')) {
    throw new OvaFormatError(`this is not an OVA: its first file is ${first.name}, but an OVA starts with its .ovf descriptor`);
  }
  if (first.size > MAX_DESCRIPTOR_BYTES) throw new OvaFormatError(`the OVF descriptor ${first.name} is ${first.size} bytes, too large to be one`);
  const data = await r.read(Math.ceil(first.size / BLOCK) * BLOCK);
  if (!data) throw new OvaFormatError(`the OVA ends inside its descriptor ${first.name}`);
  const descriptor = data.subarray(0, first.size).toString('utf8');

  async function* files(): AsyncGenerator<OvaFile> {
    for (;;) {
      const h = await nextHeader(r);
      if (!h) return;
      const padded = Math.ceil(h.size / BLOCK) * BLOCK;
      if (h.type !== '0') {
        await skip(r, padded, h.name);
        continue;
      }
      const state: EntryState = { left: h.size, reading: false };
      let started = false;
      const body: AsyncIterable<Buffer> = {
        [Symbol.asyncIterator]() {
          if (started) throw new Error(`${h.name} of the OVA can be read only once`);
          started = true;
          return entryBody(r, h.size, h.name, state);
        },
      };
      yield { name: h.name, size: h.size, body };
      if (state.reading) throw new Error(`${h.name} is still being read: finish it before asking for the next file of the OVA`);
      // What the caller left unread, then the padding.
      await skip(r, state.left, h.name);
      await skip(r, padded - h.size, h.name);
    }
  }
  return { descriptorName: first.name, descriptor, files: files() };
}
