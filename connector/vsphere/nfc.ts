// Streaming download of an NFC export lease disk URL (ESXi or vCenter), verified against the lease's sslThumbprint.
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { createTrustedAgent, isTlsTrustFailure, tlsFixHint, tlsReason } from './tls.ts';

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

/** Opens a disk URL for reading; resolves once response headers (HTTP 200) arrived. */
export function openNfcDownload(
  rawUrl: string,
  opts: NfcDownloadOptions,
): Promise<{ stream: Readable; contentLength?: number }> {
  let urlText = rawUrl;
  if (/^https?:\/\/\*(?=[:/])/i.test(urlText)) {
    if (!opts.vcenterHost) {
      return Promise.reject(new Error('The export lease URL has host "*": pass the vCenter host (vcenterHost) to download it'));
    }
    urlText = urlText.replace(/^(https?:\/\/)\*(?=[:/])/i, `$1${opts.vcenterHost}`);
  }
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return Promise.reject(new Error('The export lease returned an invalid disk URL'));
  }
  if (url.protocol !== 'https:') {
    return Promise.reject(new Error(`Refusing to download a disk over ${url.protocol} from ${url.host}: export URLs must be https`));
  }
  const where = describe(url);
  const pinned = opts.thumbprint?.trim() ? opts.thumbprint : undefined;
  // The lease thumbprint comes from the authenticated vCenter session, so it alone is enough to trust the disk server.
  const agent = createTrustedAgent(pinned ? { thumbprint: pinned } : opts.ca !== undefined ? { ca: opts.ca } : {}, {
    keepAlive: false,
  });

  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      agent.destroy();
      reject(abortError(opts.signal));
      return;
    }
    const headers: Record<string, string> = { Accept: 'application/octet-stream', 'User-Agent': 'vcenter-ec2-connector' };
    if (opts.cookie) headers.Cookie = opts.cookie;
    const req = https.request(
      {
        protocol: 'https:',
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 443,
        path: url.pathname + url.search,
        method: 'GET',
        agent,
        headers,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          agent.destroy();
          opts.signal?.removeEventListener('abort', onAbort);
          const hint =
            status === 404
              ? 'the export lease is no longer valid (completed, aborted or timed out); start a new export'
              : status === 401 || status === 403
                ? 'the disk server refused the session; check the vCenter session and the user privileges'
                : 'check the ESXi host and vCenter logs';
          reject(new NfcDownloadError(`Disk download from ${where} failed with HTTP ${status}: ${hint}`, 'http', url.host));
          return;
        }
        const len = Number(res.headers['content-length']);
        // Hand out a PassThrough so that mid-stream failures carry a message naming the disk server.
        const out = new PassThrough({ highWaterMark: 1024 * 1024 });
        response = { res, out };
        res.on('error', (err) => out.destroy(err.name === 'AbortError' ? err : interrupted(err)));
        res.on('end', () => {
          if (!res.complete) out.destroy(interrupted(new Error('connection closed before the end of the disk')));
        });
        out.once('close', () => {
          if (!res.complete) res.destroy();
          agent.destroy();
          opts.signal?.removeEventListener('abort', onAbort);
        });
        res.pipe(out);
        resolve({ stream: out, ...(Number.isFinite(len) && len >= 0 ? { contentLength: len } : {}) });
      },
    );
    let response: { res: IncomingMessage; out: PassThrough } | undefined;
    const interrupted = (err: Error): Error => {
      const code = (err as { code?: string }).code;
      return new NfcDownloadError(`Disk download from ${where} was interrupted: ${code ?? err.message}. Retry the export.`, 'interrupted', url.host, { cause: err });
    };
    // Fails the response stream once it is handed out, the request before that.
    const fail = (err: Error): void => {
      if (response) {
        response.out.destroy(err);
        response.res.destroy();
      } else {
        req.destroy(err);
      }
    };
    const idleMs = opts.idleTimeoutMs ?? 120_000;
    req.setTimeout(idleMs, () => {
      const err = Object.assign(new Error(`no data from ${where} for ${Math.round(idleMs / 1000)} s`), { code: 'ETIMEDOUT' });
      fail(response ? interrupted(err) : err);
    });
    const onAbort = (): void => fail(abortError(opts.signal));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      agent.destroy();
      opts.signal?.removeEventListener('abort', onAbort);
      if (response) return; // reported through the response stream
      if (err.name === 'AbortError') {
        reject(err);
      } else if (isTlsTrustFailure(err)) {
        reject(
          new NfcDownloadError(`Connector refused the TLS certificate of the disk server ${where}: ${tlsReason(err)}. ${tlsFixHint(err, !!opts.ca, !!pinned)}`, 'tls', url.host, {
            cause: err,
          }),
        );
      } else {
        const code = (err as { code?: string }).code;
        reject(
          new NfcDownloadError(
            `Connector is unable to download the disk from ${where}: ${code && err.message.includes(code) ? code : err.message}. ` +
              'The connector needs HTTPS access to the ESXi hosts (port 443) or to vCenter.',
            'unreachable',
            url.host,
            { cause: err },
          ),
        );
      }
    });
    req.end();
  });
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return Object.assign(new Error('The disk download was cancelled'), { name: 'AbortError', cause: reason });
}
