import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { normalizeUserName, type ExportTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { useT, type Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { ContextMenu } from '../../kit/ContextMenu.tsx';
import { CellId, CellText, DataTable, type Column } from '../../kit/DataTable.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { ReturnForm } from '../return/ReturnForm.tsx';
import { ReturnTasks } from '../return/ReturnTasks.tsx';
import { exportQueries, meQuery } from './portal.queries.ts';

/** The wall clock, ticking while `on` (elapsed times of running exports). */
function useNow(on: boolean, everyMs = 15_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [on, everyMs]);
  return now;
}

function formatElapsed(ms: number, t: Translate): string {
  const min = Math.floor(Math.max(0, ms) / 60_000);
  if (min < 1) return t('exports.elapsed.underMinute');
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * What an export is doing. EC2 reports a state and sometimes a message but no percentage for instance exports,
 * so a running export shows its phase and how long it has run, not a progress bar.
 */
export function ExportStatus({ task, now, t }: { task: ExportTask; now: number; t: Translate }) {
  const running = task.state === 'active' || task.state === 'cancelling';
  const parts = [
    task.state === 'failed' || task.state === 'cancelled' ? (task.statusMessage ?? t(`exports.status.${task.state}`)) : t(`exports.status.${task.state}`),
    running && task.statusMessage ? t('migrations.ec2Status', { status: task.statusMessage }) : null,
    running ? t('exports.status.elapsed', { elapsed: formatElapsed(now - Date.parse(task.createdAt), t) }) : null,
  ];
  return (
    <span data-test={testIds.portal.exportStatus} title={running ? t('exports.status.noPercentage') : undefined} className={task.state === 'failed' ? 'vsp-subtext-error' : undefined}>
      {parts.filter(Boolean).join(' · ')}
    </span>
  );
}

/** Seed: "EC2-to-S3 Migrations … all instance export tasks from the last seven days"; right-click → Cancel Export Task. */
export function ExportsTab({ environmentId }: { environmentId: string }) {
  const api = useApi();
  const host = useHost();
  const t = useT();
  const qc = useQueryClient();
  const list = useQuery(exportQueries.lastWeek(api));
  const now = useNow(list.data?.items.some((e) => e.state === 'active' || e.state === 'cancelling') ?? false);
  const [menu, setMenu] = useState<{ row: ExportTask; at: { x: number; y: number } } | null>(null);
  const [bringing, setBringing] = useState<ExportTask | null>(null);
  const cancel = useMutation({ mutationFn: (id: string) => api.cancelExport(id), onSettled: () => qc.invalidateQueries({ queryKey: exportQueries.all() }) });
  const me = useQuery(meQuery(api));
  // The server decides; the menu says in advance who may (the requester or an administrator).
  const mayCancel = (e: ExportTask) => me.data === undefined || me.data.isAdministrator || normalizeUserName(me.data.userName) === e.requestedBy;
  if (list.isPending) return <Spinner label={t('app.loading')} />;
  if (list.isError && !list.data) return <ApiErrorAlert error={list.error} />;
  const rows = list.data.items.filter((e) => e.environmentId === environmentId);
  const confirmCancel = (row: ExportTask) =>
    host.confirm({
      title: t('exports.cancel'),
      content: t('exports.cancel.confirm', { id: row.exportTaskId, instance: row.instanceId }),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('exports.continue'), type: 'PRIMARY', style: 'DANGER', callback: () => cancel.mutate(row.id) },
        { label: t('common.cancel'), type: 'SECONDARY' },
      ],
    });
  const columns: Column<ExportTask>[] = [
    { id: 'id', label: t('exports.taskId'), cell: (e) => <CellId id={e.exportTaskId} />, sortValue: (e) => e.exportTaskId, minWidth: 150 },
    { id: 'instance', label: t('migrations.instanceId'), cell: (e) => <CellId id={e.instanceId} />, sortValue: (e) => e.instanceId, minWidth: 150 },
    { id: 'state', label: t('migrations.state'), cell: (e) => <CellText text={t(`exports.state.${e.state}`)} testId={testIds.portal.exportState} />, sortValue: (e) => e.state, minWidth: 100 },
    { id: 'status', label: t('exports.status'), cell: (e) => <ExportStatus task={e} now={now} t={t} />, minWidth: 180, wrap: true },
    { id: 'file', label: t('exports.file'), cell: (e) => <CellText text={e.s3Key ? `s3://${e.bucket}/${e.s3Key}` : `s3://${e.bucket}/${e.s3Prefix}`} mono />, minWidth: 200, priority: 2 },
    { id: 'requestedBy', label: t('migrations.requestedBy'), cell: (e) => e.requestedBy, sortValue: (e) => e.requestedBy, minWidth: 140, priority: 4 },
    { id: 'created', label: t('migrations.created'), cell: (e) => new Date(e.createdAt).toLocaleString(), sortValue: (e) => e.createdAt, minWidth: 150, priority: 3 },
  ];
  return (
    <div data-test={testIds.portal.exports}>
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      {cancel.isError && <ApiErrorAlert error={cancel.error} />}
      <p className="vsp-muted">{t('exports.hint')}</p>
      <DataTable
        label={t('portal.tab.exports')}
        columns={columns}
        rows={rows}
        rowKey={(e) => e.id}
        rowTestId={(e) => testIds.portal.exportRow(e.exportTaskId)}
        onRowContextMenu={(row, at) => setMenu({ row, at })}
        empty={t('exports.empty')}
      />
      {menu && (
        <ContextMenu
          label={menu.row.exportTaskId}
          at={menu.at}
          onClose={() => setMenu(null)}
          items={[
            { label: t('exports.cancel'), disabled: menu.row.state !== 'active' || !mayCancel(menu.row), title: mayCancel(menu.row) ? t('exports.cancelRule') : t('exports.cancelNotAllowed', { rule: t('exports.cancelRule') }), onSelect: () => confirmCancel(menu.row) },
            { label: t('return.action'), testId: testIds.returns.open, disabled: menu.row.state !== 'completed', title: t(menu.row.state === 'completed' ? 'return.actionRule' : 'return.notCompleted'), onSelect: () => setBringing(menu.row) },
          ]}
        />
      )}
      {bringing && <ReturnForm key={bringing.id} exp={bringing} onClose={() => setBringing(null)} />}
      <ReturnTasks environmentId={environmentId} />
    </div>
  );
}
