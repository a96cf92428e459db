import { useT } from '../../i18n/i18n.ts';
import { testIds } from '../../testIds.ts';

/** VM → Monitor → "EC2 Migration". */
export function VmMonitorPage() {
  const t = useT();
  return (
    <div className="vsp-page" data-test={testIds.vmMonitor.page}>
      <h3>{t('vmMonitor.title')}</h3>
      <p>{t('vmMonitor.none')}</p>
    </div>
  );
}
