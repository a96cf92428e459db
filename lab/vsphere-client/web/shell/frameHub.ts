// The shell's end of the htmlClientSdk protocol: knows every plugin iframe, answers its requests and
// broadcasts events (theme, global refresh). Messages are accepted only from our own origin and only
// from iframes the shell created.
import {
  SDK_CHANNEL,
  isSdkMessage,
  type ConfirmationParams,
  type InitData,
  type ModalOpenParams,
  type NavigateParams,
  type SdkMethod,
  type SdkMethods,
  type SdkRequest,
  type ShellEvent,
} from '../protocol.ts';

/** What the shell knows about one iframe. */
export interface FrameContext {
  pluginId: string;
  contextObjects: { id: string }[];
  navigationData: unknown;
  /** Set for iframes inside a modal: which modal, and its customData. */
  modalKey?: number;
  modalCustomData?: unknown;
}

/** The shell's behaviour behind each request; `source` is the requesting frame's window. */
export interface FrameHandlers {
  initData(ctx: FrameContext): InitData;
  sessionInfo(): { sessionToken: string; nodeId: string };
  backendInfo(pluginId: string): unknown;
  navigationMap(targetPluginId: string): unknown;
  navigateTo(ctx: FrameContext, p: NavigateParams): void;
  navigateToClientView(ctx: FrameContext, p: { targetViewId?: string; objectId?: string }): void;
  refreshPluginItems(pluginId: string): void;
  openModal(ctx: FrameContext, p: ModalOpenParams, source: Window): void;
  closeModal(ctx: FrameContext, data: unknown): void;
  setModalOptions(ctx: FrameContext, p: SdkMethods['modal.setOptions']['params']): void;
  openConfirmation(ctx: FrameContext, p: ConfirmationParams, source: Window): void;
}

export class FrameHub {
  private readonly frames = new Map<HTMLIFrameElement, FrameContext>();
  private handlers: FrameHandlers | undefined;
  private readonly origin = window.location.origin;

  constructor() {
    window.addEventListener('message', (e) => this.onMessage(e));
  }

  setHandlers(h: FrameHandlers): void {
    this.handlers = h;
  }

  register(frame: HTMLIFrameElement, ctx: FrameContext): void {
    this.frames.set(frame, ctx);
  }

  unregister(frame: HTMLIFrameElement): void {
    this.frames.delete(frame);
  }

  broadcast(event: ShellEvent): void {
    for (const frame of this.frames.keys()) frame.contentWindow?.postMessage(event, this.origin);
  }

  /** Runs a callback the SDK in `target` registered (button callbacks, onClosed). */
  invokeCallback(target: Window | undefined, callbackId: number | undefined, args: unknown[] = []): void {
    if (!target || callbackId === undefined) return;
    const event: ShellEvent = { channel: SDK_CHANNEL, kind: 'event', event: 'callback', callbackId, args };
    target.postMessage(event, this.origin);
  }

  private contextOf(source: MessageEventSource | null): FrameContext | undefined {
    for (const [frame, ctx] of this.frames) if (frame.contentWindow === source) return ctx;
    return undefined;
  }

  private onMessage(e: MessageEvent<unknown>): void {
    if (e.origin !== this.origin || !isSdkMessage(e.data) || e.data.kind !== 'request') return;
    const source = e.source as Window | null;
    if (!source) return;
    const req = e.data as SdkRequest;
    const reply = (ok: boolean, payload: unknown): void => {
      source.postMessage(
        ok
          ? { channel: SDK_CHANNEL, kind: 'response', id: req.id, ok: true, result: payload ?? null }
          : { channel: SDK_CHANNEL, kind: 'response', id: req.id, ok: false, error: String(payload) },
        this.origin,
      );
    };
    const ctx = this.contextOf(source);
    if (!ctx || !this.handlers) {
      reply(false, 'This frame is not a plugin view of the vSphere Client.');
      return;
    }
    try {
      reply(true, this.dispatch(req.method, req.params, ctx, this.handlers, source));
    } catch (err) {
      reply(false, err instanceof Error ? err.message : String(err));
    }
  }

  private dispatch(method: SdkMethod, params: unknown, ctx: FrameContext, h: FrameHandlers, source: Window): unknown {
    switch (method) {
      case 'initialize':
        return h.initData(ctx);
      case 'getSessionInfo':
        return h.sessionInfo();
      case 'getPluginBackendInfo':
        return h.backendInfo(ctx.pluginId);
      case 'getRemotePluginNavigationMap':
        return h.navigationMap((params as SdkMethods['getRemotePluginNavigationMap']['params']).targetPluginId);
      case 'navigateTo':
        h.navigateTo(ctx, params as NavigateParams);
        return null;
      case 'navigateToClientView':
        h.navigateToClientView(ctx, params as SdkMethods['navigateToClientView']['params']);
        return null;
      case 'navigateToRemotePluginView':
        throw new Error('navigateToRemotePluginView is not supported by the lab vSphere Client.');
      case 'refreshPluginItemsState':
        h.refreshPluginItems(ctx.pluginId);
        return null;
      case 'modal.open':
        h.openModal(ctx, params as ModalOpenParams, source);
        return null;
      case 'modal.close':
        h.closeModal(ctx, (params as SdkMethods['modal.close']['params']).data);
        return null;
      case 'modal.setOptions':
        h.setModalOptions(ctx, params as SdkMethods['modal.setOptions']['params']);
        return null;
      case 'modal.openConfirmationModal':
        h.openConfirmation(ctx, params as ConfirmationParams, source);
        return null;
    }
  }
}

export const frameHub = new FrameHub();
