import type { ReactNode } from 'react';

export type AlertKind = 'danger' | 'warning' | 'info' | 'success';

/** Clarity alert (static). */
export function Alert(props: { kind: AlertKind; children: ReactNode; testId?: string; compact?: boolean }) {
  return (
    <div
      className={`alert alert-${props.kind}${props.compact ? ' alert-sm' : ''}`}
      role={props.kind === 'danger' || props.kind === 'warning' ? 'alert' : 'status'}
      data-test={props.testId}
    >
      <div className="alert-items">
        <div className="alert-item static">
          <span className="alert-text">{props.children}</span>
        </div>
      </div>
    </div>
  );
}
