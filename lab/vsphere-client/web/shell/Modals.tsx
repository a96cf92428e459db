import { useEffect, useId, useMemo } from 'react';
import { testIds } from '../../test-ids.ts';
import type { ButtonStyle, ConfirmationParams } from '../protocol.ts';
import type { FrameContext } from './frameHub.ts';
import { Icon } from './Icon.tsx';
import { PluginFrame } from './PluginFrame.tsx';

export interface PluginModalEntry {
  kind: 'plugin';
  key: number;
  pluginId: string;
  url: string;
  title: string;
  accessibilityTitle?: string;
  width: number;
  height: number;
  closable: boolean;
  contextObjects: { id: string }[];
  customData: unknown;
  /** The frame that called modal.open, and its onClosed callback. */
  opener?: Window;
  onClosedCallbackId?: number;
}

export interface ConfirmModalEntry {
  kind: 'confirm';
  key: number;
  pluginId: string;
  params: ConfirmationParams;
  opener: Window;
}

export type ModalEntry = PluginModalEntry | ConfirmModalEntry;

const STATUS_ICON: Record<ButtonStyle, { shape: string; status: 'success' | 'info' | 'warning' | 'danger' }> = {
  SUCCESS: { shape: 'success-standard', status: 'success' },
  INFO: { shape: 'info-standard', status: 'info' },
  WARNING: { shape: 'warning-standard', status: 'warning' },
  DANGER: { shape: 'error-standard', status: 'danger' },
};

function buttonClass(b: ConfirmationParams['buttons'][number]): string {
  const secondary = b.type !== 'PRIMARY';
  const style = { SUCCESS: 'success', INFO: 'info', WARNING: 'warning', DANGER: 'danger' }[b.style ?? 'INFO'];
  if (secondary) return b.style === 'DANGER' ? 'btn btn-danger-outline' : 'btn btn-outline';
  return b.style && b.style !== 'INFO' ? `btn btn-${style}` : 'btn btn-primary';
}

function PluginModal({ m, depth, onClose }: { m: PluginModalEntry; depth: number; onClose(): void }) {
  const titleId = useId();
  const context = useMemo<FrameContext>(
    () => ({ pluginId: m.pluginId, contextObjects: m.contextObjects, navigationData: undefined, modalKey: m.key, modalCustomData: m.customData ?? null }),
    [m.pluginId, m.contextObjects, m.key, m.customData],
  );
  return (
    <>
      <div className="modal vsc-modal" role="dialog" aria-modal="true" aria-labelledby={titleId} data-test={testIds.modal.root} style={{ zIndex: 1050 + depth * 2 }}>
        <div className="modal-dialog" role="document" style={{ width: `${m.width}px` }}>
          <div className="modal-content">
            <div className="modal-header--accessible">
              <div className="modal-title-wrapper">
                <h1 className="modal-title" id={titleId} data-test={testIds.modal.title} {...(m.accessibilityTitle ? { 'aria-label': m.accessibilityTitle } : {})}>
                  {m.title}
                </h1>
              </div>
              {m.closable ? (
                <button type="button" className="close" aria-label="Close" onClick={onClose} data-test={testIds.modal.close}>
                  <Icon shape="window-close" />
                </button>
              ) : null}
            </div>
            <div className="modal-body vsc-modal-body">
              <PluginFrame src={m.url} title={m.title} context={context} testId={testIds.modal.iframe} height={m.height} />
            </div>
          </div>
        </div>
      </div>
      <div className="modal-backdrop" aria-hidden="true" style={{ zIndex: 1049 + depth * 2 }} />
    </>
  );
}

function ConfirmModal({ m, depth, onButton, onClose }: { m: ConfirmModalEntry; depth: number; onButton(i: number): void; onClose(): void }) {
  const titleId = useId();
  const p = m.params;
  const icon = p.alertLevel ? STATUS_ICON[p.alertLevel] : undefined;
  return (
    <>
      <div className="modal vsc-modal" role="alertdialog" aria-modal="true" aria-labelledby={titleId} data-test={testIds.confirmation.root} style={{ zIndex: 1050 + depth * 2 }}>
        <div className="modal-dialog" role="document" style={{ width: `${p.size?.width ?? 480}px` }}>
          <div className="modal-content">
            <div className="modal-header--accessible">
              <div className="modal-title-wrapper">
                <h1 className="modal-title" id={titleId} data-test={testIds.confirmation.title} {...(p.accessibilityTitle ? { 'aria-label': p.accessibilityTitle } : {})}>
                  {p.title ?? ''}
                </h1>
                {p.secondaryTitle ? <p className="vsc-secondary-title">{p.secondaryTitle}</p> : null}
              </div>
              {p.closable !== false ? (
                <button type="button" className="close" aria-label="Close" onClick={onClose} data-test={testIds.confirmation.close}>
                  <Icon shape="window-close" />
                </button>
              ) : null}
            </div>
            <div className="modal-body">
              <div className="vsc-confirm-body">
                {icon ? <Icon shape={icon.shape} status={icon.status} size="md" label={p.alertLevel} /> : null}
                <p data-test={testIds.confirmation.content}>{p.content}</p>
              </div>
            </div>
            <div className="modal-footer">
              {p.buttons.map((b, i) => (
                <button key={`${b.label}${i}`} type="button" className={buttonClass(b)} onClick={() => onButton(i)} data-test={testIds.confirmation.button(b.label)}>
                  {b.label}
                </button>
              ))}
            </div>
          </div>
        </div>
      </div>
      <div className="modal-backdrop" aria-hidden="true" style={{ zIndex: 1049 + depth * 2 }} />
    </>
  );
}

export interface ModalStackProps {
  modals: ModalEntry[];
  /** Close via the X button or Escape (no result). */
  onDismiss(m: ModalEntry): void;
  onConfirmButton(m: ConfirmModalEntry, index: number): void;
}

/** Plugin modals and confirmation modals, newest on top. */
export function ModalStack({ modals, onDismiss, onConfirmButton }: ModalStackProps) {
  const top = modals[modals.length - 1];
  useEffect(() => {
    if (!top) return;
    const closable = top.kind === 'plugin' ? top.closable : top.params.closable !== false;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && closable) onDismiss(top);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [top, onDismiss]);
  return (
    <>
      {modals.map((m, depth) =>
        m.kind === 'plugin' ? (
          <PluginModal key={m.key} m={m} depth={depth} onClose={() => onDismiss(m)} />
        ) : (
          <ConfirmModal key={m.key} m={m} depth={depth} onClose={() => onDismiss(m)} onButton={(i) => onConfirmButton(m, i)} />
        ),
      )}
    </>
  );
}
