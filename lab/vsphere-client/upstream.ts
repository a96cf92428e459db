// Outgoing HTTPS from the stand-in: small JSON requests (manifests, dynamic items) and the streaming reverse
// proxy for /plugins/... and /sdk. Hand-written over node:https rather than @fastify/reply-from because every
// upstream pins its own certificate through the project's verify-before-write agent (connector/vsphere/tls.ts).
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isTlsTrustFailure } from '../../connector/vsphere/tls.ts';

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface UpstreamRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  agent: https.Agent;
  timeoutMs?: number;
  maxBytes?: number;
}

/** A buffered HTTPS request (bodies up to `maxBytes`, default 4 MiB). */
export function requestUpstream(url: URL, opts: UpstreamRequest): Promise<UpstreamResponse> {
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = https.request(
      url,
      { method: opts.method ?? 'GET', headers, agent: opts.agent, timeout: opts.timeoutMs ?? 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            res.destroy(new Error(`response larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs ?? 15_000} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** One line saying why a request to `origin` failed and what to check. */
export function describeUpstreamError(err: unknown, origin: string, trustHint: string): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const detail = e?.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : (e?.message ?? String(err));
  if (isTlsTrustFailure(err)) return `the TLS certificate of ${origin} is not trusted: ${detail}. ${trustHint}`;
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'EHOSTUNREACH') {
    return `cannot connect to ${origin}: ${detail}. Check that the server is running and the registered URL is right.`;
  }
  return `request to ${origin} failed: ${detail}`;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export interface ProxyOptions {
  agent: https.Agent;
  /** Cookies of the stand-in itself that must never reach the upstream. */
  dropCookies: string[];
  /** Rewrites an absolute upstream `Location` into the proxied namespace (`/plugins/...`). */
  rewriteLocation?: (location: string) => string;
  trustHint: string;
  timeoutMs?: number;
}

function forwardHeaders(request: FastifyRequest, target: URL, dropCookies: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === 'cookie') {
      const kept = String(value)
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c && !dropCookies.includes(c.split('=', 1)[0] ?? ''));
      if (kept.length) out.cookie = kept.join('; ');
      continue;
    }
    out[name] = value;
  }
  out.host = target.host;
  out['x-forwarded-for'] = request.ip;
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-host'] = request.headers.host ?? '';
  return out;
}

/** Streams the request to `target` and the answer back; a 502 JSON error says what is wrong if the upstream fails. */
export async function proxyTo(request: FastifyRequest, reply: FastifyReply, target: URL, opts: ProxyOptions): Promise<FastifyReply> {
  let upstream: IncomingMessage;
  try {
    upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = https.request(
        target,
        { method: request.method, headers: forwardHeaders(request, target, opts.dropCookies), agent: opts.agent, timeout: opts.timeoutMs ?? 300_000 },
        resolve,
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      request.raw.pipe(req);
    });
  } catch (err) {
    return reply
      .code(502)
      .type('application/json')
      .send({ error: 'BadGateway', message: `The vSphere Client proxy could not forward ${request.method} ${request.url}: ${describeUpstreamError(err, target.origin, opts.trustHint)}` });
  }
  reply.code(upstream.statusCode ?? 502);
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    reply.header(name, name === 'location' && opts.rewriteLocation ? opts.rewriteLocation(String(value)) : value);
  }
  return reply.send(upstream);
}
