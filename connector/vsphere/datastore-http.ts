// Byte ranges of a frozen disk over vCenter's HTTPS datastore file access (public, no VDDK):
// GET /folder/<path>?dcPath=<datacenter>&dsName=<datastore> with `Range: bytes=a-b` → 206, authenticated by the vim25
// session cookie. TLS follows the vim25 connection's trust (CA or pinned thumbprint; never validation off).
import https from 'node:https';
import { createTrustedAgent, isTlsTrustFailure, tlsFixHint, tlsReason, type TlsTrust } from './tls.ts';
import type { Vim25Client } from './vim25.ts';

/** A file on a datastore, as the datastore file URL names it. */
export interface DatastoreFile {
  /** Inventory path of the datacenter, e.g. `DC0` or `Europe/DC0`. */
  dcPath: string;
  dsName: string;
  /** Path inside the datastore, e.g. `web-01/web-01-flat.vmdk`. */
  path: string;
}

/** `[datastore] dir/name.vmdk` → its parts. */
export function parseDatastorePath(fileName: string): { dsName: string; path: string } {
  const m = /^\[([^\]]+)\]\s*(.+)$/.exec(fileName.trim());
  if (!m?.[1] || !m[2]) throw new Error(`vCenter reported a disk file name that is not a datastore path: ${JSON.stringify(fileName)}`);
  return { dsName: m[1], path: m[2] };
}

/** The data file of a flat disk: `dir/name.vmdk` → `dir/name-flat.vmdk` (the .vmdk itself is only a descriptor). */
export function flatExtentPath(path: string): string {
  if (!/\.vmdk$/i.test(path)) throw new Error(`The disk file ${path} is not a .vmdk descriptor`);
  return path.replace(/\.vmdk$/i, '-flat.vmdk');
}

export class DatastoreReadError extends Error {
  override name = 'DatastoreReadError';
  constructor(
    message: string,
    /** `tls` and `http` (4xx) are not retried; the others were, and the last attempt failed. */
    readonly reason: 'tls' | 'http' | 'unreachable' | 'interrupted' | 'server',
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface DatastoreReaderOptions {
  /** `https://vcenter[:port]`. */
  origin: string;
  trust: TlsTrust;
  /** The current `vmware_soap_session=…` (read per request: a re-login replaces it). Never logged. */
  cookie: () => string | undefined;
  /** Called once when the server answers 401/403, to log in again before one more try. */
  refreshSession?: () => Promise<void>;
  /** Parallel range requests (sockets); default 4. */
  maxSockets?: number;
  /** Tries per range for network failures and 5xx; default 4. */
  attempts?: number;
  /** Idle time without data before a range read fails; default 60 s. */
  idleTimeoutMs?: number;
  /** First retry delay (doubles); default 250 ms. */
  retryDelayMs?: number;
}

export class DatastoreReader {
  private readonly url: URL;
  private readonly agent: https.Agent;
  private readonly attempts: number;
  private readonly idleMs: number;
  private readonly retryDelayMs: number;
  private readonly hasCa: boolean;
  private readonly hasPin: boolean;

  constructor(private readonly opts: DatastoreReaderOptions) {
    this.url = new URL(opts.origin);
    if (this.url.protocol !== 'https:') throw new Error(`Datastore file access needs https (got ${this.url.protocol}//${this.url.host})`);
    this.hasCa = !!opts.trust.ca?.trim();
    this.hasPin = !!opts.trust.thumbprint;
    this.agent = createTrustedAgent(opts.trust, { keepAlive: true, maxSockets: opts.maxSockets ?? 4, timeout: 15_000 });
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.idleMs = opts.idleTimeoutMs ?? 60_000;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
  }

  /** A reader on the vim25 client's vCenter, with its session cookie and TLS trust. */
  static forClient(vc: Vim25Client, extra: Omit<DatastoreReaderOptions, 'origin' | 'trust' | 'cookie' | 'refreshSession'> = {}): DatastoreReader {
    const { origin, trust } = vc.connection;
    return new DatastoreReader({
      origin,
      trust,
      cookie: () => vc.sessionCookie,
      // Any vim25 call logs in again when vCenter ended the session.
      refreshSession: async () => {
        await vc.currentSession();
      },
      ...extra,
    });
  }

  /** `/folder/…?dcPath=…&dsName=…` without the origin. */
  static pathFor(file: DatastoreFile): string {
    const path = file.path.split('/').map(encodeURIComponent).join('/');
    return `/folder/${path}?dcPath=${encodeURIComponent(file.dcPath)}&dsName=${encodeURIComponent(file.dsName)}`;
  }

  /**
   * Reads `length` bytes at `offset` into `into` (or a new buffer) and returns the filled part: shorter only at the
   * end of the file. Network failures and 5xx are retried; 4xx and TLS refusals are not.
   */
  async readRange(file: DatastoreFile, offset: number, length: number, opts: { signal?: AbortSignal; into?: Buffer } = {}): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length <= 0) {
      throw new Error(`Invalid byte range ${offset}+${length}`);
    }
    const buf = opts.into ?? Buffer.allocUnsafe(length);
    if (buf.length < length) throw new Error('The read buffer is smaller than the range');
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const n = await this.once(file, offset, length, buf, opts.signal);
        return buf.subarray(0, n);
      } catch (err) {
        if (err instanceof Error && err.name === 'AbortError') throw err;
        if (!(err instanceof DatastoreReadError)) throw err;
        if ((err.status === 401 || err.status === 403) && this.opts.refreshSession && !refreshed) {
          refreshed = true;
          await this.opts.refreshSession();
          attempt -= 1;
          continue;
        }
        if (err.reason === 'tls' || err.reason === 'http' || attempt >= this.attempts) throw err;
        await delay(this.retryDelayMs * 2 ** (attempt - 1), opts.signal);
      }
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private describe(file: DatastoreFile): string {
    return `[${file.dsName}] ${file.path} on ${this.url.host}`;
  }

  private once(file: DatastoreFile, offset: number, length: number, buf: Buffer, signal: AbortSignal | undefined): Promise<number> {
    const where = this.describe(file);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const headers: Record<string, string> = {
        Range: `bytes=${offset}-${offset + length - 1}`,
        Accept: 'application/octet-stream',
        'User-Agent': 'vcenter-ec2-connector',
      };
      const cookie = this.opts.cookie();
      if (cookie) headers.Cookie = cookie;
      let settled = false;
      const finish = (err: Error | null, n = 0): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(n);
      };
      const req = https.request(
        {
          protocol: 'https:',
          hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
          port: this.url.port || 443,
          path: DatastoreReader.pathFor(file),
          method: 'GET',
          agent: this.agent,
          headers,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 416) {
            // The range starts at or after the end of the file: nothing to read.
            res.resume();
            finish(null, 0);
            return;
          }
          if (status !== 206) {
            res.resume();
            finish(httpError(status, where));
            return;
          }
          const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
          const from = m ? Number(m[1]) : NaN;
          const to = m ? Number(m[2]) : NaN;
          if (from !== offset || !(to >= from) || to - from + 1 > length) {
            res.destroy();
            finish(new DatastoreReadError(`${where} answered a different byte range (${res.headers['content-range'] ?? 'none'}) than asked (${offset}+${length})`, 'http', status));
            return;
          }
          const expected = to - from + 1;
          let n = 0;
          res.on('data', (c: Buffer) => {
            if (n + c.length > expected) {
              res.destroy(new Error('more bytes than the announced range'));
              return;
            }
            c.copy(buf, n);
            n += c.length;
          });
          res.on('end', () => {
            if (n === expected) finish(null, n);
            else finish(new DatastoreReadError(`Reading ${where} was interrupted after ${n} of ${expected} bytes`, 'interrupted', status));
          });
          res.on('error', (err) => finish(err.name === 'AbortError' ? err : new DatastoreReadError(`Reading ${where} was interrupted: ${err.message}`, 'interrupted', status, { cause: err })));
        },
      );
      req.setTimeout(this.idleMs, () => {
        req.destroy(Object.assign(new Error(`no data for ${Math.round(this.idleMs / 1000)} s`), { code: 'ETIMEDOUT' }));
      });
      const onAbort = (): void => {
        const e = abortError(signal);
        finish(e);
        req.destroy(e);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        if (err.name === 'AbortError') finish(err);
        else if (isTlsTrustFailure(err)) {
          finish(
            new DatastoreReadError(`Connector refused the TLS certificate of vCenter ${this.url.host} for datastore file access: ${tlsReason(err)}. ${tlsFixHint(err, this.hasCa, this.hasPin)}`, 'tls', undefined, {
              cause: err,
            }),
          );
        } else {
          const code = (err as { code?: string }).code;
          finish(
            new DatastoreReadError(
              `Connector is unable to read ${where}: ${code && err.message.includes(code) ? code : err.message}. The connector needs HTTPS access to vCenter (port ${this.url.port || 443}).`,
              'unreachable',
              undefined,
              { cause: err },
            ),
          );
        }
      });
      req.end();
    });
  }
}

function httpError(status: number, where: string): DatastoreReadError {
  if (status === 200) {
    return new DatastoreReadError(`${where} ignored the byte range and offered the whole file: this server does not support ranged datastore reads`, 'http', status);
  }
  const hint =
    status === 404
      ? 'the disk file is not there (the VM was moved or its disks changed); the next cycle reads the VM again'
      : status === 401 || status === 403
        ? 'vCenter refused the session: check that the connector account may browse the datastore (Datastore.Browse, Datastore.FileManagement)'
        : 'check the vCenter and ESXi host logs';
  return new DatastoreReadError(`Reading ${where} failed with HTTP ${status}: ${hint}`, status >= 500 ? 'server' : 'http', status);
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return Object.assign(new Error('The read was cancelled'), { name: 'AbortError', cause: reason });
}
