// The connector's own NFC reader (openNfcBody: TLS onread + its HTTP framing) against a local HTTPS disk server, and
// the uploader's backpressure: the download pauses while every part buffer is filled or in flight, and only then.
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';
import { NfcDownloadError, openNfcBody } from '../../connector/vsphere/nfc.ts';
import { uploadToS3, type PushSource } from '../../connector/engine/disk-copy.ts';
import { compositeSha256, labS3ClientConfig, startS3, type S3SinkHandle } from '../../lab/s3/index.ts';

const MiB = 1024 * 1024;
const disk = randomBytes(9 * MiB + 12345);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tlsPair: ServerTls;
let server: https.Server;
let base: string;
let sink: S3SinkHandle;
let s3: S3Client;

beforeAll(async () => {
  tlsPair = await generateSelfSigned(['127.0.0.1']);
  server = https.createServer({ cert: tlsPair.certPem, key: tlsPair.keyPem }, (req, res) => {
    const path = req.url ?? '';
    if (path === '/length' || path === '/chunked') {
      res.writeHead(200, path === '/length' ? { 'content-length': disk.length } : {}); // no length: node:http sends chunked
      for (let i = 0; i < disk.length; i += 300_000) res.write(disk.subarray(i, i + 300_000));
      res.end();
    } else if (path === '/cut') {
      res.writeHead(200, { 'content-length': disk.length });
      res.write(disk.subarray(0, MiB), () => res.destroy());
    } else if (path === '/silent') {
      res.writeHead(200, { 'content-length': disk.length });
      res.write(disk.subarray(0, 1000));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sink = await startS3({ sink: true });
  s3 = new S3Client(labS3ClientConfig(sink));
  await s3.send(new CreateBucketCommand({ Bucket: 'disks' }));
});

afterAll(async () => {
  s3?.destroy();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await sink?.stop();
});

/** Reads a body, pausing after every `pauseEvery` bytes for `pauseMs`. */
async function readAll(path: string, pauseEvery = Number.POSITIVE_INFINITY, pauseMs = 0, idleTimeoutMs?: number): Promise<{ bytes: Buffer; pauses: number }> {
  const body = await openNfcBody(`${base}${path}`, { thumbprint: tlsPair.thumbprintSha256, ...(idleTimeoutMs ? { idleTimeoutMs } : {}) });
  const chunks: Buffer[] = [];
  let sincePause = 0;
  let pauses = 0;
  const n = await body.start((chunk) => {
    const take = Math.min(chunk.length, pauseEvery - sincePause);
    chunks.push(Buffer.from(chunk.subarray(0, take)));
    sincePause += take;
    if (sincePause >= pauseEvery) {
      sincePause = 0;
      pauses += 1;
      setTimeout(() => body.resume(), pauseMs);
    }
    return take;
  });
  const bytes = Buffer.concat(chunks);
  expect(n).toBe(bytes.length);
  return { bytes, pauses };
}

describe('openNfcBody', () => {
  it('reads a Content-Length and a chunked body byte for byte, through pauses that split reads', async () => {
    for (const path of ['/length', '/chunked']) {
      const { bytes, pauses } = await readAll(path, 777_777, 0);
      expect(pauses).toBeGreaterThan(10);
      expect(sha(bytes)).toBe(sha(disk));
    }
  });

  it("decrypts body bytes straight into the consumer's buffer, and chunk lines and paused bytes through its own", async () => {
    for (const path of ['/length', '/chunked']) {
      const body = await openNfcBody(`${base}${path}`, { thumbprint: tlsPair.thumbprintSha256 });
      // The consumer keeps 1 MiB "parts" in one big buffer and takes at most 700,000 bytes between pauses.
      const dest = Buffer.alloc(disk.length);
      let filled = 0;
      let sincePause = 0;
      const seen = { inPlace: 0, copied: 0, pauses: 0 };
      const partEnd = () => Math.min(dest.length, (Math.floor(filled / MiB) + 1) * MiB);
      const n = await body.start(
        (chunk) => {
          const take = Math.min(chunk.length, 700_000 - sincePause);
          if (chunk.buffer === dest.buffer && chunk.byteOffset === dest.byteOffset + filled) seen.inPlace += 1;
          else {
            chunk.copy(dest, filled, 0, take);
            seen.copied += 1;
          }
          filled += take;
          sincePause += take;
          if (sincePause === 700_000) {
            sincePause = 0;
            seen.pauses += 1;
            setTimeout(() => body.resume(), 1);
          }
          return take;
        },
        () => dest.subarray(filled, partEnd()),
      );
      expect(n).toBe(disk.length);
      expect(sha(dest)).toBe(sha(disk));
      expect(seen.pauses).toBeGreaterThan(10);
      // Most reads land in place; the head, chunk lines and the bytes held over a pause come through a copy.
      expect(seen.inPlace).toBeGreaterThan(seen.copied);
      expect(seen.copied).toBeGreaterThan(0);
    }
  });

  it('does not count a consumer pause as the disk server going silent, but fails a silent server', async () => {
    // One pause twice the idle timeout. The timeout leaves room for a loaded machine: the server shares this process's
    // event loop, and 250 ms once timed out a read that was not paused at load average 25.
    const { bytes, pauses } = await readAll('/length', 6 * MiB, 3000, 1500);
    expect(pauses).toBe(1);
    expect(sha(bytes)).toBe(sha(disk));
    const err = await readAll('/silent', Number.POSITIVE_INFINITY, 0, 1500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NfcDownloadError);
    expect(err).toMatchObject({ reason: 'interrupted', message: expect.stringMatching(/was interrupted: ETIMEDOUT/) });
  });

  it('fails a body cut short as interrupted, and refuses a certificate that is not the pinned one', async () => {
    const cut = await readAll('/cut').catch((e: unknown) => e);
    expect(cut).toMatchObject({ name: 'NfcDownloadError', reason: 'interrupted' });
    const other = await generateSelfSigned(['127.0.0.1']);
    const refused = await openNfcBody(`${base}/length`, { thumbprint: other.thumbprintSha256 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'NfcDownloadError', reason: 'tls', message: expect.stringMatching(/does not match the configured thumbprint/) });
    const gone = await openNfcBody(`${base}/nothing`, { thumbprint: tlsPair.thumbprintSha256 }).catch((e: unknown) => e);
    expect(gone).toMatchObject({ reason: 'http', message: expect.stringMatching(/HTTP 404: the export lease is no longer valid/) });
  });
});

describe('uploadToS3 backpressure', () => {
  it('holds the source while queueSize parts are in flight and one buffer is full, and resumes it as parts finish', async () => {
    const partSize = 5 * MiB;
    const data = randomBytes(8 * partSize + 4321);
    let inFlight = 0;
    let maxInFlight = 0;
    const client = new S3Client(labS3ClientConfig(sink));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'UploadPartCommand') return next(args);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize' },
    );
    // A source as fast as memory: it offers 256 KiB at a time until the uploader takes less.
    let offset = 0;
    let refusals = 0;
    let deliver: ((c: Buffer) => number) | undefined;
    let finish: ((n: number) => void) | undefined;
    const pump = (): void => {
      while (offset < data.length) {
        const view = data.subarray(offset, offset + 256 * 1024);
        const took = deliver!(view);
        offset += took;
        if (took < view.length) {
          refusals += 1;
          return;
        }
      }
      finish!(data.length);
    };
    const source: PushSource = {
      start: (onData) => new Promise((resolve) => ((deliver = onData), (finish = resolve), pump())),
      resume: () => setImmediate(pump),
      destroy: () => undefined,
    };
    const result = await uploadToS3(source, { s3: client, bucket: 'disks', key: 'pushed.vmdk', expectedBytes: data.length, partSize, queueSize: 2 });
    client.destroy();
    expect(result).toEqual({ bytes: data.length, parts: 9 });
    expect(maxInFlight).toBe(2);
    expect(refusals).toBeGreaterThan(0);
    const digests = Array.from({ length: 9 }, (_, i) => sha(data.subarray(i * partSize, (i + 1) * partSize)));
    expect(sink.sinkStats('disks', 'pushed.vmdk')?.compositeSha256).toBe(compositeSha256(digests));
  });
});
