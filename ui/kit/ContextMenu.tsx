import { useEffect, useRef } from 'react';

export interface MenuItem {
  label: string;
  onSelect: () => void;
  disabled?: boolean;
  /** Tooltip: who may use the item, or why it is disabled. */
  title?: string;
  testId?: string;
}

/** A Clarity dropdown menu at a point (a row's right-click menu); Escape or a click elsewhere closes it. */
export function ContextMenu(props: { at: { x: number; y: number }; items: MenuItem[]; label: string; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const { onClose } = props;
  // DOM listeners for outside clicks: the one thing React's event system cannot see.
  useEffect(() => {
    ref.current?.querySelector<HTMLButtonElement>('button:not([disabled])')?.focus();
    const close = (e: Event) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !ref.current?.contains(e.target as Node)) onClose();
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', close);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', close);
    };
  }, [onClose]);
  return (
    <div className="dropdown open vsp-context-menu" style={{ left: props.at.x, top: props.at.y }} ref={ref}>
      <div className="dropdown-menu" role="menu" aria-label={props.label}>
        {props.items.map((item) => (
          <button
            key={item.label}
            type="button"
            role="menuitem"
            className="dropdown-item"
            disabled={item.disabled}
            title={item.title}
            data-test={item.testId}
            onClick={() => {
              onClose();
              item.onSelect();
            }}
          >
            {item.label}
          </button>
        ))}
      </div>
    </div>
  );
}
