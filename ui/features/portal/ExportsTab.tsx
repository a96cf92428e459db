import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { ExportTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { ContextMenu } from '../../kit/ContextMenu.tsx';
import { DataTable, type Column } from '../../kit/DataTable.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { exportQueries } from './portal.queries.ts';

/** Seed: "EC2-to-S3 Migrations … all instance export tasks from the last seven days"; right-click → Cancel Export Task. */
export function ExportsTab({ environmentId }: { environmentId: string }) {
  const api = useApi();
  const host = useHost();
  const t = useT();
  const qc = useQueryClient();
  const list = useQuery(exportQueries.lastWeek(api));
  const [menu, setMenu] = useState<{ row: ExportTask; at: { x: number; y: number } } | null>(null);
  const cancel = useMutation({ mutationFn: (id: string) => api.cancelExport(id), onSettled: () => qc.invalidateQueries({ queryKey: exportQueries.all() }) });
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
    { id: 'id', label: t('exports.taskId'), cell: (e) => e.exportTaskId, sortValue: (e) => e.exportTaskId },
    { id: 'instance', label: t('migrations.instanceId'), cell: (e) => e.instanceId, sortValue: (e) => e.instanceId },
    { id: 'state', label: t('migrations.state'), cell: (e) => <span data-test={testIds.portal.exportState}>{t(`exports.state.${e.state}`)}</span>, sortValue: (e) => e.state },
    { id: 'status', label: t('exports.status'), cell: (e) => e.statusMessage ?? t('common.none') },
    { id: 'file', label: t('exports.file'), cell: (e) => (e.s3Key ? `s3://${e.bucket}/${e.s3Key}` : `s3://${e.bucket}/${e.s3Prefix}`) },
    { id: 'created', label: t('migrations.created'), cell: (e) => new Date(e.createdAt).toLocaleString(), sortValue: (e) => e.createdAt },
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
          items={[{ label: t('exports.cancel'), disabled: menu.row.state !== 'active', onSelect: () => confirmCancel(menu.row) }]}
        />
      )}
    </div>
  );
}
