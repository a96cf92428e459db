import { hash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import fastifyRateLimit from '@fastify/rate-limit';
import { AppError } from '../errors.ts';
import { SESSION_HEADER } from './identity.ts';

export interface RateLimitOptions {
  /** Requests one user may make per window. */
  max: number;
  windowMs: number;
}

/**
 * The key is a SHA-256 of the plugin session token, taken before the token is resolved to a vCenter user, so a flood
 * costs no vCenter round trip. One vSphere Client login shares its token across its tabs, so the key is one user's
 * browser session. Requests without a token are keyed by client address.
 */
export function rateLimitKey(request: FastifyRequest): string {
  const token = request.headers[SESSION_HEADER];
  if (typeof token === 'string' && token.length > 0) return `t:${hash('sha256', token, 'base64url').slice(0, 22)}`;
  return `ip:${request.ip}`;
}

/** Per-user request budget for the API; over it: 429 RATE_LIMITED with Retry-After (seconds). */
export const rateLimitPlugin = fp(
  async (app: FastifyInstance, opts: RateLimitOptions) => {
    await app.register(fastifyRateLimit, {
      max: opts.max,
      timeWindow: opts.windowMs,
      keyGenerator: rateLimitKey,
      // Bounded key memory: least recently seen keys are dropped first.
      cache: 10_000,
      errorResponseBuilder: (_request, ctx) =>
        new AppError(
          429,
          'RATE_LIMITED',
          `Too many requests from this vSphere Client session (more than ${ctx.max} in ${Math.round(opts.windowMs / 1000)} s). Retry in ${ctx.after}; if this happens in normal use, raise limits.maxRequests in the connector configuration.`,
        ),
    });
  },
  { name: 'rate-limit' },
);
