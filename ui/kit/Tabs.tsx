import { useId, type KeyboardEvent, type ReactNode } from 'react';

export interface TabDef<K extends string> {
  id: K;
  label: string;
  testId?: string;
}

/** Clarity tabs (nav + tab panel), arrow keys move between tabs as the WAI-ARIA pattern says. */
export function Tabs<K extends string>(props: { tabs: TabDef<K>[]; active: K; onChange: (id: K) => void; label: string; children: ReactNode }) {
  const base = useId();
  const onKey = (e: KeyboardEvent<HTMLButtonElement>, i: number) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const next = props.tabs[(i + step + props.tabs.length) % props.tabs.length];
    if (next) {
      props.onChange(next.id);
      document.getElementById(`${base}-${next.id}`)?.focus();
    }
  };
  return (
    <div className="vsp-tabs">
      <ul className="nav" role="tablist" aria-label={props.label}>
        {props.tabs.map((tab, i) => (
          <li className="nav-item" role="presentation" key={tab.id}>
            <button
              type="button"
              role="tab"
              id={`${base}-${tab.id}`}
              aria-selected={tab.id === props.active}
              aria-controls={`${base}-panel`}
              tabIndex={tab.id === props.active ? 0 : -1}
              className={`btn btn-link nav-link${tab.id === props.active ? ' active' : ''}`}
              data-test={tab.testId}
              onClick={() => props.onChange(tab.id)}
              onKeyDown={(e) => onKey(e, i)}
            >
              {tab.label}
            </button>
          </li>
        ))}
      </ul>
      <div role="tabpanel" id={`${base}-panel`} aria-labelledby={`${base}-${props.active}`} className="vsp-tabpanel">
        {props.children}
      </div>
    </div>
  );
}
