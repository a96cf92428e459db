// The vim25 connection: the SOAP session (login, re-login when vCenter ends it, clone tickets) and the property
// collector every call reads through. vim25.ts builds vCenter's operations on it.
import {
  arr,
  child,
  el,
  els,
  faultFromLocalized,
  isObj,
  moRefXml,
  str,
  text,
  toMoRef,
  VimFault,
  wrap,
  type XmlNode,
  type XmlValue,
} from './soap.ts';
import { SoapTransport } from './soap-transport.ts';
import type { TlsTrust } from './tls.ts';
import type { AboutInfo, MoRef, UserSession, Vim25ConnectOptions } from './types.ts';

const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' };
// Newest vim25 release whose request shapes this client was written against; newer servers accept it.
const MAX_SOAP_VERSION = [8, 0, 3, 0];

export interface ObjectContent {
  obj: MoRef;
  props: Map<string, XmlValue>;
  missing: { path: string; fault: VimFault }[];
}

export interface PropSpec {
  type: string;
  paths: string[];
}

export interface SessionParts {
  transport: SoapTransport;
  about: AboutInfo;
  content: Record<string, MoRef>;
}

function compareVersion(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function parseUserSession(node: XmlValue): UserSession {
  const key = str(node, 'key');
  const userName = str(node, 'userName');
  if (!key || userName === undefined) throw new Error('vCenter returned a session without key or user name');
  const fullName = str(node, 'fullName');
  return { key, userName, ...(fullName ? { fullName } : {}) };
}

/** Opens the SOAP connection: verifies TLS and reads ServiceContent (no login). */
export async function openSession(opts: Vim25ConnectOptions): Promise<SessionParts> {
  const transport = new SoapTransport(opts);
  try {
    const sc = await transport.call('RetrieveServiceContent', SERVICE_INSTANCE);
    const content: Record<string, MoRef> = {};
    if (isObj(sc)) {
      for (const [k, v] of Object.entries(sc)) {
        const ref = toMoRef(v);
        if (ref) content[k] = ref;
      }
    }
    const aboutNode = child(sc, 'about');
    const about: AboutInfo = {
      fullName: str(aboutNode, 'fullName') ?? '',
      version: str(aboutNode, 'version') ?? '',
      apiVersion: str(aboutNode, 'apiVersion') ?? '',
      instanceUuid: str(aboutNode, 'instanceUuid') ?? '',
    };
    if (!content.rootFolder || !content.propertyCollector || !about.apiVersion) {
      throw new Error(`${transport.endpoint} did not answer like a vCenter SDK endpoint (no ServiceContent)`);
    }
    if (/^\d+(\.\d+)*$/.test(about.apiVersion)) {
      const v = about.apiVersion.split('.').map(Number);
      transport.soapVersion = compareVersion(v, MAX_SOAP_VERSION) > 0 ? MAX_SOAP_VERSION.join('.') : about.apiVersion;
    }
    return { transport, about, content };
  } catch (err) {
    transport.close();
    throw err;
  }
}

export class Vim25Session {
  readonly about: AboutInfo;
  /** Managed object references from ServiceContent (rootFolder, propertyCollector, …). */
  readonly serviceContent: Readonly<Record<string, MoRef>>;
  private readonly transport: SoapTransport;
  /** Set by login(): the client logs in again when vCenter ends the session (idle timeout, restart, admin). */
  private credentials: { userName: string; password: string } | undefined;
  /** Bumped by every re-login, so concurrent calls that failed on the old session log in only once. */
  private sessionGeneration = 0;
  private relogin: Promise<void> | undefined;

  protected constructor(transport: SoapTransport, about: AboutInfo, content: Record<string, MoRef>) {
    this.transport = transport;
    this.about = about;
    this.serviceContent = content;
  }

  /** `https://host[:port]/sdk` */
  get sdkUrl(): string {
    return this.transport.endpoint;
  }

  /**
   * The vSphere API release vCenter reads our requests with (SOAPAction `urn:vim25/<release>`): its
   * about.apiVersion, capped at the newest release this client was written against.
   */
  get requestApiVersion(): string {
    return this.transport.soapVersion;
  }

  /** Whether fields introduced in `release` (e.g. '8.0.2.0') may be sent: vCenter refuses elements its release does not define. */
  apiAtLeast(release: string): boolean {
    const asked = this.transport.soapVersion.split('.').map(Number);
    const wanted = release.split('.').map(Number);
    if (asked.some((n) => !Number.isInteger(n)) || wanted.some((n) => !Number.isInteger(n))) return false;
    return compareVersion(asked, wanted) >= 0;
  }

  /** `vmware_soap_session=…` for NFC downloads through vCenter; never log it. */
  get sessionCookie(): string | undefined {
    return this.transport.sessionCookie;
  }

  /** `https://host[:port]` and the TLS trust of this connection: datastore file reads follow the same rules. */
  get connection(): { origin: string; trust: TlsTrust } {
    return { origin: this.transport.url.origin, trust: this.transport.trust };
  }

  /** Releases idle sockets (the client stays usable); the vCenter session stays alive (call logout() to end it). */
  close(): void {
    this.transport.close();
  }

  /** Rewrites the `*` host of a lease device URL to the vCenter host (as govmomi does). */
  resolveDeviceUrl(url: string): string {
    return url.replace(/^(https?:\/\/)\*(?=[:/])/i, `$1${this.transport.url.host}`);
  }

  protected ref(name: string): MoRef {
    const r = this.serviceContent[name];
    if (!r) throw new VimFault('NotSupported', `This vCenter does not provide ${name}`);
    return r;
  }

  async invoke(method: string, thisRef: MoRef, bodyXml = ''): Promise<XmlValue> {
    const generation = this.sessionGeneration;
    try {
      return await this.transport.call(method, thisRef, bodyXml);
    } catch (err) {
      if (!this.credentials || method === 'Login' || method === 'Logout' || !(err instanceof VimFault && err.faultType === 'NotAuthenticated')) {
        throw err;
      }
      if (generation === this.sessionGeneration) await this.loginAgain();
      return this.transport.call(method, thisRef, bodyXml);
    }
  }

  /** One Login for every call that found the session gone. */
  private loginAgain(): Promise<void> {
    const creds = this.credentials;
    if (!creds) return Promise.resolve();
    this.relogin ??= this.transport
      .call('Login', this.ref('sessionManager'), el('userName', creds.userName) + el('password', creds.password))
      .then(
        () => {
          this.sessionGeneration += 1;
        },
        (err: unknown) => {
          const why = err instanceof Error ? err.message : String(err);
          throw Object.assign(new Error(`vCenter ended the session of ${creds.userName} and logging in again failed: ${why}`, { cause: err }), {
            ...(err instanceof VimFault ? { faultType: err.faultType } : {}),
          });
        },
      )
      .finally(() => {
        this.relogin = undefined;
      });
    return this.relogin;
  }

  // ---------- sessions ----------

  /** Logs in; the client keeps the credentials in memory to log in again if vCenter ends the session. */
  async login(userName: string, password: string): Promise<UserSession> {
    const r = await this.invoke('Login', this.ref('sessionManager'), el('userName', userName) + el('password', password));
    this.credentials = { userName, password };
    return parseUserSession(r);
  }

  async logout(): Promise<void> {
    this.credentials = undefined;
    if (!this.transport.sessionCookie) return;
    try {
      await this.invoke('Logout', this.ref('sessionManager'));
    } catch (err) {
      if (!(err instanceof VimFault && err.faultType === 'NotAuthenticated')) throw err;
    } finally {
      this.transport.sessionCookie = undefined;
      this.transport.close();
    }
  }

  async currentSession(): Promise<UserSession | null> {
    try {
      const [content] = await this.retrieveObjects([this.ref('sessionManager')], 'SessionManager', ['currentSession']);
      const s = content?.props.get('currentSession');
      return s !== undefined && str(s, 'key') ? parseUserSession(s) : null;
    } catch (err) {
      if (err instanceof VimFault && err.faultType === 'NotAuthenticated') return null;
      throw err;
    }
  }

  async acquireCloneTicket(): Promise<string> {
    const t = text(await this.invoke('AcquireCloneTicket', this.ref('sessionManager')));
    if (!t) throw new Error('vCenter returned an empty clone ticket');
    return t;
  }

  async cloneSession(ticket: string): Promise<UserSession> {
    return parseUserSession(await this.invoke('CloneSession', this.ref('sessionManager'), el('cloneTicket', ticket)));
  }

  // ---------- property collector ----------

  protected async retrieve(propSpecs: PropSpec[], objectSetXml: string): Promise<ObjectContent[]> {
    const pc = this.ref('propertyCollector');
    const props = propSpecs
      .map((p) => wrap('propSet', el('type', p.type) + el('all', false) + els('pathSet', p.paths)))
      .join('');
    let r = await this.invoke('RetrievePropertiesEx', pc, wrap('specSet', props + objectSetXml) + wrap('options', ''));
    const out: ObjectContent[] = [];
    for (;;) {
      for (const o of arr(child(r, 'objects'))) {
        out.push(this.objectContent(o));
      }
      const token = str(r, 'token');
      if (!token) return out;
      r = await this.invoke('ContinueRetrievePropertiesEx', pc, el('token', token));
    }
  }

  protected objectContent(o: XmlNode): ObjectContent {
    const obj = toMoRef(child(o, 'obj'));
    if (!obj) throw new Error('vCenter returned a property result without an object reference');
    const props = new Map<string, XmlValue>();
    for (const p of arr(child(o, 'propSet'))) {
      const name = str(p, 'name');
      if (name) props.set(name, child(p, 'val'));
    }
    const missing = arr(child(o, 'missingSet')).map((m) => ({
      path: str(m, 'path') ?? '',
      fault: faultFromLocalized(child(m, 'fault')),
    }));
    return { obj, props, missing };
  }

  protected retrieveObjects(objs: MoRef[], type: string, paths: string[]): Promise<ObjectContent[]> {
    const objectSet = objs.map((o) => wrap('objectSet', moRefXml('obj', o) + el('skip', false))).join('');
    return this.retrieve([{ type, paths }], objectSet);
  }

  /** Retrieves properties of every object of the given types below `container` through a temporary ContainerView. */
  protected async retrieveView(container: MoRef, propSpecs: PropSpec[]): Promise<ObjectContent[]> {
    const types = [...new Set(propSpecs.map((p) => p.type))];
    const view = toMoRef(
      await this.invoke(
        'CreateContainerView',
        this.ref('viewManager'),
        moRefXml('container', container) + els('type', types) + el('recursive', true),
      ),
    );
    if (!view) throw new Error('vCenter did not return a ContainerView');
    try {
      const objectSet = wrap(
        'objectSet',
        moRefXml('obj', view) +
          el('skip', true) +
          wrap('selectSet', el('name', 'view') + el('type', 'ContainerView') + el('path', 'view') + el('skip', false), 'TraversalSpec'),
      );
      return await this.retrieve(propSpecs, objectSet);
    } finally {
      await this.invoke('DestroyView', view).catch(() => undefined);
    }
  }
}
