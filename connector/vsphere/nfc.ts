// Streaming download of an NFC export lease disk URL (ESXi or vCenter), verified against the lease's sslThumbprint.
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { NfcResponseParser, type ResponseHead } from './nfc-http.ts';
import { connectTrusted, isTlsTrustFailure, tlsFixHint, tlsReason } from './tls.ts';

export interface NfcDownloadOptions {
  /** `deviceUrl.sslThumbprint` from the lease (SHA-1 or SHA-256). When set, the disk server is pinned to it. */
  thumbprint?: string;
  /** PEM CA used when the lease gives no thumbprint. */
  ca?: string;
  /** `vmware_soap_session=…` of the vim25 session (needed when the disk is served through vCenter). */
  cookie?: string;
  signal?: AbortSignal;
  /** Host[:port] that replaces a `*` host in the lease URL (the vCenter the lease came from). */
  vcenterHost?: string;
  /** Idle time without data before the download fails; default 120 s. */
  idleTimeoutMs?: number;
}

/** A failed disk download: `host` is the disk server (ESX host) as host[:port]; the engine retries all but `tls`. */
export class NfcDownloadError extends Error {
  override name = 'NfcDownloadError';
  constructor(
    message: string,
    readonly reason: 'interrupted' | 'unreachable' | 'http' | 'tls',
    readonly host: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Origin and file name only: the path of an NFC URL carries the lease ticket and must not be shown. */
function describe(url: URL): string {
  const file = url.pathname.split('/').pop() ?? '';
  return `${url.protocol}//${url.host}/…/${file}`;
}

/** Bytes the TLS layer decrypts into per read (one TLS record is at most 16 KiB). */
const READ_BUFFER_BYTES = 64 * 1024;
/** Least room in the consumer's buffer worth decrypting into directly (below it, one read per short run costs more). */
const DIRECT_MIN_BYTES = 4 * 1024;

/** The body of an NFC disk response, read straight off its TLS socket. */
export interface NfcBody {
  /** Body size the server announced (Content-Length), if it did. */
  readonly contentLength?: number;
  /**
   * Delivers the body to `onData`, in views of a buffer that is reused after the call (copy what you keep).
   * `onData` returns how many bytes it took: fewer than offered pauses the download, the rest kept, until `resume()`.
   * `into`, when given, returns where the consumer would copy the next bytes (a view of its own free space, or
   * undefined): the socket then decrypts body bytes straight into that view and `onData` receives a view starting at
   * the same place, which the consumer takes without copying (one copy of every byte fewer).
   * Resolves with the body's byte count at its end; rejects with an NfcDownloadError (interrupted) or an AbortError.
   */
  start(onData: (chunk: Buffer) => number, into?: () => Buffer | undefined): Promise<number>;
  pause(): void;
  resume(): void;
  /** Closes the connection; a running `start` rejects with `err` (default: the download was cancelled). */
  destroy(err?: Error): void;
}

function resolveUrl(rawUrl: string, vcenterHost: string | undefined): URL {
  let urlText = rawUrl;
  if (/^https?:\/\/\*(?=[:/])/i.test(urlText)) {
    if (!vcenterHost) throw new Error('The export lease URL has host "*": pass the vCenter host (vcenterHost) to download it');
    urlText = urlText.replace(/^(https?:\/\/)\*(?=[:/])/i, `$1${vcenterHost}`);
  }
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new Error('The export lease returned an invalid disk URL');
  }
  if (url.protocol !== 'https:') {
    throw new Error(`Refusing to download a disk over ${url.protocol} from ${url.host}: export URLs must be https`);
  }
  return url;
}

/**
 * Opens a disk URL and resolves once the response headers (HTTP 200) arrived. The socket decrypts into one reused
 * buffer (`onread`) and the body is framed here, not by node:http: per 16 KiB TLS record that saves a Buffer, a
 * parser call and two stream pushes — 1.5 of the 2.1 CPU-s a raw 1 GiB lease read cost through https.request.
 * With `onread` the peak RSS once grew with the disk's size (engine-memory 239 → 315 MiB for 1 → 20 GiB): V8 sized
 * its heap from the host's RAM. Under the connector's own heap flags (node-flags.ts) it is flat: 215 / 215 MiB.
 */
export async function openNfcBody(rawUrl: string, opts: NfcDownloadOptions): Promise<NfcBody> {
  const url = resolveUrl(rawUrl, opts.vcenterHost);
  const where = describe(url);
  const pinned = opts.thumbprint?.trim() ? opts.thumbprint : undefined;
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  const signal = opts.signal;
  if (signal?.aborted) throw abortError(signal);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');

  const interrupted = (err: Error): Error => {
    if (err.name === 'AbortError' || err instanceof NfcDownloadError) return err;
    const code = (err as { code?: string }).code;
    return new NfcDownloadError(`Disk download from ${where} was interrupted: ${code ?? err.message}. Retry the export.`, 'interrupted', url.host, { cause: err });
  };
  const unreachable = (err: Error): Error => {
    if (err.name === 'AbortError' || err instanceof NfcDownloadError) return err;
    if (isTlsTrustFailure(err)) {
      return new NfcDownloadError(`Connector refused the TLS certificate of the disk server ${where}: ${tlsReason(err)}. ${tlsFixHint(err, !!opts.ca, !!pinned)}`, 'tls', url.host, {
        cause: err,
      });
    }
    const code = (err as { code?: string }).code;
    return new NfcDownloadError(
      `Connector is unable to download the disk from ${where}: ${code && err.message.includes(code) ? code : err.message}. ` +
        'The connector needs HTTPS access to the ESXi hosts (port 443) or to vCenter.',
      'unreachable',
      url.host,
      { cause: err },
    );
  };

  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let onRead: (n: number, into: Buffer) => boolean = () => false;
  // Where the socket decrypts its next read: the consumer's own buffer while only body bytes are due, else ours.
  let nextBuffer: () => Buffer = () => readBuffer;
  // The lease thumbprint comes from the authenticated vCenter session, so it alone is enough to trust the disk server.
  const connecting = connectTrusted(
    pinned ? { thumbprint: pinned } : opts.ca !== undefined ? { ca: opts.ca } : {},
    {
      host: hostname,
      port: Number(url.port || 443),
      ...(isIP(hostname) ? {} : { servername: hostname }),
      onread: { buffer: () => nextBuffer(), callback: (n: number, buf: Buffer) => onRead(n, buf) },
    },
    Math.min(idleMs, 30_000),
  );
  let socket: TLSSocket;
  try {
    socket = await new Promise<TLSSocket>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      connecting.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
    });
  } catch (err) {
    // A connection that completes after a cancel is closed at once.
    connecting.then((s) => s.destroy(), () => undefined);
    throw unreachable(err as Error);
  }

  return new Promise<NfcBody>((resolveHead, rejectHead) => {
    let head: ResponseHead | undefined;
    let consumer: ((chunk: Buffer) => number) | undefined;
    let target: (() => Buffer | undefined) | undefined;
    let paused = true;
    let ended = false;
    let failed: Error | undefined;
    let total = 0;
    const pending: Buffer[] = [];
    let settleBody: { resolve: (n: number) => void; reject: (e: Error) => void } | undefined;
    let bodyResult: { ok: true } | { ok: false; err: Error } | undefined;

    const cleanup = (): void => {
      signal?.removeEventListener('abort', onAbort);
      socket.setTimeout(0);
      socket.destroy();
    };
    const fail = (err: Error): void => {
      if (failed || bodyResult) return;
      failed = head ? interrupted(err) : unreachable(err);
      cleanup();
      if (!head) return rejectHead(failed);
      bodyResult = { ok: false, err: failed };
      settleBody?.reject(failed);
    };
    const finish = (): void => {
      if (failed || bodyResult) return;
      bodyResult = { ok: true };
      cleanup();
      settleBody?.resolve(total);
    };
    const offer = (view: Buffer): void => {
      if (paused || !consumer) {
        pending.push(Buffer.from(view));
        paused = true;
        return;
      }
      const took = consumer(view);
      total += took;
      if (took < view.length) {
        pending.push(Buffer.from(view.subarray(took)));
        pause();
      }
    };
    const pause = (): void => {
      paused = true;
      socket.setTimeout(0); // a consumer's stall (an S3 part in flight) is not the disk server's silence
    };
    const resume = (): void => {
      if (!consumer || failed || bodyResult) return;
      paused = false;
      while (pending.length > 0 && !paused) {
        const b = pending.shift()!;
        const took = consumer(b);
        total += took;
        if (took < b.length) {
          pending.unshift(b.subarray(took));
          pause();
        }
      }
      if (paused) return;
      if (ended) return finish();
      socket.setTimeout(idleMs);
      socket.resume();
    };

    const parser = new NfcResponseParser(
      (h) => {
        head = h;
        if (h.status !== 200) {
          const hint =
            h.status === 404
              ? 'the export lease is no longer valid (completed, aborted or timed out); start a new export'
              : h.status === 401 || h.status === 403
                ? 'the disk server refused the session; check the vCenter session and the user privileges'
                : 'check the ESXi host and vCenter logs';
          failed = new NfcDownloadError(`Disk download from ${where} failed with HTTP ${h.status}: ${hint}`, 'http', url.host);
          cleanup();
          rejectHead(failed);
          return;
        }
        const announced = parser.remaining;
        socket.setTimeout(0);
        resolveHead({
          ...(announced !== undefined ? { contentLength: announced } : {}),
          start: (onData, into) => {
            if (consumer) return Promise.reject(new Error('The disk download was already started'));
            consumer = onData;
            target = into;
            const done = new Promise<number>((resolve, reject) => {
              settleBody = { resolve, reject };
              if (bodyResult) return bodyResult.ok ? resolve(total) : reject(bodyResult.err);
            });
            resume();
            return done;
          },
          pause,
          resume,
          destroy: (err) => fail(err ?? Object.assign(new Error('The disk download was cancelled'), { name: 'AbortError' })),
        });
      },
      offer,
      () => {
        ended = true;
        if (pending.length === 0 && consumer) finish();
      },
    );

    nextBuffer = () => {
      if (!target || paused || failed || bodyResult || pending.length > 0) return readBuffer;
      const room = parser.bodyRoom;
      // Short runs between chunk lines are not worth a read each: they go through our buffer.
      if (room < DIRECT_MIN_BYTES) return readBuffer;
      const space = target();
      if (!space || space.length < DIRECT_MIN_BYTES) return readBuffer;
      return space.length > room ? space.subarray(0, room) : space;
    };
    onRead = (n, buf) => {
      if (failed || bodyResult) return false;
      try {
        parser.feed(buf.subarray(0, n));
      } catch (err) {
        fail(err as Error);
        return false;
      }
      return !paused && !failed && !bodyResult;
    };
    const onEof = (): void => {
      if (failed || bodyResult) return;
      try {
        parser.end();
      } catch (err) {
        fail(err as Error);
      }
    };
    socket.on('end', onEof);
    socket.on('close', () => (parser.complete ? undefined : fail(new Error('connection closed before the end of the disk'))));
    socket.on('error', fail);
    socket.on('timeout', () => {
      const err = Object.assign(new Error(`no data from ${where} for ${Math.round(idleMs / 1000)} s`), { code: 'ETIMEDOUT' });
      fail(err);
    });
    const onAbort = (): void => fail(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });

    const headers = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      'Accept: application/octet-stream',
      'User-Agent: vcenter-ec2-connector',
      ...(opts.cookie ? [`Cookie: ${opts.cookie}`] : []),
      'Connection: close',
    ];
    socket.setTimeout(idleMs);
    socket.write(`${headers.join('\r\n')}\r\n\r\n`);
  });
}

/** Opens a disk URL as a Readable (copies of the body); resolves once response headers (HTTP 200) arrived. */
export async function openNfcDownload(
  rawUrl: string,
  opts: NfcDownloadOptions,
): Promise<{ stream: Readable; contentLength?: number }> {
  const body = await openNfcBody(rawUrl, opts);
  const stream = new Readable({
    highWaterMark: 1024 * 1024,
    read: () => body.resume(),
    destroy: (err, cb) => {
      body.destroy(err ?? undefined);
      cb(err);
    },
  });
  body
    .start((chunk) => {
      if (!stream.push(Buffer.from(chunk))) body.pause();
      return chunk.length;
    })
    .then(
      () => stream.push(null),
      (err: unknown) => stream.destroy(err as Error),
    );
  return { stream, ...(body.contentLength !== undefined ? { contentLength: body.contentLength } : {}) };
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return Object.assign(new Error('The disk download was cancelled'), { name: 'AbortError', cause: reason });
}
