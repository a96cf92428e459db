// The stand-in's /api/ui/htmlClientSdk.js: the documented remote-plugin JavaScript API (vSphere Client SDK
// "Javascript API for remote plug-ins"), implemented over postMessage to the shell. Loaded by plugin iframes
// with a classic <script>; defines window.htmlClientSdk. Callbacks never cross frames: they stay here, by id.
import {
  SDK_CHANNEL,
  isSdkMessage,
  type ConfirmationParams,
  type InitData,
  type SdkMethod,
  type SdkMethods,
  type SdkRequest,
  type SdkResponse,
  type ShellEvent,
  type ThemeName,
} from '../protocol.ts';

type Theme = { name: ThemeName };

interface ModalConfig {
  url: string;
  title?: string;
  accessibilityTitle?: string;
  size?: { width: number; height: number };
  closable?: boolean;
  onClosed?: (result?: unknown) => void;
  contextObjects?: unknown[];
  customData?: unknown;
  sanitizeData?: boolean;
}

interface ConfirmationModalConfig extends Omit<ConfirmationParams, 'buttons' | 'onClosedCallbackId'> {
  buttons: { label: string; type?: 'PRIMARY' | 'SECONDARY'; style?: ConfirmationParams['alertLevel']; callback?: () => void }[];
  onClosed?: () => void;
}

const origin = window.location.origin;
const pending = new Map<number, (r: SdkResponse) => void>();
const callbacks = new Map<number, (...args: unknown[]) => void>();
const themeListeners: ((t: Theme) => void)[] = [];
const refreshListeners: (() => void)[] = [];
const dateFormatListeners: (() => void)[] = [];
let nextId = 1;
let init: InitData | undefined;
let initStarted = false;
const initWaiters: (() => void)[] = [];

function send<M extends SdkMethod>(method: M, params: SdkMethods[M]['params']): Promise<SdkMethods[M]['result']> {
  const id = nextId++;
  const msg: SdkRequest<M> = { channel: SDK_CHANNEL, kind: 'request', id, method, params };
  return new Promise((resolve, reject) => {
    pending.set(id, (r) => (r.ok ? resolve(r.result as SdkMethods[M]['result']) : reject(new Error(r.error))));
    window.parent.postMessage(msg, origin);
  });
}

function fireAndForget<M extends SdkMethod>(method: M, params: SdkMethods[M]['params']): void {
  send(method, params).catch((err: unknown) => console.error(`htmlClientSdk.${method}:`, err));
}

function registerCallback(fn: ((...args: never[]) => void) | undefined): number | undefined {
  if (typeof fn !== 'function') return undefined;
  const id = nextId++;
  callbacks.set(id, fn as (...args: unknown[]) => void);
  return id;
}

/** modal.open serialises its data with JSON unless sanitizeData is false (as documented). */
function sanitize<T>(value: T, enabled: boolean): T {
  return enabled && value !== undefined ? (JSON.parse(JSON.stringify(value)) as T) : value;
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (event.origin !== origin || event.source !== window.parent || !isSdkMessage(event.data)) return;
  const data = event.data as SdkResponse | ShellEvent;
  if (data.kind === 'response') {
    const resolve = pending.get(data.id);
    pending.delete(data.id);
    resolve?.(data);
    return;
  }
  if (data.kind !== 'event') return;
  if (data.event === 'themeChanged') {
    if (init) init.theme = data.theme;
    for (const l of themeListeners) l({ name: data.theme });
  } else if (data.event === 'globalRefresh') {
    for (const l of refreshListeners) l();
  } else if (data.event === 'callback') {
    callbacks.get(data.callbackId)?.(...data.args);
  }
});

function current(): InitData {
  if (!init) throw new Error('htmlClientSdk is not initialized: call htmlClientSdk.initialize(callback) first.');
  return init;
}

const app = {
  formatDateTime(instant: number, options?: { format?: 'DATE' | 'TIME' | 'DATE_AND_TIME' }): string {
    const format = options?.format ?? 'DATE_AND_TIME';
    const date: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit' };
    const time: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: true };
    const opts = format === 'DATE' ? date : format === 'TIME' ? time : { ...date, ...time };
    return new Intl.DateTimeFormat(current().locale, opts).format(new Date(instant));
  },
  getApiEndpoints: () => current().apiEndpoints,
  getClientInfo: () => current().clientInfo,
  getClientLocale: () => current().locale,
  getContextObjects: () => current().contextObjects.map((o) => ({ ...o })),
  getNavigationData: () => current().navigationData,
  getTheme: (): Theme => ({ name: current().theme }),
  getSessionInfo(cb: (info: { sessionToken: string; nodeId: string } | null) => void): void {
    send('getSessionInfo', null).then(cb, () => cb(null));
  },
  getPluginBackendInfo(cb: (info: unknown) => void): void {
    send('getPluginBackendInfo', null).then(cb, () => cb(null));
  },
  getRemotePluginNavigationMap(targetPluginId: string, cb: (map: unknown) => void): void {
    send('getRemotePluginNavigationMap', { targetPluginId }).then(cb, () => cb(null));
  },
  refreshPluginItemsState: () => fireAndForget('refreshPluginItemsState', null),
  navigateTo: (o: { targetViewId?: string; objectId?: string; customData?: unknown }) => fireAndForget('navigateTo', o),
  navigateToClientView: (o: { targetViewId?: string; objectId?: string }) => fireAndForget('navigateToClientView', o),
  navigateToRemotePluginView: (o: SdkMethods['navigateToRemotePluginView']['params']) => fireAndForget('navigateToRemotePluginView', o),
};

const event = {
  onThemeChanged: (cb: (t: Theme) => void) => void themeListeners.push(cb),
  onGlobalRefresh: (cb: () => void) => void refreshListeners.push(cb),
  onDateTimeFormatChanged: (cb: () => void) => void dateFormatListeners.push(cb),
};

const modal = {
  open(config: ModalConfig): void {
    const clean = config.sanitizeData !== false;
    const onClosedCallbackId = registerCallback(config.onClosed);
    fireAndForget('modal.open', {
      url: new URL(config.url, document.baseURI).href,
      ...(config.title !== undefined ? { title: config.title } : {}),
      ...(config.accessibilityTitle !== undefined ? { accessibilityTitle: config.accessibilityTitle } : {}),
      ...(config.size ? { size: { width: config.size.width, height: config.size.height } } : {}),
      ...(config.closable !== undefined ? { closable: config.closable } : {}),
      ...(config.contextObjects !== undefined ? { contextObjects: sanitize(config.contextObjects, clean) } : {}),
      ...(config.customData !== undefined ? { customData: sanitize(config.customData, clean) } : {}),
      ...(onClosedCallbackId !== undefined ? { onClosedCallbackId } : {}),
    });
  },
  close: (data?: unknown) => fireAndForget('modal.close', { data }),
  setOptions: (o: { title?: string; accessibilityTitle?: string; height?: number }) => fireAndForget('modal.setOptions', { ...o }),
  getCustomData: () => current().modalCustomData ?? null,
  openConfirmationModal(config: ConfirmationModalConfig): void {
    const { buttons, onClosed, ...rest } = config;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 4) {
      throw new Error('htmlClientSdk.modal.openConfirmationModal: "buttons" must hold 1 to 4 buttons.');
    }
    const onClosedCallbackId = registerCallback(onClosed);
    fireAndForget('modal.openConfirmationModal', {
      ...rest,
      buttons: buttons.map(({ callback, ...b }) => {
        const callbackId = registerCallback(callback);
        return callbackId !== undefined ? { ...b, callbackId } : b;
      }),
      ...(onClosedCallbackId !== undefined ? { onClosedCallbackId } : {}),
    });
  },
  openSharedModal(config: { onClosed?: (r?: unknown) => void }): void {
    console.warn('htmlClientSdk.modal.openSharedModal is not supported by the lab vSphere Client.');
    config.onClosed?.(undefined);
  },
  getSharedModalsMap(_targetPluginId: string, cb: (m: null) => void): void {
    cb(null);
  },
};

function proxiedOrigin(): string | null {
  const m = /^\/plugins\/[^/]+\/[^/]+/.exec(window.location.pathname);
  return m ? origin + m[0] : null;
}

interface HtmlClientSdk {
  initialize(cb?: () => void): void;
  isInitialized(): boolean;
  getProxiedPluginServerOrigin(): string | null;
  app?: typeof app;
  event?: typeof event;
  modal?: typeof modal;
}

const sdk: HtmlClientSdk = {
  initialize(cb?: () => void): void {
    if (init) {
      cb?.();
      return;
    }
    if (cb) initWaiters.push(cb);
    if (initStarted) return;
    initStarted = true;
    if (window.parent === window) {
      console.error('htmlClientSdk: this page is not inside the vSphere Client; open it from the vSphere Client.');
      return;
    }
    send('initialize', null).then(
      (data) => {
        init = data;
        Object.assign(sdk, { app, event, modal });
        for (const w of initWaiters.splice(0)) w();
      },
      (err: unknown) => console.error('htmlClientSdk.initialize failed:', err),
    );
  },
  isInitialized: () => init !== undefined,
  getProxiedPluginServerOrigin: proxiedOrigin,
};

(window as unknown as { htmlClientSdk: HtmlClientSdk }).htmlClientSdk = sdk;
