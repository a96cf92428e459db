/** Clarity inline spinner with a visible label. */
export function Spinner(props: { label: string; testId?: string }) {
  return (
    <div className="vsp-spinner" role="status" aria-live="polite" data-test={props.testId}>
      <span className="spinner spinner-inline" aria-hidden="true" />
      <span>{props.label}</span>
    </div>
  );
}
