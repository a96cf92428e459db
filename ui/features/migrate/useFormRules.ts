import { useEffect, useState } from 'react';

type FormRules = typeof import('./formRules.ts');

// zod is most of a form chunk's weight: the contract's rules arrive with the first field that needs them (a warm
// interval, a tag row), not with the form's first render.
let loaded: FormRules | undefined;
let loading: Promise<FormRules> | undefined;

/** The form's contract rules, fetched once. A failed fetch is retried at the next call. */
export function loadFormRules(): Promise<FormRules> {
  loading ??= import('./formRules.ts').then(
    (m) => (loaded = m),
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** The rules once loaded; while `needed` and not yet here, undefined (the caller treats its fields as not yet checked). */
export function useFormRules(needed: boolean): FormRules | undefined {
  const [rules, setRules] = useState(loaded);
  useEffect(() => {
    if (!needed || rules) return;
    let live = true;
    loadFormRules().then(
      (m) => live && setRules(m),
      () => undefined, // the fields stay unchecked and Begin stays off; the next render that needs them retries
    );
    return () => {
      live = false;
    };
  }, [needed, rules]);
  return rules ?? loaded;
}
