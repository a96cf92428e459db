import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from 'react';

/** Clarity horizontal form. */
export function Form(props: { children: ReactNode; onSubmit?: () => void; label?: string; testId?: string }) {
  return (
    <form
      className="clr-form clr-form-horizontal vsp-form"
      aria-label={props.label}
      data-test={props.testId}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit?.();
      }}
    >
      {props.children}
    </form>
  );
}

interface FieldProps {
  label: string;
  /** The control's element id (default: generated), for callers that take the user to the field. */
  id?: string | undefined;
  /** Helper text under the control. */
  help?: ReactNode;
  /** Shown instead of the help text, in the error colour. */
  error?: string | undefined;
  children: (id: string, describedBy: string) => ReactNode;
}

/** One labelled Clarity control with its helper or error text. */
export function Field({ label, help, error, children, id: given }: FieldProps) {
  const generated = useId();
  const id = given ?? generated;
  const subId = `${id}-sub`;
  return (
    <div className="clr-form-control">
      <label htmlFor={id} className="clr-control-label">
        {label}
      </label>
      <div className={`clr-control-container${error ? ' clr-error' : ''}`}>
        {children(id, subId)}
        {(error ?? help) !== undefined && (
          <span id={subId} className={error ? 'clr-subtext vsp-subtext-error' : 'clr-subtext'} role={error ? 'alert' : undefined}>
            {error ?? help}
          </span>
        )}
      </div>
    </div>
  );
}

export interface SelectOption {
  value: string;
  label: string;
  /** Listed but not selectable; the label says why. */
  disabled?: boolean;
}

type SelectProps = Omit<SelectHTMLAttributes<HTMLSelectElement>, 'onChange' | 'value'> & {
  label: string;
  options: SelectOption[];
  value: string;
  onChange: (value: string) => void;
  /** Text of the empty first option; omitted when a value is required and set. */
  placeholder?: string;
  help?: ReactNode;
  error?: string | undefined;
  testId?: string;
};

export function SelectField({ label, options, value, onChange, placeholder, help, error, testId, id: given, ...rest }: SelectProps) {
  return (
    <Field label={label} help={help} error={error} id={given}>
      {(id, sub) => (
        <div className="clr-select-wrapper">
          <select
            {...rest}
            id={id}
            aria-describedby={sub}
            aria-invalid={error ? true : undefined}
            className="clr-select"
            data-test={testId}
            value={value}
            onChange={(e) => onChange(e.target.value)}
          >
            {placeholder !== undefined && <option value="">{placeholder}</option>}
            {options.map((o) => (
              <option key={o.value} value={o.value} disabled={o.disabled}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
      )}
    </Field>
  );
}

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'> & {
  label: string;
  value: string;
  onChange: (value: string) => void;
  help?: ReactNode;
  error?: string | undefined;
  testId?: string;
};

export function InputField({ label, value, onChange, help, error, testId, id: given, ...rest }: InputProps) {
  return (
    <Field label={label} help={help} error={error} id={given}>
      {(id, sub) => (
        <div className="clr-input-wrapper">
          <input
            type="text"
            {...rest}
            id={id}
            aria-describedby={sub}
            aria-invalid={error ? true : undefined}
            className="clr-input"
            data-test={testId}
            value={value}
            onChange={(e) => onChange(e.target.value)}
          />
        </div>
      )}
    </Field>
  );
}

/** Clarity checkbox with its label. */
export function Checkbox(props: { label: string; checked: boolean; onChange: (v: boolean) => void; testId?: string }) {
  const id = useId();
  return (
    <div className="clr-checkbox-wrapper vsp-checkbox">
      <input type="checkbox" id={id} data-test={props.testId} checked={props.checked} onChange={(e) => props.onChange(e.target.checked)} />
      <label htmlFor={id} className="clr-control-label">
        {props.label}
      </label>
    </div>
  );
}

/** A form field's problem, named where the user is looking (e.g. the modal footer). */
export interface FieldProblem {
  /** Element id of the field's control. */
  fieldId: string;
  text: string;
}

/** Brings a field into view and puts the cursor in it. */
export function goToField(fieldId: string): void {
  const el = document.getElementById(fieldId);
  if (!el) return;
  el.scrollIntoView?.({ block: 'center', behavior: 'smooth' });
  el.focus({ preventScroll: true });
}

/** The first problem of a form as a link that takes the user to its field. */
export function ProblemLink({ problem, id, testId }: { problem: FieldProblem; id?: string; testId?: string }) {
  return (
    <button type="button" id={id} data-test={testId} className="btn btn-link vsp-problem-link" onClick={() => goToField(problem.fieldId)}>
      {problem.text}
    </button>
  );
}

export interface RadioOption {
  value: string;
  label: string;
  /** One line under the option saying what choosing it means. */
  description?: string;
  testId?: string;
}

/** Clarity radio group (horizontal form row): one choice out of a few, each with its meaning. */
export function RadioGroup(props: { label: string; name: string; value: string; options: RadioOption[]; onChange: (value: string) => void; help?: ReactNode }) {
  const id = useId();
  return (
    <div className="clr-form-control" role="radiogroup" aria-labelledby={`${id}-label`}>
      <span id={`${id}-label`} className="clr-control-label">
        {props.label}
      </span>
      <div className="clr-control-container">
        {props.options.map((o) => (
          <div key={o.value} className="clr-radio-wrapper vsp-radio">
            <input
              type="radio"
              className="clr-radio"
              id={`${id}-${o.value}`}
              name={props.name}
              value={o.value}
              checked={props.value === o.value}
              aria-describedby={o.description ? `${id}-${o.value}-sub` : undefined}
              data-test={o.testId}
              onChange={() => props.onChange(o.value)}
            />
            <label htmlFor={`${id}-${o.value}`} className="clr-control-label">
              {o.label}
            </label>
            {o.description && (
              <span id={`${id}-${o.value}-sub`} className="clr-subtext vsp-radio-help">
                {o.description}
              </span>
            )}
          </div>
        ))}
        {props.help !== undefined && <span className="clr-subtext">{props.help}</span>}
      </div>
    </div>
  );
}
