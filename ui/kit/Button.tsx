import type { ButtonHTMLAttributes } from 'react';

type Variant = 'primary' | 'outline' | 'link' | 'danger';

/** Clarity button; feature code never writes Clarity class strings itself. */
export function Button({ variant = 'outline', testId, className, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; testId?: string }) {
  const cls = variant === 'danger' ? 'btn btn-danger' : `btn btn-${variant}`;
  return <button type="button" {...rest} data-test={testId} className={className ? `${cls} ${className}` : cls} />;
}
