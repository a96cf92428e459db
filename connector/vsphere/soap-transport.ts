// The vim25 SOAP transport: one HTTPS POST per call over a keep-alive agent that trusts the configured CA or pinned
// thumbprint, the session cookie, timeouts, and errors that say whether vCenter was unreachable, refused or faulted.
import https from 'node:https';
import { child, elementEntries, envelope, faultFromDetail, isObj, parseXml, str, VimFault, type XmlValue } from './soap.ts';
import { createTrustedAgent, isTlsTrustFailure, tlsFixHint, tlsReason, type TlsTrust } from './tls.ts';
import type { MoRef } from './types.ts';

const SESSION_COOKIE = 'vmware_soap_session';
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** vCenter could not be reached (refused, reset, timed out, DNS): worth retrying, unlike a fault or a TLS refusal. */
export class VcenterNetworkError extends Error {
  override name = 'VcenterNetworkError';
  /** `https://host:port/sdk` (no credentials). */
  readonly endpoint: string;
  /** The socket error code (ECONNREFUSED, ETIMEDOUT, …) or ENETWORK. */
  readonly code: string;
  constructor(message: string, endpoint: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.endpoint = endpoint;
    this.code = code;
  }
}

export interface SoapTransportOptions extends TlsTrust {
  sdkUrl: string;
  timeoutMs?: number;
  userAgent?: string;
}

/** Redacts credentials from a URL for messages; only scheme://host:port/path. */
export function describeUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export class SoapTransport {
  readonly url: URL;
  readonly endpoint: string;
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly hasCa: boolean;
  private readonly hasPin: boolean;
  /** The CA and/or pinned thumbprint this connection trusts (datastore file reads reuse it). */
  readonly trust: TlsTrust;
  private cookie: string | undefined;
  /** Value of the SOAPAction header: urn:vim25/<version>. */
  soapVersion = '7.0';

  constructor(opts: SoapTransportOptions) {
    let url: URL;
    try {
      url = new URL(opts.sdkUrl);
    } catch {
      throw new Error(`Invalid vCenter SDK URL ${JSON.stringify(opts.sdkUrl)}: expected https://<vcenter>/sdk`);
    }
    if (url.protocol !== 'https:') {
      throw new Error(`vCenter SDK URL must use https (got ${url.protocol}//${url.host}); use https://<vcenter>/sdk`);
    }
    if (url.username || url.password) {
      throw new Error('vCenter SDK URL must not contain credentials; pass them to login() instead');
    }
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/sdk';
    this.url = url;
    this.endpoint = describeUrl(url);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.userAgent = opts.userAgent ?? 'vcenter-ec2-connector';
    this.hasCa = !!opts.ca?.trim();
    this.hasPin = !!opts.thumbprint;
    this.trust = { ...(opts.ca !== undefined ? { ca: opts.ca } : {}), ...(opts.thumbprint !== undefined ? { thumbprint: opts.thumbprint } : {}) };
    this.agent = createTrustedAgent(
      { ...(opts.ca !== undefined ? { ca: opts.ca } : {}), ...(opts.thumbprint !== undefined ? { thumbprint: opts.thumbprint } : {}) },
      // Idle keep-alive sockets are dropped after 15 s so cached per-user clients do not pin connections.
      { keepAlive: true, maxSockets: 8, timeout: 15_000 },
    );
  }

  /** `name=value` of the session cookie, for NFC downloads; never log it. */
  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  set sessionCookie(value: string | undefined) {
    this.cookie = value;
  }

  close(): void {
    this.agent.destroy();
  }

  /** Sends one call and returns the `returnval` element(s) of `<method>Response` (undefined for void methods). */
  async call(method: string, thisRef: MoRef, bodyXml = ''): Promise<XmlValue> {
    const payload = Buffer.from(envelope(method, thisRef, bodyXml), 'utf8');
    const { status, body } = await this.post(payload, method);
    let doc: Record<string, XmlValue>;
    try {
      doc = parseXml(body);
    } catch {
      throw new Error(`vCenter ${this.endpoint} returned an unreadable answer to ${method} (HTTP ${status}); check that the URL points at the vCenter SDK`);
    }
    const bodyNode = child(doc.Envelope, 'Body');
    const fault = child(bodyNode, 'Fault');
    if (fault !== undefined) {
      const faultString = str(fault, 'faultstring') ?? '';
      const [entry] = elementEntries(child(fault, 'detail'));
      if (entry) throw faultFromDetail(entry[0], entry[1], faultString);
      const code = (str(fault, 'faultcode') ?? 'ServerFaultCode').replace(/^.*:/, '');
      throw new VimFault(code === 'ServerFaultCode' ? 'SystemError' : code, faultString);
    }
    if (status !== 200) {
      throw new Error(`vCenter ${this.endpoint} answered HTTP ${status} to ${method}; check that the URL points at the vCenter SDK`);
    }
    const response = child(bodyNode, `${method}Response`);
    if (response === undefined) {
      throw new Error(`vCenter ${this.endpoint} answered ${method} without a ${method}Response element`);
    }
    // returnval is an array when repeated, a single node otherwise, undefined for void methods.
    return isObj(response) ? response.returnval : undefined;
  }

  private post(payload: Buffer, method: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {
        'Content-Type': 'text/xml; charset=utf-8',
        'Content-Length': payload.length,
        SOAPAction: `urn:vim25/${this.soapVersion}`,
        'User-Agent': this.userAgent,
        Accept: 'text/xml',
      };
      if (this.cookie) headers.Cookie = this.cookie;
      const req = https.request(
        {
          protocol: 'https:',
          hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
          port: this.url.port || 443,
          path: this.url.pathname + this.url.search,
          method: 'POST',
          agent: this.agent,
          headers,
        },
        (res) => {
          clearTimeout(deadline);
          this.captureCookie(res.headers['set-cookie']);
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new Error(`vCenter ${this.endpoint} sent an oversized answer to ${method}`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => reject(this.networkError(err)));
        },
      );
      // Until the answer starts: covers connecting and the TLS handshake, which the socket idle timeout below does not
      // (a request without a socket yet reports nothing when destroyed, so fail it here).
      const deadline = setTimeout(() => {
        const err = Object.assign(new Error(`no answer to ${method} within ${Math.round(this.timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' });
        reject(this.networkError(err));
        req.destroy(err);
      }, this.timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(
          Object.assign(new Error(`no answer to ${method} within ${Math.round(this.timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }),
        );
      });
      req.on('error', (err) => reject(this.networkError(err)));
      req.end(payload);
    });
  }

  private captureCookie(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const first = line.split(';', 1)[0]?.trim() ?? '';
      if (first.startsWith(`${SESSION_COOKIE}=`)) this.cookie = first;
    }
  }

  private networkError(err: Error): Error {
    if (err.message.startsWith(`vCenter ${this.endpoint}`)) return err;
    if (isTlsTrustFailure(err)) {
      const e = new Error(
        `Connector refused the TLS certificate of vCenter ${this.endpoint}: ${tlsReason(err)}. ${tlsFixHint(err, this.hasCa, this.hasPin)}`,
        { cause: err },
      );
      return Object.assign(e, { code: (err as { code?: string }).code ?? 'TLS' });
    }
    const code = (err as { code?: string }).code;
    const reason = !code ? err.message : err.message.includes(code) ? code : `${code} (${err.message})`;
    return new VcenterNetworkError(
      `Connector is unable to reach vCenter ${this.endpoint}: ${reason}. Check the address, port and firewall between the connector and vCenter.`,
      this.endpoint,
      code ?? 'ENETWORK',
      { cause: err },
    );
  }
}
