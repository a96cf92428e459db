import { useQuery } from '@tanstack/react-query';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { formatBytes, useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { vmQueries } from './migrate.queries.ts';

/** The "Migrate VM to EC2" action's modal. */
export function MigrateVmPage() {
  const host = useHost();
  const api = useApi();
  const t = useT();
  const vmId = host.contextObjects().find((o) => o.type === 'VirtualMachine')?.id;
  const vm = useQuery({ ...vmQueries.detail(api, vmId ?? ''), enabled: vmId !== undefined });

  return (
    <div className="vsp-modal" data-test={testIds.migrate.page}>
      <div className="vsp-modal-body">
        {vmId === undefined && <Alert kind="warning">{t('migrate.noVm')}</Alert>}
        {vm.isPending && vmId !== undefined && <Spinner label={t('app.loading')} testId={testIds.shell.loading} />}
        {vm.isError && <ApiErrorAlert error={vm.error} />}
        {vm.data && (
          <section aria-labelledby="vsp-source-vm">
            <h4 id="vsp-source-vm">{t('migrate.sourceVm')}</h4>
            <dl className="vsp-kv">
              <dt>{t('migrate.vmName')}</dt>
              <dd data-test={testIds.migrate.vmName}>{vm.data.name}</dd>
              <dt>{t('migrate.guestOs')}</dt>
              <dd data-test={testIds.migrate.guestOs}>{vm.data.guestFullName}</dd>
              <dt>{t('migrate.powerState')}</dt>
              <dd data-test={testIds.migrate.powerState}>{t(`power.${vm.data.powerState}`)}</dd>
              <dt>{t('migrate.disks')}</dt>
              <dd data-test={testIds.migrate.disks}>
                {t('migrate.diskSummary', {
                  count: vm.data.disks.length,
                  size: formatBytes(vm.data.disks.reduce((sum, d) => sum + d.capacityBytes, 0)),
                })}
              </dd>
            </dl>
          </section>
        )}
      </div>
      <div className="vsp-modal-footer">
        <Button variant="outline" testId={testIds.migrate.close} onClick={() => host.closeModal()}>
          {t('common.close')}
        </Button>
      </div>
    </div>
  );
}
