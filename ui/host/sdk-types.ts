// Typings of the vSphere Client JavaScript API for remote plugins (htmlClientSdk), written from the
// SDK's API documentation. Only the members the plugin uses are typed strictly.

export type ThemeName = 'light' | 'dark';

export interface PluginBackendServerInfo {
  proxiedUrl: string;
  proxiedBaseUrl: string;
  type: string;
}

export interface PluginBackendInfo {
  allPluginBackendServers: PluginBackendServerInfo[];
  backendServersPerVc: Record<string, PluginBackendServerInfo[]>;
  backendServersPerVcObject?: Record<string, PluginBackendServerInfo[]>;
}

export interface SessionInfo {
  sessionToken: string;
  nodeId: string;
}

export interface ConfirmationButton {
  label: string;
  type?: 'PRIMARY' | 'SECONDARY';
  style?: 'SUCCESS' | 'INFO' | 'WARNING' | 'DANGER';
  callback?: () => void;
}

export interface HtmlClientSdk {
  initialize(cb?: () => void): void;
  isInitialized(): boolean;
  getProxiedPluginServerOrigin(): string | null;
  app: {
    getClientLocale(): string;
    getContextObjects(): { id: string }[];
    getNavigationData(): unknown;
    getPluginBackendInfo(cb: (info: PluginBackendInfo | null) => void): void;
    getSessionInfo(cb: (info: SessionInfo | null) => void): void;
    getTheme(): { name: ThemeName };
    navigateTo(o: { targetViewId?: string; objectId?: string; customData?: unknown }): void;
    refreshPluginItemsState(): void;
    formatDateTime(instant: number, options?: { format?: 'DATE' | 'TIME' | 'DATE_AND_TIME' }): string;
  };
  event: {
    onGlobalRefresh(cb: () => void): void;
    onThemeChanged(cb: (t: { name: ThemeName }) => void): void;
  };
  modal: {
    close(data?: unknown): void;
    setOptions(c: { title?: string; accessibilityTitle?: string; height?: number }): void;
    open(c: {
      url: string;
      title?: string;
      size?: { width: number; height: number };
      closable?: boolean;
      onClosed?: (result?: unknown) => void;
      customData?: unknown;
    }): void;
    getCustomData(): unknown;
    openConfirmationModal(c: {
      title?: string;
      content: string;
      buttons: ConfirmationButton[];
      alertLevel?: 'SUCCESS' | 'INFO' | 'WARNING' | 'DANGER';
      closable?: boolean;
      onClosed?: () => void;
    }): void;
  };
}

declare global {
  interface Window {
    htmlClientSdk?: HtmlClientSdk;
  }
}
