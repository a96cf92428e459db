import { toApiError } from '../api/errors.ts';
import { useT } from '../i18n/core.ts';
import { modalTestIds as testIds } from '../modalTestIds.ts';
import { Alert } from './Alert.tsx';

/** A connector error as the user sees it: its message, and its code for the administrator. */
export function ApiErrorAlert(props: { error: unknown }) {
  const t = useT();
  const e = toApiError(props.error);
  return (
    <Alert kind="danger" testId={testIds.apiError}>
      {e.message} <span className="vsp-error-code">{t('error.code', { code: e.code })}</span>
    </Alert>
  );
}
