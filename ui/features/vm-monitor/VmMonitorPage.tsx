import { useQuery } from '@tanstack/react-query';
import type { MigrationTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { HostProblemMessage } from '../../app/HostProblemMessage.tsx';
import { contextVm } from '../../host/host.ts';
import { useHost } from '../../host/HostContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { CellId, DataTable, type Column } from '../../kit/DataTable.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { MigrationProgress } from '../portal/MigrationProgress.tsx';
import { migrationQueries } from '../portal/portal.queries.ts';

/** VM → Monitor → "EC2 Migration": this VM's migrations and the instances they produced. */
export function VmMonitorPage() {
  const api = useApi();
  const host = useHost();
  const t = useT();
  const vm = contextVm(host);
  const vmId = 'vmId' in vm ? vm.vmId : undefined;
  const list = useQuery({ ...migrationQueries.byVm(api, vmId ?? ''), enabled: vmId !== undefined });
  const columns: Column<MigrationTask>[] = [
    { id: 'id', label: t('migrations.taskId'), cell: (m) => <CellId id={m.id} />, sortValue: (m) => m.id, minWidth: 120 },
    { id: 'state', label: t('migrations.state'), cell: (m) => t(`migrations.state.${m.state}`), sortValue: (m) => m.state, minWidth: 90 },
    { id: 'progress', label: t('migrations.progress'), cell: (m) => <MigrationProgress task={m} t={t} />, minWidth: 200, wrap: true },
    { id: 'region', label: t('migrate.region'), cell: (m) => m.region, minWidth: 100, priority: 3 },
    { id: 'instance', label: t('migrations.instanceId'), cell: (m) => <CellId id={m.instanceId ?? t('common.none')} />, minWidth: 150, priority: 2 },
    { id: 'created', label: t('migrations.created'), cell: (m) => new Date(m.createdAt).toLocaleString(), sortValue: (m) => m.createdAt, minWidth: 150, priority: 3 },
  ];
  return (
    <div className="vsp-page" data-test={testIds.vmMonitor.page}>
      <h3>{t('vmMonitor.title')}</h3>
      {'problem' in vm && <HostProblemMessage problem={vm.problem} />}
      {list.isPending && vmId !== undefined && <Spinner label={t('app.loading')} />}
      {list.isError && !list.data && <ApiErrorAlert error={list.error} />}
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      {list.data && (list.data.items.length === 0 ? <p>{t('vmMonitor.none')}</p> : <DataTable label={t('vmMonitor.title')} columns={columns} rows={list.data.items} rowKey={(m) => m.id} empty={t('vmMonitor.none')} />)}
    </div>
  );
}
