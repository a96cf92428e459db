// The HTTP/1.1 response of an NFC disk GET, parsed from raw socket bytes: status line and headers, then the body
// framed by Content-Length, chunked transfer coding, or the end of the connection. No I/O here: nfc.ts feeds it the
// bytes its TLS socket decrypts into one reused buffer, so a disk is read without a Buffer and stream push per record.

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** The response is not valid HTTP/1.1; the message says what was wrong. */
export class HttpFramingError extends Error {
  override name = 'HttpFramingError';
}

const LF = 0x0a;
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4 * 1024;

type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' };
type ChunkState = 'size' | 'data' | 'data-end' | 'trailer';

/**
 * Push parser. `onHead` runs once per final (non-1xx) response head; `onBody` gets views into the fed buffer,
 * valid only during the call; `onEnd` when the body is complete (for close-framed bodies: at `end()`).
 */
export class NfcResponseParser {
  private head: Buffer[] = [];
  private headBytes = 0;
  private framing: Framing | undefined;
  private chunk: ChunkState = 'size';
  private chunkLeft = 0;
  private line = '';
  private done = false;

  constructor(
    private readonly onHead: (head: ResponseHead) => void,
    private readonly onBody: (view: Buffer) => void,
    private readonly onEnd: () => void,
  ) {}

  get complete(): boolean {
    return this.done;
  }

  /** Body bytes still expected, when the response announced its length. */
  get remaining(): number | undefined {
    return this.framing?.kind === 'length' ? this.framing.remaining : undefined;
  }

  /**
   * Body bytes the next read may land straight where the consumer keeps them: all of them are body, with no framing
   * among them (0 while the head or a chunk line is due).
   */
  get bodyRoom(): number {
    if (this.done || this.framing === undefined) return 0;
    if (this.framing.kind === 'length') return this.framing.remaining;
    if (this.framing.kind === 'close') return Number.MAX_SAFE_INTEGER;
    return this.chunk === 'data' ? this.chunkLeft : 0;
  }

  feed(data: Buffer): void {
    let at = 0;
    while (at < data.length && !this.done) {
      if (this.framing === undefined) at = this.feedHead(data, at);
      else if (this.framing.kind === 'chunked') at = this.feedChunked(data, at);
      else {
        const n = this.framing.kind === 'length' ? Math.min(this.framing.remaining, data.length - at) : data.length - at;
        this.onBody(data.subarray(at, at + n));
        at += n;
        if (this.framing.kind === 'length') {
          this.framing.remaining -= n;
          if (this.framing.remaining === 0) this.finish();
        }
      }
    }
    // Bytes after a complete response are ignored: the request asked the server to close the connection.
  }

  /** The connection ended: completes a close-framed body, else reports a truncated response. */
  end(): void {
    if (this.done) return;
    if (this.framing?.kind === 'close') return this.finish();
    const what = this.framing === undefined ? 'the response headers' : this.framing.kind === 'length' ? `the body (${this.framing.remaining} bytes missing)` : 'the chunked body';
    throw new HttpFramingError(`connection closed before the end of ${what}`);
  }

  private finish(): void {
    this.done = true;
    this.onEnd();
  }

  private feedHead(data: Buffer, at: number): number {
    // The blank line may straddle feeds: search from 3 bytes before this feed's start.
    const prev = this.head.length > 0 ? Buffer.concat(this.head) : undefined;
    const joined = prev ? Buffer.concat([prev, data.subarray(at)]) : data.subarray(at);
    const end = joined.indexOf('\r\n\r\n', Math.max(0, (prev?.length ?? 0) - 3), 'latin1');
    if (end < 0) {
      this.headBytes += data.length - at;
      if (this.headBytes > MAX_HEAD) throw new HttpFramingError(`response headers longer than ${MAX_HEAD} bytes`);
      this.head = [Buffer.from(joined)]; // a copy: the fed buffer is reused
      return data.length;
    }
    const consumed = end + 4 - (prev?.length ?? 0);
    const text = joined.toString('latin1', 0, end);
    this.head = [];
    this.headBytes = 0;
    const [statusLine = '', ...lines] = text.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
    if (!m) throw new HttpFramingError(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new HttpFramingError(`malformed response header line: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    // 1xx heads are interim: the final response follows.
    if (status >= 100 && status < 200) return at + consumed;
    this.framing = framingOf(headers);
    this.onHead({ status, headers });
    if (this.framing.kind === 'length' && this.framing.remaining === 0) this.finish();
    return at + consumed;
  }

  private feedChunked(data: Buffer, at: number): number {
    switch (this.chunk) {
      case 'data': {
        const n = Math.min(this.chunkLeft, data.length - at);
        this.onBody(data.subarray(at, at + n));
        this.chunkLeft -= n;
        if (this.chunkLeft === 0) this.chunk = 'data-end';
        return at + n;
      }
      case 'size':
      case 'data-end':
      case 'trailer': {
        const lf = data.indexOf(LF, at);
        const stop = lf < 0 ? data.length : lf;
        this.line += data.toString('latin1', at, stop);
        if (this.line.length > MAX_LINE) throw new HttpFramingError('chunked body line too long');
        if (lf < 0) return data.length;
        const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
        this.line = '';
        if (this.chunk === 'data-end') {
          if (line !== '') throw new HttpFramingError('chunk data longer than its announced size');
          this.chunk = 'size';
        } else if (this.chunk === 'trailer') {
          if (line === '') this.finish();
        } else {
          const size = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line);
          if (!size) throw new HttpFramingError(`invalid chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
          this.chunkLeft = Number.parseInt(size[1]!, 16);
          this.chunk = this.chunkLeft === 0 ? 'trailer' : 'data';
        }
        return lf + 1;
      }
    }
  }
}

function framingOf(headers: Record<string, string>): Framing {
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    const codings = te.split(',').map((c) => c.trim().toLowerCase());
    if (codings.at(-1) !== 'chunked' || codings.some((c) => c !== 'chunked' && c !== 'identity')) {
      throw new HttpFramingError(`unsupported Transfer-Encoding ${JSON.stringify(te)}`);
    }
    return { kind: 'chunked' };
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    const values = new Set(cl.split(',').map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || only === undefined || !/^\d{1,16}$/.test(only)) throw new HttpFramingError(`invalid Content-Length ${JSON.stringify(cl)}`);
    return { kind: 'length', remaining: Number(only) };
  }
  return { kind: 'close' };
}
