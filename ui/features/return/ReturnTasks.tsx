// The "Bring back to vCenter" tasks of an environment, under its exports (where they are started): state, phase,
// bytes uploaded, throughput and ETA while running, the new VM once made, and Cancel on the row.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { normalizeUserName, type ReturnTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { formatBytes, useT, type Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { CellText, DataTable, type Column } from '../../kit/DataTable.tsx';
import { ProgressBar } from '../../kit/ProgressBar.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { formatEta } from '../portal/MigrationProgress.tsx';
import { meQuery } from '../portal/portal.queries.ts';
import { returnQueries } from './return.queries.ts';

/** Phase, then bytes, throughput and ETA while uploading; why it failed; the new VM once there. */
function ReturnProgress({ task, t }: { task: ReturnTask; t: Translate }) {
  const running = task.state === 'running' || task.state === 'cancelling';
  const facts = running
    ? [
        // From an imported instance: the export is step 1, the import step 2.
        task.source === 'instance' ? t('return.step', { step: task.phase === 'exporting' ? 1 : 2 }) : null,
        task.phase === 'exporting' ? t('return.phase.exporting', { id: task.exportTaskId ?? task.exportId }) : t(`return.phase.${task.phase}`),
        task.bytesTotal ? t('return.bytes', { done: formatBytes(task.bytesUploaded), total: formatBytes(task.bytesTotal) }) : null,
        task.throughputBps ? t('return.throughput', { rate: formatBytes(task.throughputBps) }) : null,
        task.etaSeconds !== undefined && task.phase === 'uploading' ? t('return.eta', { eta: formatEta(task.etaSeconds) }) : null,
      ]
    : [task.message ?? null, task.state === 'completed' && task.vmId ? t('return.vm', { id: task.vmId }) : null];
  return (
    <div data-test={testIds.returns.progress}>
      {running && <ProgressBar value={task.percent} label={t('return.col.progress')} />}
      <div className={task.state === 'failed' ? 'vsp-subtext-error' : 'vsp-muted'}>{facts.filter(Boolean).join(' · ')}</div>
    </div>
  );
}

export function ReturnTasks({ environmentId }: { environmentId: string }) {
  const api = useApi();
  const host = useHost();
  const t = useT();
  const qc = useQueryClient();
  const list = useQuery(returnQueries.list(api));
  const me = useQuery(meQuery(api));
  const cancel = useMutation({ mutationFn: (id: string) => api.cancelReturn(id), onSettled: () => qc.invalidateQueries({ queryKey: returnQueries.all() }) });
  // The server decides; the button says in advance who may (the requester or an administrator).
  const mayCancel = (r: ReturnTask) => me.data === undefined || me.data.isAdministrator || normalizeUserName(me.data.userName) === r.requestedBy;
  const confirmCancel = (r: ReturnTask) =>
    host.confirm({
      title: t('return.cancelOf', { name: r.name }),
      content: t('return.cancel.confirm', { name: r.name }),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('return.cancel.continue'), type: 'PRIMARY', style: 'DANGER', callback: () => cancel.mutate(r.id) },
        { label: t('common.cancel'), type: 'SECONDARY' },
      ],
    });
  const columns: Column<ReturnTask>[] = [
    { id: 'name', label: t('return.col.name'), cell: (r) => <CellText text={r.name} />, sortValue: (r) => r.name, minWidth: 140 },
    { id: 'state', label: t('return.col.state'), cell: (r) => <CellText text={t(`return.state.${r.state}`)} testId={testIds.returns.state} />, sortValue: (r) => r.state, minWidth: 100 },
    { id: 'progress', label: t('return.col.progress'), cell: (r) => <ReturnProgress task={r} t={t} />, minWidth: 220, wrap: true },
    {
      id: 'actions',
      label: '',
      cell: (r) =>
        r.state === 'running' ? (
          <Button variant="link" testId={testIds.returns.cancel(r.id)} aria-label={t('return.cancelOf', { name: r.name })} title={t('return.cancelRule')} disabled={!mayCancel(r) || cancel.isPending} onClick={() => confirmCancel(r)}>
            {t('return.cancel')}
          </Button>
        ) : null,
      minWidth: 80,
    },
    { id: 'from', label: t('return.col.export'), cell: (r) => <CellText text={t('return.from', { instance: r.instanceId, id: r.exportId })} mono />, minWidth: 200, priority: 2, wrap: true },
    { id: 'requestedBy', label: t('return.col.requestedBy'), cell: (r) => r.requestedBy, sortValue: (r) => r.requestedBy, minWidth: 140, priority: 4 },
    { id: 'created', label: t('return.col.created'), cell: (r) => new Date(r.createdAt).toLocaleString(), sortValue: (r) => r.createdAt, minWidth: 150, priority: 3 },
  ];
  if (list.isPending) return <Spinner label={t('app.loading')} />;
  if (list.isError && !list.data) return <ApiErrorAlert error={list.error} />;
  const rows = list.data.items.filter((r) => r.environmentId === environmentId);
  return (
    <section data-test={testIds.returns.tasks} aria-label={t('return.tasks')}>
      <h4>{t('return.tasks')}</h4>
      <p className="vsp-muted">{t('return.tasks.hint')}</p>
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      {cancel.isError && <ApiErrorAlert error={cancel.error} />}
      <DataTable label={t('return.tasks')} columns={columns} rows={rows} rowKey={(r) => r.id} rowTestId={(r) => testIds.returns.row(r.name)} empty={t('return.tasks.empty')} />
    </section>
  );
}
