import { createElement } from 'react';

export interface IconProps {
  shape: string;
  size?: 'sm' | 'md' | 'lg' | 'xl' | string;
  /** Clarity icon badge, e.g. "success" for a powered-on VM. */
  badge?: 'success' | 'danger' | 'warning' | 'info' | 'warning-triangle' | 'inherit';
  direction?: 'up' | 'down' | 'left' | 'right';
  solid?: boolean;
  /** Status colour: "info" | "success" | "warning" | "danger". */
  status?: 'info' | 'success' | 'warning' | 'danger';
  className?: string;
  /** Accessible label; without it the icon is decorative (aria-hidden). */
  label?: string;
}

/** A Clarity <cds-icon> (created without JSX typings, so no global JSX augmentation is needed). */
export function Icon({ shape, size, badge, direction, solid, status, className, label }: IconProps) {
  return createElement('cds-icon', {
    shape,
    ...(size ? { size } : {}),
    ...(badge ? { badge } : {}),
    ...(direction ? { direction } : {}),
    ...(solid ? { solid: true } : {}),
    ...(status ? { status } : {}),
    ...(className ? { class: className } : {}),
    ...(label ? { 'aria-label': label, role: 'img' } : { 'aria-hidden': 'true' }),
  });
}
