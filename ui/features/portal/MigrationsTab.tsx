import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { normalizeUserName, type MigrationTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { formatBytes, useT, type Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { CellId, CellText, CellVm, DataTable, type Column } from '../../kit/DataTable.tsx';
import { ProgressBar } from '../../kit/ProgressBar.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { meQuery, migrationQueries } from './portal.queries.ts';

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** State and what it is doing, honestly: phase, queue position, EC2's own status, or the error. */
export function MigrationProgress({ task, t }: { task: MigrationTask; t: Translate }) {
  const status = task.state === 'failed' ? 'danger' : task.state === 'completed' ? 'success' : undefined;
  const importing = task.state === 'running' && task.phase === 'importing';
  return (
    <div>
      <ProgressBar value={task.percent} label={t('migrations.progressOf', { id: task.id })} {...(status ? { status } : {})} />
      <div className="vsp-muted">
        {t(`migrations.phase.${task.phase}`)}
        {task.queuePosition !== undefined && ` · ${t('migrations.queuePosition', { position: task.queuePosition })}`}
        {task.importStatus &&
          ` · ${
            importing && task.importProgress !== undefined
              ? t('migrations.ec2StatusProgress', { status: task.importStatus, percent: task.importProgress })
              : t('migrations.ec2Status', { status: task.importStatus })
          }`}
        {task.throughputBps !== undefined && task.throughputBps > 0 && ` · ${formatBytes(task.throughputBps)}/s`}
        {task.etaSeconds !== undefined && task.state === 'running' && ` · ${t('migrations.eta', { eta: formatEta(task.etaSeconds) })}`}
        {importing && task.importEtaSeconds !== undefined && ` · ${t('migrations.eta', { eta: formatEta(task.importEtaSeconds) })}`}
      </div>
      {task.disks.length > 1 && (
        <ul className="vsp-checks">
          {task.disks.map((d, i) => (
            <li key={d.key} className="vsp-muted">
              {t('migrations.disk', { n: i + 1, done: formatBytes(d.bytesUploaded), total: formatBytes(d.expectedBytes) })}
            </li>
          ))}
        </ul>
      )}
      {task.error && <span className="vsp-subtext-error">{task.error}</span>}
      {task.warning && <span className="vsp-subtext-warning">{task.warning}</span>}
    </div>
  );
}

/** Seed: "select the environment, and then click the VM-to-EC2 Migrations tab". */
export function MigrationsTab({ environmentId }: { environmentId: string }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const list = useQuery(migrationQueries.byEnvironment(api, environmentId));
  const cancel = useMutation({
    mutationFn: (id: string) => api.cancelMigration(id),
    onSettled: () => qc.invalidateQueries({ queryKey: migrationQueries.all() }),
  });
  const me = useQuery(meQuery(api));
  const envs = useQuery(environmentQueries.list(api));
  const myRole = envs.data?.environments.find((e) => e.id === environmentId)?.myRole;
  // The server decides; the button only says in advance who may (the requester, an Owner, an administrator).
  const mayCancel = (m: MigrationTask) =>
    me.data === undefined || me.data.isAdministrator || myRole === 'Owner' || normalizeUserName(me.data.userName) === m.requestedBy;
  const columns: Column<MigrationTask>[] = [
    { id: 'id', label: t('migrations.taskId'), cell: (m) => <CellId id={m.id} />, sortValue: (m) => m.id, minWidth: 100 },
    { id: 'vm', label: t('migrations.vm'), cell: (m) => <CellVm name={m.vmName} id={m.vmId} />, sortValue: (m) => m.vmName ?? m.vmId, minWidth: 110 },
    { id: 'state', label: t('migrations.state'), cell: (m) => <CellText text={t(`migrations.state.${m.state}`)} testId="migration-state" />, sortValue: (m) => m.state, minWidth: 80 },
    { id: 'progress', label: t('migrations.progress'), cell: (m) => <MigrationProgress task={m} t={t} />, minWidth: 170, wrap: true },
    { id: 'instance', label: t('migrations.instanceId'), cell: (m) => <CellId id={m.instanceId ?? t('common.none')} testId="migration-instance" />, minWidth: 150, priority: 2 },
    { id: 'requestedBy', label: t('migrations.requestedBy'), cell: (m) => m.requestedBy, sortValue: (m) => m.requestedBy, minWidth: 140, priority: 4 },
    { id: 'created', label: t('migrations.created'), cell: (m) => new Date(m.createdAt).toLocaleString(), sortValue: (m) => m.createdAt, minWidth: 150, priority: 3 },
    {
      id: 'actions',
      label: t('migrations.actions'),
      minWidth: 90,
      sticky: true,
      cell: (m) => {
        if (m.state !== 'queued' && m.state !== 'running') return null;
        const allowed = mayCancel(m);
        const rule = t('migrations.cancelRule');
        return (
          <Button
            variant="link"
            aria-label={t('migrations.cancelOf', { id: m.id })}
            title={allowed ? rule : t('migrations.cancelNotAllowed', { rule })}
            disabled={cancel.isPending || !allowed}
            onClick={() => cancel.mutate(m.id)}
          >
            {t('common.cancel')}
          </Button>
        );
      },
    },
  ];
  if (list.isPending) return <Spinner label={t('app.loading')} />;
  if (list.isError && !list.data) return <ApiErrorAlert error={list.error} />;
  return (
    <div data-test={testIds.portal.migrations}>
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      {cancel.isError && <ApiErrorAlert error={cancel.error} />}
      <DataTable
        label={t('portal.tab.migrations')}
        columns={columns}
        rows={list.data.items}
        rowKey={(m) => m.id}
        rowTestId={(m) => testIds.portal.migrationRow(m.id)}
        empty={t('migrations.empty')}
      />
    </div>
  );
}
