// TLS trust for vCenter and ESXi/NFC endpoints: CA validation and/or certificate thumbprint pinning.
// Validation is never switched off: without a CA, the handshake is accepted only when the pinned thumbprint matches.
import { createHash, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import type { OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface TlsTrust {
  /** PEM bundle that must sign the server certificate (hostname is checked too). */
  ca?: string;
  /** SHA-1 (20 bytes) or SHA-256 (32 bytes) thumbprint, colon hex. */
  thumbprint?: string;
}

export interface ParsedThumbprint {
  algorithm: 'sha1' | 'sha256';
  bytes: Buffer;
}

/** Thrown when the peer certificate is not trusted; `code` is the OpenSSL/Node code or THUMBPRINT_MISMATCH. */
export class TlsTrustError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'TlsTrustError';
    this.code = code;
  }
}

export function parseThumbprint(thumbprint: string): ParsedThumbprint {
  const hex = thumbprint.trim().replace(/[:\s-]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex) || (hex.length !== 40 && hex.length !== 64)) {
    throw new Error(
      'Invalid certificate thumbprint: expected a SHA-1 (20 bytes) or SHA-256 (32 bytes) value in colon-separated hex, e.g. AB:CD:…',
    );
  }
  return { algorithm: hex.length === 40 ? 'sha1' : 'sha256', bytes: Buffer.from(hex, 'hex') };
}

export function formatThumbprint(bytes: Buffer): string {
  return (bytes.toString('hex').toUpperCase().match(/../g) ?? []).join(':');
}

/** Thumbprint of a DER certificate, colon hex upper case. */
export function certificateThumbprint(der: Buffer, algorithm: 'sha1' | 'sha256'): string {
  return formatThumbprint(createHash(algorithm).update(der).digest());
}

/** Constant-time comparison of a DER certificate against a pinned thumbprint. */
export function thumbprintMatches(der: Buffer, pin: ParsedThumbprint): boolean {
  const actual = createHash(pin.algorithm).update(der).digest();
  return actual.length === pin.bytes.length && timingSafeEqual(actual, pin.bytes);
}

const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|ALTNAME|ERR_SSL|ERR_TLS|EPROTO|HOSTNAME|THUMBPRINT/;

export function isTlsTrustFailure(err: unknown): boolean {
  if (err instanceof TlsTrustError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_CODE.test(code);
}

interface PreparedTrust {
  pin: ParsedThumbprint | undefined;
  /** With only a pin, chain and hostname errors are expected (self-signed vCenter/ESXi); the pin replaces them. */
  chainChecked: boolean;
  secureContext: tls.SecureContext;
}

function prepareTrust(trust: TlsTrust): PreparedTrust {
  const pin = trust.thumbprint ? parseThumbprint(trust.thumbprint) : undefined;
  const ca = trust.ca?.trim() ? trust.ca : undefined;
  // Parsing the CA bundle is the costly part of a TLS handshake set-up: do it once per agent, not per connection.
  return { pin, chainChecked: ca !== undefined || pin === undefined, secureContext: tls.createSecureContext(ca !== undefined ? { ca } : {}) };
}

/**
 * Opens a TLS connection and calls `done` once its peer is verified (chain and host name, or the pinned thumbprint),
 * or with the failure (the socket is then destroyed). Returns a function that fails the handshake early.
 */
function connectVerified(
  prepared: PreparedTrust,
  options: tls.ConnectionOptions,
  handshakeMs: number,
  done: (err: Error | null, socket: tls.TLSSocket) => void,
): (err: Error) => void {
  const { pin, chainChecked, secureContext } = prepared;
  const socket = tls.connect({
    ...options,
    rejectUnauthorized: chainChecked,
    secureContext,
    ...(chainChecked ? {} : { checkServerIdentity: () => undefined }),
  });
  let settled = false;
  // A server that accepts the connection but never completes the handshake must not hold the request forever.
  const timer = setTimeout(
    () => settle(Object.assign(new Error(`no TLS handshake within ${Math.round(handshakeMs / 1000)} s`), { code: 'ETIMEDOUT' })),
    handshakeMs,
  );
  const settle = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('error', settle);
    if (err) socket.destroy();
    done(err, socket);
  };
  socket.once('error', settle);
  socket.once('secureConnect', () => {
    if (pin) {
      const cert = socket.getPeerCertificate();
      const der = cert && 'raw' in cert ? cert.raw : undefined;
      if (!der || !thumbprintMatches(der, pin)) {
        const seen = der ? certificateThumbprint(der, pin.algorithm) : 'none';
        settle(
          new TlsTrustError(
            `the server certificate ${pin.algorithm.toUpperCase()} thumbprint ${seen} does not match the configured thumbprint`,
            'THUMBPRINT_MISMATCH',
          ),
        );
        return;
      }
    }
    settle(null);
  });
  return settle;
}

/**
 * One verified TLS connection outside any agent, for a stream the connector reads itself (an NFC disk download
 * with `onread`). Nothing may be written to it before this resolves.
 */
export function connectTrusted(
  trust: TlsTrust,
  options: { host: string; port: number; servername?: string; onread?: OnReadOpts },
  handshakeMs = 30_000,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // Node's TLS socket honours `onread` like a net.Socket: records are decrypted into the caller's buffer.
    connectVerified(prepareTrust(trust), options as tls.ConnectionOptions, handshakeMs, (err, socket) => (err ? reject(err) : resolve(socket)));
  });
}

/**
 * An https.Agent whose sockets are handed to HTTP only after the peer certificate has been verified,
 * so no request byte (cookie, password) is written to an unverified server.
 */
export function createTrustedAgent(trust: TlsTrust, agentOptions: https.AgentOptions = {}): https.Agent {
  const prepared = prepareTrust(trust);

  // Sockets still in their handshake: HTTP does not own them yet, so destroy() and timeouts must.
  const handshaking = new Set<() => void>();
  const handshakeMs = typeof agentOptions.timeout === 'number' && agentOptions.timeout > 0 ? agentOptions.timeout : 30_000;

  class TrustedAgent extends https.Agent {
    override destroy(): void {
      for (const abort of [...handshaking]) abort();
      super.destroy();
    }

    override createConnection(
      options: https.RequestOptions,
      callback?: (err: Error | null, stream: Duplex) => void,
    ): Duplex | null | undefined {
      const connectOptions: tls.ConnectionOptions = {
        host: options.host ?? undefined,
        port: Number(options.port ?? 443),
        servername: (options as tls.ConnectionOptions).servername || undefined,
      };
      const abort = (): void => fail(new Error('the connection was closed before its TLS handshake completed'));
      handshaking.add(abort);
      const fail = connectVerified(prepared, connectOptions, handshakeMs, (err, socket) => {
        handshaking.delete(abort);
        callback?.(err, socket);
      });
      return undefined;
    }
  }

  return new TrustedAgent({ keepAlive: true, ...agentOptions });
}

/** The failure text with its code when the message does not already name it. */
export function tlsReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== 'THUMBPRINT_MISMATCH' && !message.includes(code) ? `${message} (${code})` : message;
}

/** Human-readable hint for a TLS trust failure (what the administrator should fix). */
export function tlsFixHint(err: unknown, hasCa: boolean, hasPin: boolean): string {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'THUMBPRINT_MISMATCH') {
    return 'Check the certificate thumbprint configured for this server (the certificate may have been replaced).';
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return 'Connect with the host name or IP address the certificate was issued for, or pin the certificate thumbprint.';
  }
  if (!hasCa && !hasPin) {
    return 'Provide the vCenter CA certificate (PEM) or pin the certificate SHA-256 thumbprint.';
  }
  return 'Provide the CA certificate (PEM) that issued this server certificate, or pin its SHA-256 thumbprint.';
}
