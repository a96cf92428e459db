import type { Host } from '../host/host.ts';

/** Query parameters; `undefined` and `null` are left out. */
export type Params = Record<string, string | number | boolean | undefined | null>;
export interface RequestOptions {
  params?: Params;
}
export interface HttpResponse<T> {
  status: number;
  data: T;
}

/** The connector answered with an HTTP error (`status` set), or did not answer at all (`status` undefined). */
export class HttpError extends Error {
  constructor(
    readonly status: number | undefined,
    /** The parsed JSON body when there was one. */
    readonly data: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Http {
  get<T>(path: string, opts?: RequestOptions): Promise<HttpResponse<T>>;
  post<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<HttpResponse<T>>;
  put<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<HttpResponse<T>>;
  patch<T>(path: string, body?: unknown, opts?: RequestOptions): Promise<HttpResponse<T>>;
  delete<T>(path: string, opts?: RequestOptions): Promise<HttpResponse<T>>;
}

export const HTTP_TIMEOUT_MS = 60_000;

function query(params: Params | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== null) q.append(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * The one HTTP client: base URL through the vSphere Client proxy, a fresh session token on every call. Plain fetch:
 * the modal's first render pays for no HTTP library.
 */
export function createHttp(host: Host): Http {
  async function send<T>(method: string, path: string, body: unknown, opts: RequestOptions | undefined): Promise<HttpResponse<T>> {
    const [baseUrl, token] = await Promise.all([host.backendBaseUrl(), host.sessionToken()]);
    const headers: Record<string, string> = { Accept: 'application/json', 'Cache-Control': 'no-cache', 'vmware-api-session-id': token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}${query(opts?.params)}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (err) {
      throw new HttpError(undefined, undefined, `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let data: unknown = text;
    if (text && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text; // a proxy's error page mislabelled as JSON: shown as the status below
      }
    } else if (!text) data = undefined;
    if (!res.ok) throw new HttpError(res.status, data, `${method} ${path}: HTTP ${res.status}`);
    return { status: res.status, data: data as T };
  }
  return {
    get: (path, opts) => send('GET', path, undefined, opts),
    post: (path, body, opts) => send('POST', path, body, opts),
    put: (path, body, opts) => send('PUT', path, body, opts),
    patch: (path, body, opts) => send('PATCH', path, body, opts),
    delete: (path, opts) => send('DELETE', path, undefined, opts),
  };
}
