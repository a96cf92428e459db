import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { useApi } from '../../api/ApiContext.tsx';
import { HostProblemMessage } from '../../app/HostProblemMessage.tsx';
import { contextVm } from '../../host/host.ts';
import { useHost } from '../../host/HostContext.tsx';
import { formatBytes } from '../../i18n/translate.ts';
import { useT } from '../../i18n/migrate.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { modalTestIds as testIds } from '../../modalTestIds.ts';
import { MigrationForm } from './MigrationForm.tsx';
import { environmentQueries, vmQueries } from './migrate.queries.ts';
import { migratableEnvironments } from './TargetFields.tsx';

/** The "Migrate VM to EC2" action's modal: the VM, then the seed's form. Two calls in parallel before the form shows. */
export function MigrateVmPage() {
  const host = useHost();
  const api = useApi();
  const t = useT();
  const context = contextVm(host);
  const vmId = 'vmId' in context ? context.vmId : undefined;
  const vm = useQuery({ ...vmQueries.detail(api, vmId ?? ''), enabled: vmId !== undefined });
  const envs = useQuery({ ...environmentQueries.list(api), enabled: vmId !== undefined });
  const access = useQuery({ ...vmQueries.migrateAccess(api, vmId ?? ''), enabled: vmId !== undefined });
  const close = (
    <Button variant="outline" testId={testIds.migrate.close} onClick={() => host.closeModal()}>
      {t('common.close')}
    </Button>
  );

  let body: ReactNode;
  if ('problem' in context) body = <HostProblemMessage problem={context.problem} />;
  else if (vm.isPending || access.isPending) body = <Spinner label={t('app.loading')} testId={testIds.shell.loading} />;
  else if (vm.isError) body = <ApiErrorAlert error={vm.error} />;
  else if (access.data && !access.data.canMigrate) {
    // Seed: a user without permission sees a message asking the administrator to grant it, before any form.
    body = (
      <Alert kind="warning" testId={testIds.migrate.accessMissing}>
        <strong>{t('migrate.access.title', { vm: access.data.vmName })}</strong>
        <ul className="vsp-access-missing">
          {access.data.missing.map((m) => (
            <li key={m.code} data-test={testIds.migrate.accessGap(m.code)}>
              {m.message} {m.fix}
            </li>
          ))}
        </ul>
      </Alert>
    );
  }
  // An error of the access question itself falls through to the form: its pre-flight checks say the same.

  if (body !== undefined || !vm.data) {
    return (
      <div className="vsp-modal" data-test={testIds.migrate.page}>
        <div className="vsp-modal-body">{body}</div>
        <div className="vsp-modal-footer">{close}</div>
      </div>
    );
  }

  const summary = (
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
  );

  const migratable = migratableEnvironments(envs.data?.environments ?? []);
  return (
    <MigrationForm
      vm={vm.data}
      summary={summary}
      environments={migratable}
      environmentsState={envs.isPending ? 'loading' : envs.isError ? { error: envs.error } : 'ready'}
      closeButton={close}
      onClose={() => host.closeModal()}
    />
  );
}
