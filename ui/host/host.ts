import type { ConfirmationButton, HtmlClientSdk, PluginBackendServerInfo, ThemeName } from './sdk-types.ts';

/** A context object of the vSphere Client, e.g. the VM an action was invoked on. */
export interface ContextObject {
  type: string;
  id: string;
  vcGuid: string;
}

/**
 * The plugin's view of its host, the vSphere Client. The only code that touches `window.htmlClientSdk`
 * is `connectHost()`; everything else receives a `Host`.
 */
export interface Host {
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

export function createHost(sdk: HtmlClientSdk, apiPath: string): Host {
  let baseUrl: Promise<string> | undefined;
  const contextObjects = () =>
    sdk.app
      .getContextObjects()
      .map((o) => parseContextObject(o.id))
      .filter((o): o is ContextObject => o !== null);

  return {
    contextObjects,
    sessionToken: () =>
      new Promise((resolve, reject) => {
        sdk.app.getSessionInfo((info) => (info?.sessionToken ? resolve(info.sessionToken) : reject(new Error('The vSphere Client gave no session.'))));
      }),
    backendBaseUrl: () => {
      // Resolved once: the proxy path does not change while the iframe lives.
      baseUrl ??= new Promise<string>((resolve, reject) => {
        sdk.app.getPluginBackendInfo((info) => {
          const vcGuid = contextObjects()[0]?.vcGuid;
          const server = pickServer(vcGuid ? info?.backendServersPerVc[vcGuid] : undefined) ?? pickServer(info?.allPluginBackendServers);
          if (!server) {
            reject(new Error('The vSphere Client does not know the connector. Ask your administrator to register the plugin again.'));
            return;
          }
          resolve(`${window.location.origin}${server.proxiedBaseUrl}${apiPath}`);
        });
      });
      return baseUrl;
    },
    locale: () => sdk.app.getClientLocale(),
    theme: () => (sdk.app.getTheme().name === 'dark' ? 'dark' : 'light'),
    onThemeChanged: (cb) => sdk.event.onThemeChanged((t) => cb(t.name === 'dark' ? 'dark' : 'light')),
    onGlobalRefresh: (cb) => sdk.event.onGlobalRefresh(cb),
    closeModal: (result) => sdk.modal.close(result),
    navigateTo: (targetViewId, customData) => sdk.app.navigateTo({ targetViewId, customData }),
    navigationData: () => sdk.app.getNavigationData(),
    refreshPluginItems: () => sdk.app.refreshPluginItemsState(),
    confirm: (c) => sdk.modal.openConfirmationModal(c),
  };
}

/** Initialise the SDK (once per iframe) and return the host; rejects outside the vSphere Client. */
export function connectHost(apiPath: string): Promise<Host> {
  const sdk = window.htmlClientSdk;
  if (!sdk) {
    return Promise.reject(new Error('This page runs inside the vSphere Client. Open it from the vSphere Client menu.'));
  }
  return new Promise((resolve) => sdk.initialize(() => resolve(createHost(sdk, apiPath))));
}
