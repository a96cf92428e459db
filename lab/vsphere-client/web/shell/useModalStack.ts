import { useCallback, useRef, useState } from 'react';
import type { SdkMethods } from '../protocol.ts';
import { frameHub } from './frameHub.ts';
import type { ConfirmModalEntry, ModalEntry, PluginModalEntry } from './Modals.tsx';

/** A modal to open: the stack gives it its key. */
export type NewModal = Omit<PluginModalEntry, 'key'> | Omit<ConfirmModalEntry, 'key'>;

export interface ModalStackState {
  modals: ModalEntry[];
  open(entry: NewModal): void;
  /** Closes one modal; its opener's onClosed callback gets `result` when `withResult`. */
  close(key: number, result: unknown, withResult: boolean): void;
  setOptions(key: number, prm: SdkMethods['modal.setOptions']['params']): void;
  /** Close via the X button or Escape (no result). */
  onDismiss(m: ModalEntry): void;
  onConfirmButton(m: ConfirmModalEntry, index: number): void;
}

/** The shell's plugin and confirmation modals, newest last, and the callbacks their openers get as they close. */
export function useModalStack(): ModalStackState {
  const [modals, setModals] = useState<ModalEntry[]>([]);
  const modalKey = useRef(0);

  const open = useCallback((entry: NewModal) => {
    setModals((ms) => [...ms, { ...entry, key: ++modalKey.current }]);
  }, []);

  const modalsRef = useRef(modals);
  modalsRef.current = modals;
  const close = useCallback((key: number, result: unknown, withResult: boolean) => {
    const m = modalsRef.current.find((x) => x.key === key);
    if (!m) return;
    if (m.kind === 'plugin' && m.opener) frameHub.invokeCallback(m.opener, m.onClosedCallbackId, withResult ? [result] : []);
    if (m.kind === 'confirm' && !withResult) frameHub.invokeCallback(m.opener, m.params.onClosedCallbackId);
    modalsRef.current = modalsRef.current.filter((x) => x.key !== key);
    setModals((ms) => ms.filter((x) => x.key !== key));
  }, []);

  const setOptions = useCallback((key: number, prm: SdkMethods['modal.setOptions']['params']) => {
    setModals((ms) =>
      ms.map((m) =>
        m.key === key && m.kind === 'plugin'
          ? {
              ...m,
              ...(prm.title !== undefined ? { title: prm.title } : {}),
              ...(prm.accessibilityTitle !== undefined ? { accessibilityTitle: prm.accessibilityTitle } : {}),
              ...(prm.height !== undefined ? { height: prm.height } : {}),
            }
          : m,
      ),
    );
  }, []);

  const onDismiss = useCallback((m: ModalEntry) => close(m.key, undefined, false), [close]);

  const onConfirmButton = useCallback(
    (m: ConfirmModalEntry, index: number) => {
      frameHub.invokeCallback(m.opener, m.params.buttons[index]?.callbackId);
      close(m.key, undefined, true);
    },
    [close],
  );

  return { modals, open, close, setOptions, onDismiss, onConfirmButton };
}
