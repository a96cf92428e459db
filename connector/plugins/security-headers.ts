import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply } from 'fastify';

const HSTS_MAX_AGE = 31_536_000;

export interface SecurityHeadersOptions {
  /** The vCenter the plugin is registered with: the vSphere Client there frames the plugin pages. */
  vcenterUrl: string;
  /** The built plugin UI; its inline scripts and styles are allowed by hash, nothing else inline is. */
  uiRoot: string;
  /** HSTS is only meaningful (and only sent) when the connector itself serves HTTPS. */
  https: boolean;
}

/** CSP sources ('sha256-…') for the inline <script> and <style> elements of a page, exactly as the browser hashes them. */
export function inlineSources(html: string): { scripts: string[]; styles: string[] } {
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)]
    .filter((m) => !/\bsrc\s*=/i.test(m[1] ?? '') && (m[2] ?? '').trim() !== '')
    .map((m) => hash(m[2] ?? ''));
  const styles = [...html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi)].map((m) => hash(m[1] ?? ''));
  return { scripts: [...new Set(scripts)], styles: [...new Set(styles)] };
}

/** The policy every response carries: plugin pages, API answers, errors, 404s and the API docs page. */
export function contentSecurityPolicyDirectives(opts: SecurityHeadersOptions): Record<string, string[]> {
  const index = join(opts.uiRoot, 'index.html');
  // Read once at start-up: a replaced UI build takes effect with the connector's restart, like the UI itself.
  const inline = existsSync(index) ? inlineSources(readFileSync(index, 'utf8')) : { scripts: [], styles: [] };
  return {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'", 'data:'],
    formAction: ["'self'"],
    // The vSphere Client frames the plugin: through its /plugins/ proxy ('self' there) or from its own origin.
    frameAncestors: ["'self'", new URL(opts.vcenterUrl).origin],
    imgSrc: ["'self'", 'data:'],
    objectSrc: ["'none'"],
    scriptSrc: ["'self'", ...inline.scripts],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'", ...inline.styles],
    upgradeInsecureRequests: [],
  };
}

/**
 * Hardening headers on everything the connector sends (helmet's onRequest hook runs for every route, the 404
 * handler and error replies): CSP, nosniff, no referrer, HSTS over HTTPS. Returns what sets the same essentials on
 * a reply no hook saw (router failures such as an undecodable URL).
 */
export async function registerSecurityHeaders(app: FastifyInstance, opts: SecurityHeadersOptions): Promise<(reply: FastifyReply) => void> {
  const contentSecurityPolicy = { useDefaults: false, directives: contentSecurityPolicyDirectives(opts) };
  await app.register(helmet, {
    contentSecurityPolicy,
    strictTransportSecurity: opts.https ? { maxAge: HSTS_MAX_AGE, includeSubDomains: false } : false,
    referrerPolicy: { policy: 'no-referrer' },
    // frame-ancestors decides who may frame; X-Frame-Options cannot name the vCenter origin.
    frameguard: false,
  });
  const csp = helmet.contentSecurityPolicy(contentSecurityPolicy);
  return (reply) => {
    csp(reply.request.raw, reply.raw, () => undefined);
    void reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    if (opts.https) void reply.header('strict-transport-security', `max-age=${HSTS_MAX_AGE}`);
  };
}
