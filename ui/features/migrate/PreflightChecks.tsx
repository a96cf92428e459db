import type { PreflightCheck } from '../../../connector/contract/index.ts';
import { useT } from '../../i18n/migrate.ts';
import { Alert, type AlertKind } from '../../kit/Alert.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';

const kindOf: Record<PreflightCheck['severity'], AlertKind> = { blocker: 'danger', warning: 'warning', info: 'info' };
const order: PreflightCheck['severity'][] = ['blocker', 'warning', 'info'];

/** Pre-flight results, blockers first, each with what to do about it. */
export function PreflightChecks({ checks }: { checks: PreflightCheck[] }) {
  const t = useT();
  const sorted = [...checks].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
  return (
    <ul className="vsp-checks" aria-label={t('migrate.preflight.title')} data-test={testIds.migrate.checks}>
      {sorted.map((c) => (
        <li key={`${c.code}-${c.message}`} data-test={testIds.migrate.check(c.severity)} data-code={c.code}>
          <Alert kind={kindOf[c.severity]} compact>
            <strong>{t(`migrate.preflight.${c.severity}`)}</strong> {c.message}
            {c.fix && (
              <>
                {' '}
                <span>{t('migrate.preflight.fix', { fix: c.fix })}</span>
              </>
            )}
          </Alert>
        </li>
      ))}
    </ul>
  );
}
