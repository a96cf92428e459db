// What the CLI says when it cannot connect to vCenter or to the connector: who connected to whom, what failed
// (certificate not trusted, expired, issued for another name, thumbprint mismatch, refused, DNS, timeout) and
// what to do about it. The certificate the server presented is read again, unverified, only to describe it.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { CliError } from './io.ts';

/** Exit status for "could not connect" (sysexits EX_UNAVAILABLE), distinct from usage (2) and configuration (78) errors. */
export const EXIT_UNAVAILABLE = 69;

export type ConnectFailureKind = 'untrusted' | 'expired' | 'not-yet-valid' | 'hostname' | 'thumbprint' | 'tls' | 'refused' | 'dns' | 'timeout' | 'reset' | 'unreachable' | 'other';

export interface ConnectTarget {
  /** e.g. "vm2ec2 register" */
  command: string;
  /** "vCenter" or "the connector" */
  server: string;
  url: URL;
  /** How this command is told to trust that server (e.g. "--vcenter-ca-file <pem>"), for the advice. */
  caOption?: string;
  thumbprintOption?: string;
}

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);

/** The first error code along the cause chain. */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function innermostMessage(err: unknown): string {
  let e: unknown = err;
  while ((e as { cause?: unknown } | null)?.cause instanceof Error) e = (e as { cause: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}

export function classifyConnectFailure(err: unknown): ConnectFailureKind {
  const code = errorCode(err) ?? '';
  const text = innermostMessage(err);
  if (code === 'THUMBPRINT_MISMATCH') return 'thumbprint';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not-yet-valid';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'hostname';
  if (UNTRUSTED.has(code)) return 'untrusted';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') return 'dns';
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || /no answer .*within/.test(text)) return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up|disconnected before/.test(text)) return 'reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'unreachable';
  if (/^ERR_SSL|^ERR_TLS|EPROTO|CERT|SSL/.test(code) || /SSL|TLS|certificate/i.test(text)) return 'tls';
  return 'other';
}

export interface PeerCertificate {
  subject: string;
  names: string;
  validFrom: string;
  validTo: string;
  thumbprintSha256: string;
}

/** The certificate a TLS server presents, unverified (only to describe it in a message); undefined if it cannot be read. */
export function peekCertificate(url: URL, timeoutMs = 5_000): Promise<PeerCertificate | undefined> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
      rejectUnauthorized: false,
    });
    const done = (cert: PeerCertificate | undefined): void => {
      socket.destroy();
      resolve(cert);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      if (!raw) return done(undefined);
      const x = new X509Certificate(raw);
      done({ subject: x.subject.replace(/\n/g, ', '), names: x.subjectAltName ?? '', validFrom: x.validFrom, validTo: x.validTo, thumbprintSha256: x.fingerprint256 });
    });
  });
}

/** The failure in words (no advice): "its certificate is not trusted (self-signed certificate …)". */
export function describeFailure(kind: ConnectFailureKind, err: unknown, url: URL, cert?: PeerCertificate): string {
  const detail = innermostMessage(err);
  const code = errorCode(err);
  const why = code && !detail.includes(code) ? `${detail}, ${code}` : detail;
  const port = url.port || '443';
  const described = cert ? `its certificate (${cert.subject}; SHA-256 ${cert.thumbprintSha256})` : 'its certificate';
  switch (kind) {
    case 'untrusted':
      return `${described} is not trusted (${why})`;
    case 'expired':
      return `${described} has expired${cert ? ` (valid until ${cert.validTo})` : ` (${why})`}`;
    case 'not-yet-valid':
      return `${described} is not valid yet${cert ? ` (valid from ${cert.validFrom})` : ''}; check this machine's clock`;
    case 'hostname':
      return `${described} is not issued for ${url.hostname}${cert?.names ? ` (it names ${cert.names})` : ` (${why})`}`;
    case 'thumbprint':
      return cert ? `${described} does not match the pinned thumbprint` : `its certificate does not match the pinned thumbprint (${detail})`;
    case 'tls':
      return `the TLS handshake failed (${why}); is ${url.host} an https:// port?`;
    case 'refused':
      return `the connection was refused: nothing accepts connections on ${url.hostname} port ${port}`;
    case 'dns':
      return `the host name ${url.hostname} could not be resolved (DNS: ${code ?? why})`;
    case 'timeout':
      return `it did not answer in time (${detail})`;
    case 'reset':
      return `the connection was closed by ${url.host} before it answered (${why})`;
    case 'unreachable':
      return `there is no network route to ${url.hostname} (${code ?? why})`;
    default:
      return why;
  }
}

function advice(kind: ConnectFailureKind, t: ConnectTarget, cert?: PeerCertificate): string {
  const trust = [t.caOption, t.thumbprintOption].filter(Boolean).join(' or ');
  switch (kind) {
    case 'untrusted':
      return trust
        ? `Pass ${trust}${cert && t.thumbprintOption ? ` (after checking that ${cert.thumbprintSha256} is really ${t.server}'s)` : ''}.`
        : `Install a certificate signed by a CA this machine trusts on ${t.server}.`;
    case 'expired':
    case 'not-yet-valid':
      return `Renew the certificate of ${t.server}${t.thumbprintOption ? `, or pin the new one with ${t.thumbprintOption}` : ''}.`;
    case 'hostname':
      return `Use a host name the certificate is issued for in the URL${t.thumbprintOption ? `, or pin the certificate with ${t.thumbprintOption}` : ''}.`;
    case 'thumbprint':
      return `Check ${t.thumbprintOption ?? 'the pinned thumbprint'}: the certificate of ${t.server} may have been replaced.`;
    case 'tls':
      return `Check that the URL points at ${t.server}'s HTTPS port.`;
    case 'refused':
      return `Check that ${t.server} is running and the port in the URL is right.`;
    case 'dns':
      return 'Check the host name in the URL and this machine\'s DNS settings.';
    case 'timeout':
    case 'unreachable':
      return `Check the address and any firewall between this machine and ${t.server}.`;
    case 'reset':
      return `Check that the URL points at ${t.server} and not at a proxy or another service.`;
    default:
      return `Check the URL and that ${t.server} is reachable from this machine.`;
  }
}

/** "vm2ec2 register could not connect to vCenter at https://vc:443: its certificate is not trusted (…). Pass …" */
export async function connectFailure(t: ConnectTarget, err: unknown): Promise<CliError> {
  const kind = classifyConnectFailure(err);
  const certKinds: ConnectFailureKind[] = ['untrusted', 'expired', 'not-yet-valid', 'hostname', 'thumbprint'];
  const cert = certKinds.includes(kind) ? await peekCertificate(t.url) : undefined;
  const where = `${t.url.protocol}//${t.url.hostname}:${t.url.port || 443}`;
  return new CliError(`${t.command} could not connect to ${t.server} at ${where}: ${describeFailure(kind, err, t.url, cert)}.\n${advice(kind, t, cert)}`, EXIT_UNAVAILABLE);
}
