/** Clarity static progress bar with its value shown; `label` names it for assistive technology. */
export function ProgressBar(props: { value: number; label: string; status?: 'danger' | 'success' | 'warning'; testId?: string }) {
  const value = Math.max(0, Math.min(100, Math.round(props.value)));
  return (
    <div className={`progress labeled${props.status ? ` ${props.status}` : ''}`} data-test={props.testId}>
      <progress value={value} max={100} aria-label={props.label} />
      <span>{value}%</span>
    </div>
  );
}
