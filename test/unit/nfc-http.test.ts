// The NFC response parser frames a disk body from raw socket bytes, whatever way the bytes are cut into reads.
import { describe, expect, it } from 'vitest';
import { HttpFramingError, NfcResponseParser, type ResponseHead } from '../../connector/vsphere/nfc-http.ts';

interface Parsed {
  heads: ResponseHead[];
  body: Buffer;
  ended: boolean;
}

/** Feeds `wire` cut at the given offsets, through one reused buffer (as the socket's onread buffer is). */
function parse(wire: Buffer, cuts: number[], atEof = false): Parsed {
  const out: Parsed = { heads: [], body: Buffer.alloc(0), ended: false };
  const bodies: Buffer[] = [];
  const parser = new NfcResponseParser(
    (h) => out.heads.push(h),
    (v) => bodies.push(Buffer.from(v)),
    () => (out.ended = true),
  );
  const scratch = Buffer.alloc(wire.length);
  let from = 0;
  for (const to of [...cuts, wire.length]) {
    const n = wire.copy(scratch, 0, from, to);
    parser.feed(scratch.subarray(0, n));
    scratch.fill(0xee, 0, n); // a view kept past its call would now read garbage
    from = to;
  }
  if (atEof) parser.end();
  out.body = Buffer.concat(bodies);
  return out;
}

const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
const head = (extra: string) => `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Dup: a\r\nX-Dup: b\r\n${extra}\r\n`;
const lengthFramed = Buffer.concat([Buffer.from(head(`Content-Length: ${body.length}\r\n`), 'latin1'), body, Buffer.from('trailing junk')]);
const chunked = Buffer.concat([
  Buffer.from(`HTTP/1.1 100 Continue\r\n\r\n${head('Transfer-Encoding: chunked\r\n')}`, 'latin1'),
  Buffer.from('400;ext=1\r\n'),
  body.subarray(0, 0x400),
  Buffer.from('\r\nA\r\n'),
  body.subarray(0x400, 0x40a),
  Buffer.from('\r\n'),
  Buffer.from(`${(body.length - 0x40a).toString(16)}\r\n`),
  body.subarray(0x40a),
  Buffer.from('\r\n0\r\nX-Trailer: t\r\n\r\n'),
]);

describe('NfcResponseParser', () => {
  it('frames a Content-Length body cut at every offset, ignoring bytes after it', () => {
    for (let cut = 1; cut < lengthFramed.length; cut += 7) {
      const r = parse(lengthFramed, [cut, Math.min(lengthFramed.length, cut + 5)]);
      expect(r.heads).toHaveLength(1);
      expect(r.heads[0]!.status).toBe(200);
      expect(r.heads[0]!.headers['x-dup']).toBe('a, b');
      expect(r.ended).toBe(true);
      expect(r.body.equals(body)).toBe(true);
    }
  });

  it('decodes a chunked body (extensions, trailers, an interim 100 head) cut at every offset', () => {
    for (let cut = 1; cut < chunked.length; cut += 3) {
      const r = parse(chunked, [cut]);
      expect(r.heads.map((h) => h.status)).toEqual([200]);
      expect(r.ended).toBe(true);
      expect(r.body.equals(body)).toBe(true);
    }
    // One byte per read.
    const r = parse(chunked, Array.from({ length: chunked.length - 1 }, (_, i) => i + 1));
    expect(r.body.equals(body)).toBe(true);
  });

  it('reports a body cut short by the end of the connection, and completes a close-framed one', () => {
    const short = lengthFramed.subarray(0, lengthFramed.length - 'trailing junk'.length - 10);
    expect(() => parse(short, [], true)).toThrow(/10 bytes missing/);
    expect(() => parse(chunked.subarray(0, chunked.length - 9), [], true)).toThrow(/chunked body/);
    expect(() => parse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), [], true)).toThrow(/response headers/);
    const closeFramed = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), body]);
    const r = parse(closeFramed, [40], true);
    expect(r.ended).toBe(true);
    expect(r.body.equals(body)).toBe(true);
  });

  it('refuses what it cannot frame safely, saying what was wrong', () => {
    const bad = (text: string) => () => parse(Buffer.from(text, 'latin1'), []);
    expect(bad('SSH-2.0-OpenSSH\r\n\r\n')).toThrow(HttpFramingError);
    expect(bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')).toThrow(/Transfer-Encoding "gzip"/);
    expect(bad('HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n')).toThrow(/Content-Length/);
    expect(bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')).toThrow(/chunk size/);
    expect(bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n')).toThrow(/longer than its announced size/);
    expect(bad(`HTTP/1.1 200 OK\r\nX: ${'y'.repeat(70_000)}`)).toThrow(/longer than 65536/);
  });
});
