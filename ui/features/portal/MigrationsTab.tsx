import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { MigrationState, normalizeUserName, type MigrationTask, type Wave } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { CellId, CellText, CellVm, DataTable, type Column } from '../../kit/DataTable.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { AppliedList } from './AppliedOptions.tsx';
import { MigrationProgress } from './MigrationProgress.tsx';
import { meQuery, migrationQueries } from './portal.queries.ts';
import { TestInstanceDialog, useWarmMutations, WarmActionsMenu } from './WarmActions.tsx';
import { RollbackDialog, RollbackMenu, RollbackStatus } from './Rollback.tsx';
import { ResumeDialog, ResumeStatus } from './ResumeReplication.tsx';
import { WavesPanel } from './WavesPanel.tsx';

export { formatEta, MigrationProgress } from './MigrationProgress.tsx';

/** The connector running the task (issue 14). */
const runsOn = (m: MigrationTask): string | undefined => m.connectorId;
/** Handed back by its connector (a fleet release) and not yet taken over by a peer, which takes seconds. */
const waitingForConnector = (m: MigrationTask): boolean => (m.state === 'running' || m.state === 'cancelling') && runsOn(m) === undefined;

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
  const warm = useWarmMutations();
  const host = useHost();
  const [testFor, setTestFor] = useState<string | null>(null);
  const [rollbackFor, setRollbackFor] = useState<string | null>(null);
  const [resumeFor, setResumeFor] = useState<string | null>(null);
  // A wave's "Show migrations" narrows this list to its tasks (issue 14).
  const [wave, setWave] = useState<Wave | null>(null);
  const me = useQuery(meQuery(api));
  const envs = useQuery(environmentQueries.list(api));
  const myRole = envs.data?.environments.find((e) => e.id === environmentId)?.myRole;
  // The server decides; the button only says in advance who may (the requester, an Owner, an administrator).
  const mayCancel = (m: MigrationTask) =>
    me.data === undefined || me.data.isAdministrator || myRole === 'Owner' || normalizeUserName(me.data.userName) === m.requestedBy;
  const anyWarm = list.data?.items.some((m) => m.mode === 'warm') ?? false;
  const columns: Column<MigrationTask>[] = [
    { id: 'id', label: t('migrations.taskId'), cell: (m) => <CellId id={m.id} />, sortValue: (m) => m.id, minWidth: 100 },
    { id: 'vm', label: t('migrations.vm'), cell: (m) => <CellVm name={m.vmName} id={m.vmId} />, sortValue: (m) => m.vmName ?? m.vmId, minWidth: 110 },
    {
      id: 'state',
      label: t('migrations.state'),
      cell: (m) => <CellText text={t(`migrations.state.${m.state}`)} testId="migration-state" />,
      sortValue: (m) => m.state,
      minWidth: 80,
      // Never "Comple…": the column fits the longest state, however much room warm rows' columns take.
      values: MigrationState.options.map((s) => t(`migrations.state.${s}`)),
    },
    // A warm task's replication facts need a little more room than a cold task's progress line (they wrap; at
    // 1280×720 the State column's whole words and the actions come first).
    {
      id: 'progress',
      label: t('migrations.progress'),
      cell: (m) => (
        <>
          <MigrationProgress task={m} t={t} />
          <RollbackStatus task={m} t={t} />
          <ResumeStatus task={m} t={t} open={setResumeFor} />
        </>
      ),
      minWidth: anyWarm ? 190 : 170,
      wrap: true,
    },
    // Shown once tasks say which connector of the fleet runs them, or one waits for a connector to take it over
    // (every connector records itself on the tasks it runs, so an active task without one was handed back).
    ...(list.data?.items.some((m) => runsOn(m) !== undefined || waitingForConnector(m))
      ? [
          {
            id: 'runsOn',
            label: t('migrations.runsOn'),
            cell: (m: MigrationTask) =>
              waitingForConnector(m) ? (
                <CellText text={t('migrations.waitingForConnector')} testId={testIds.fleet.runsOn} />
              ) : (
                <CellId id={runsOn(m) ?? t('common.none')} testId={testIds.fleet.runsOn} />
              ),
            sortValue: (m: MigrationTask) => runsOn(m) ?? '',
            minWidth: 130,
            priority: 3,
          },
        ]
      : []),
    { id: 'instance', label: t('migrations.instanceId'), cell: (m) => <CellId id={m.instanceId ?? t('common.none')} testId="migration-instance" />, minWidth: 125, priority: 2 },
    { id: 'requestedBy', label: t('migrations.requestedBy'), cell: (m) => m.requestedBy, sortValue: (m) => m.requestedBy, minWidth: 140, priority: 4 },
    { id: 'created', label: t('migrations.created'), cell: (m) => new Date(m.createdAt).toLocaleString(), sortValue: (m) => m.createdAt, minWidth: 150, priority: 3 },
    // Read back from AWS (licence, encryption key, boot mode): first to move into the row's detail.
    {
      id: 'applied',
      label: t('migrations.applied'),
      cell: (m) => <AppliedList applied={m.applied} pending={m.state === 'queued' || m.state === 'running'} t={t} />,
      minWidth: 260,
      priority: 6,
      wrap: true,
    },
    {
      id: 'actions',
      label: t('migrations.actions'),
      // Warm and completed rows hold an Actions menu button, wider than Cancel.
      minWidth: anyWarm || list.data?.items.some((m) => m.rollback) ? 115 : 90,
      sticky: true,
      cell: (m) => {
        // Completed: Roll back, when the server reports it (issue 16).
        if (m.state === 'completed') return <RollbackMenu task={m} t={t} open={setRollbackFor} openResume={setResumeFor} />;
        if (m.state !== 'queued' && m.state !== 'running') return null;
        const allowed = mayCancel(m);
        if (m.mode === 'warm') {
          const busy = cancel.isPending || warm.finishTest.isPending || warm.cutover.isPending;
          return <WarmActionsMenu task={m} allowed={allowed} host={host} t={t} mutations={warm} stop={(id) => cancel.mutate(id)} busy={busy} openTestDialog={setTestFor} />;
        }
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
  const testTask = list.data.items.find((m) => m.id === testFor);
  const rollbackTask = list.data.items.find((m) => m.id === rollbackFor);
  const resumeTask = list.data.items.find((m) => m.id === resumeFor);
  const rows = wave ? list.data.items.filter((m) => wave.taskIds.includes(m.id)) : list.data.items;
  const actionError = [cancel, warm.finishTest, warm.cutover].find((mu) => mu.isError)?.error;
  return (
    <div data-test={testIds.portal.migrations}>
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      {actionError !== undefined && actionError !== null && <ApiErrorAlert error={actionError} />}
      <WavesPanel environmentId={environmentId} shown={wave} onShow={setWave} />
      {wave && (
        <Alert kind="info" compact testId={testIds.waves.filtered}>
          {t('waves.filtered', { count: rows.length, name: wave.name })}{' '}
          <Button variant="link" className="btn-sm" testId={testIds.waves.showAll} onClick={() => setWave(null)}>
            {t('waves.showAll')}
          </Button>
        </Alert>
      )}
      <DataTable
        label={t('portal.tab.migrations')}
        columns={columns}
        rows={rows}
        rowKey={(m) => m.id}
        rowTestId={(m) => testIds.portal.migrationRow(m.id)}
        empty={t('migrations.empty')}
      />
      {rollbackTask && <RollbackDialog key={rollbackTask.id} task={rollbackTask} t={t} onClose={() => setRollbackFor(null)} />}
      {resumeTask && <ResumeDialog key={resumeTask.id} task={resumeTask} t={t} onClose={() => setResumeFor(null)} />}
      {testTask && <TestInstanceDialog key={testTask.id} task={testTask} environmentId={environmentId} mutations={warm} t={t} onClose={() => setTestFor(null)} />}
    </div>
  );
}
