// The postMessage protocol between plugin iframes (htmlClientSdk.js) and the shell. Both sides are same-origin
// (iframes load through the /plugins proxy) and check `event.origin === location.origin` and `event.source`.

export const SDK_CHANNEL = 'vsphere-client-stand-in:htmlClientSdk:1';

export type ThemeName = 'light' | 'dark';

export interface ContextObject {
  id: string;
}

export interface ClientInfo {
  type: string;
  version: string;
}

export interface ApiEndpoints {
  uiApiEndpoint: { origin: string; pathname: string; queryParams: { name: string; value: string }[]; fullUrl: string };
}

/** What a frame learns at `initialize()`. */
export interface InitData {
  pluginId: string;
  contextObjects: ContextObject[];
  theme: ThemeName;
  locale: string;
  navigationData: unknown;
  /** null outside modals or when no customData was given. */
  modalCustomData: unknown;
  clientInfo: ClientInfo;
  apiEndpoints: ApiEndpoints;
}

export interface ModalOpenParams {
  /** Absolute URL, resolved by the SDK against the frame's document base URL. */
  url: string;
  title?: string;
  accessibilityTitle?: string;
  size?: { width: number; height: number };
  closable?: boolean;
  contextObjects?: unknown[];
  customData?: unknown;
  onClosedCallbackId?: number;
}

export type ButtonStyle = 'SUCCESS' | 'INFO' | 'WARNING' | 'DANGER';

export interface ConfirmationParams {
  content: string;
  buttons: { label: string; type?: 'PRIMARY' | 'SECONDARY'; style?: ButtonStyle; callbackId?: number }[];
  size?: { width: number };
  alertLevel?: ButtonStyle;
  title?: string;
  accessibilityTitle?: string;
  secondaryTitle?: string;
  closable?: boolean;
  onClosedCallbackId?: number;
}

export interface NavigateParams {
  targetViewId?: string;
  objectId?: string;
  customData?: unknown;
}

/** Request methods and their parameter/result types. */
export interface SdkMethods {
  initialize: { params: null; result: InitData };
  getSessionInfo: { params: null; result: { sessionToken: string; nodeId: string } };
  getPluginBackendInfo: { params: null; result: unknown };
  getRemotePluginNavigationMap: { params: { targetPluginId: string }; result: unknown };
  navigateTo: { params: NavigateParams; result: null };
  navigateToClientView: { params: { targetViewId?: string; objectId?: string }; result: null };
  navigateToRemotePluginView: { params: NavigateParams & { pluginId: string; vcGuid: string }; result: null };
  refreshPluginItemsState: { params: null; result: null };
  'modal.open': { params: ModalOpenParams; result: null };
  'modal.close': { params: { data: unknown }; result: null };
  'modal.setOptions': { params: { title?: string; accessibilityTitle?: string; height?: number }; result: null };
  'modal.openConfirmationModal': { params: ConfirmationParams; result: null };
}

export type SdkMethod = keyof SdkMethods;

export interface SdkRequest<M extends SdkMethod = SdkMethod> {
  channel: typeof SDK_CHANNEL;
  kind: 'request';
  id: number;
  method: M;
  params: SdkMethods[M]['params'];
}

export type SdkResponse =
  | { channel: typeof SDK_CHANNEL; kind: 'response'; id: number; ok: true; result: unknown }
  | { channel: typeof SDK_CHANNEL; kind: 'response'; id: number; ok: false; error: string };

export type ShellEvent =
  | { channel: typeof SDK_CHANNEL; kind: 'event'; event: 'themeChanged'; theme: ThemeName }
  | { channel: typeof SDK_CHANNEL; kind: 'event'; event: 'globalRefresh' }
  | { channel: typeof SDK_CHANNEL; kind: 'event'; event: 'callback'; callbackId: number; args: unknown[] };

export function isSdkMessage(data: unknown): data is { channel: typeof SDK_CHANNEL; kind: string } {
  return typeof data === 'object' && data !== null && (data as { channel?: unknown }).channel === SDK_CHANNEL;
}
