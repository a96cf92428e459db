import type { ConfirmationButton, HtmlClientSdk, PluginBackendServerInfo, ThemeName } from './sdk-types.ts';

/** A context object of the vSphere Client, e.g. the VM an action was invoked on. */
export interface ContextObject {
  type: string;
  id: string;
  vcGuid: string;
}

/** What the vSphere Client failed to give the plugin; each has its own message (i18n `host.problem.<kind>`). */
export type HostProblemKind = 'noSdk' | 'initialize' | 'session' | 'backend' | 'context';

/** The vSphere Client's SDK failed: which call, and how (thrown error, nothing returned, no answer). */
export class HostProblem extends Error {
  constructor(
    readonly kind: HostProblemKind,
    /** e.g. `htmlClientSdk getSessionInfo failed: TypeError: …` */
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'HostProblem';
  }
}

/**
 * The plugin's view of its host, the vSphere Client. The only code that touches `window.htmlClientSdk`
 * is `connectHost()`; everything else receives a `Host`.
 */
export interface Host {
  /** Throws HostProblem('context') when the SDK call fails or answers nothing usable. */
  contextObjects(): ContextObject[];
  sessionToken(): Promise<string>;
  backendBaseUrl(): Promise<string>;
  locale(): string;
  theme(): ThemeName;
  onThemeChanged(cb: (theme: ThemeName) => void): void;
  onGlobalRefresh(cb: () => void): void;
  closeModal(result?: unknown): void;
  navigateTo(targetViewId: string, customData?: unknown): void;
  navigationData(): unknown;
  refreshPluginItems(): void;
  confirm(c: { title: string; content: string; buttons: ConfirmationButton[]; alertLevel?: 'WARNING' | 'DANGER' | 'INFO' }): void;
}

/** `urn:vmomi:VirtualMachine:vm-58:<vcGuid>` → its parts; null for anything else. */
export function parseContextObject(urn: string): ContextObject | null {
  const m = /^urn:vmomi:([A-Za-z]+):([A-Za-z0-9-]+):([0-9A-Fa-f-]+)$/.exec(urn);
  return m ? { type: m[1]!, id: m[2]!, vcGuid: m[3]! } : null;
}

function pickServer(servers: PluginBackendServerInfo[] | undefined): PluginBackendServerInfo | undefined {
  return servers?.find((s) => s.type === 'MANIFEST_SERVER') ?? servers?.[0];
}

/** How long an SDK callback may take before the plugin says the vSphere Client did not answer. */
export const SDK_TIMEOUT_MS = 10_000;

const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** Calls a callback-style SDK function; a throw, no callback within the timeout, or `reject` become a HostProblem. */
function callSdk<T>(kind: HostProblemKind, call: string, run: (done: (v: T) => void, fail: (why: string) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (why: string) => reject(new HostProblem(kind, `htmlClientSdk ${call} ${why}`));
    const timer = setTimeout(() => fail(`did not answer within ${SDK_TIMEOUT_MS / 1000} s`), SDK_TIMEOUT_MS);
    try {
      run(
        (v) => (clearTimeout(timer), resolve(v)),
        (why) => (clearTimeout(timer), fail(why)),
      );
    } catch (err) {
      clearTimeout(timer);
      fail(`failed: ${describe(err)}`);
    }
  });
}

/** Cosmetic SDK calls (theme, locale, events) fall back instead of breaking the view. */
function orElse<T>(what: string, run: () => T, fallback: T): T {
  try {
    return run() ?? fallback;
  } catch (err) {
    console.warn(`htmlClientSdk ${what} failed; using the default`, err);
    return fallback;
  }
}

export function createHost(sdk: HtmlClientSdk, apiPath: string): Host {
  let baseUrl: Promise<string> | undefined;
  const contextObjects = (): ContextObject[] => {
    let raw: unknown;
    try {
      raw = sdk.app.getContextObjects();
    } catch (err) {
      throw new HostProblem('context', `htmlClientSdk getContextObjects failed: ${describe(err)}`);
    }
    if (!Array.isArray(raw)) throw new HostProblem('context', `htmlClientSdk getContextObjects returned ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
    return raw
      .map((o: { id?: unknown }) => (typeof o?.id === 'string' ? parseContextObject(o.id) : null))
      .filter((o): o is ContextObject => o !== null);
  };

  return {
    contextObjects,
    sessionToken: () =>
      callSdk<string>('session', 'getSessionInfo', (done, fail) =>
        sdk.app.getSessionInfo((info) => (info?.sessionToken ? done(info.sessionToken) : fail(`returned ${info ? 'no session token' : 'nothing'}`))),
      ),
    backendBaseUrl: () => {
      // Resolved once: the proxy path does not change while the iframe lives.
      baseUrl ??= callSdk<string>('backend', 'getPluginBackendInfo', (done, fail) =>
        sdk.app.getPluginBackendInfo((info) => {
          if (!info) return fail('returned nothing');
          let vcGuid: string | undefined;
          try {
            vcGuid = contextObjects()[0]?.vcGuid;
          } catch {
            vcGuid = undefined; // global views have no context object: any server of the plugin will do
          }
          const server = pickServer(vcGuid ? info.backendServersPerVc?.[vcGuid] : undefined) ?? pickServer(info.allPluginBackendServers);
          if (!server) return fail('returned no plugin server');
          done(`${window.location.origin}${server.proxiedBaseUrl}${apiPath}`);
        }),
      );
      baseUrl.catch(() => (baseUrl = undefined)); // a later call may ask again
      return baseUrl;
    },
    locale: () => orElse('getClientLocale', () => sdk.app.getClientLocale(), 'en-US'),
    theme: () => (orElse('getTheme', () => sdk.app.getTheme()?.name, 'light') === 'dark' ? 'dark' : 'light'),
    onThemeChanged: (cb) => orElse('event.onThemeChanged', () => sdk.event.onThemeChanged((t) => cb(t?.name === 'dark' ? 'dark' : 'light')), undefined),
    onGlobalRefresh: (cb) => orElse('event.onGlobalRefresh', () => sdk.event.onGlobalRefresh(cb), undefined),
    closeModal: (result) => sdk.modal.close(result),
    navigateTo: (targetViewId, customData) => sdk.app.navigateTo({ targetViewId, customData }),
    navigationData: () => orElse('getNavigationData', () => sdk.app.getNavigationData(), undefined),
    refreshPluginItems: () => orElse('refreshPluginItemsState', () => sdk.app.refreshPluginItemsState(), undefined),
    confirm: (c) => sdk.modal.openConfirmationModal(c),
  };
}

/**
 * Initialise the SDK (once per iframe) and check what every view needs from it, a session and the connector's
 * proxied address, before anything renders: a failing SDK then shows one message instead of one per request.
 */
export async function connectHost(apiPath: string): Promise<Host> {
  const sdk = window.htmlClientSdk;
  if (!sdk) throw new HostProblem('noSdk', 'window.htmlClientSdk is not defined (/api/ui/htmlClientSdk.js did not load)');
  await callSdk<void>('initialize', 'initialize', (done) => sdk.initialize(() => done()));
  const host = createHost(sdk, apiPath);
  await Promise.all([host.sessionToken(), host.backendBaseUrl()]);
  return host;
}

/** The VM a VM view was opened on; a HostProblem when the vSphere Client did not say. */
/** Every VM the action was invoked on (an action with acceptsMultipleTargets gets all selected objects). */
export function contextVms(host: Host): { vmIds: string[] } | { problem: HostProblem } {
  try {
    return { vmIds: [...new Set(host.contextObjects().filter((o) => o.type === 'VirtualMachine').map((o) => o.id))] };
  } catch (err) {
    return { problem: err instanceof HostProblem ? err : new HostProblem('context', `htmlClientSdk getContextObjects failed: ${describe(err)}`) };
  }
}

export function contextVm(host: Host): { vmId: string } | { problem: HostProblem } {
  try {
    const vm = host.contextObjects().find((o) => o.type === 'VirtualMachine');
    return vm ? { vmId: vm.id } : { problem: new HostProblem('context', 'htmlClientSdk getContextObjects returned no virtual machine') };
  } catch (err) {
    return { problem: err instanceof HostProblem ? err : new HostProblem('context', `htmlClientSdk getContextObjects failed: ${describe(err)}`) };
  }
}
