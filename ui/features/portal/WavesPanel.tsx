// The environment's waves, above its migration tasks in VM-to-EC2 Migrations: a wave is a group of those same tasks,
// so its row sums them up and "Show migrations" narrows the task list below to them (no second list of tasks).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { normalizeUserName, type Wave, type WaveCounts } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { formatBytes, useT, type Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { CellText, DataTable, type Column } from '../../kit/DataTable.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { formatInZone } from '../wave/startWindow.ts';
import { formatEta } from './MigrationProgress.tsx';
import './waves.css';
import { meQuery, migrationQueries, waveQueries } from './portal.queries.ts';

const COUNT_ORDER: (keyof WaveCounts)[] = ['running', 'queued', 'cancelling', 'completed', 'failed', 'cancelled'];

/** "2 running · 3 queued · 1 completed": only the states the wave has. */
export function countsText(counts: WaveCounts, t: Translate): string {
  return COUNT_ORDER.filter((k) => counts[k] > 0)
    .map((k) => t(`waves.count.${k}`, { n: counts[k] }))
    .join(' · ');
}

export function windowText(w: Wave, t: Translate): string {
  // Past its not-after time the migrations that had not started were cancelled: say when.
  if (w.windowClosedAt) return t('waves.window.closed', { time: formatInZone(w.windowClosedAt) });
  const nb = w.window?.notBefore;
  const na = w.window?.notAfter;
  if (nb && na) return t('waves.window.both', { from: formatInZone(nb), until: formatInZone(na) });
  if (nb) return t('waves.window.from', { time: formatInZone(nb) });
  if (na) return t('waves.window.until', { time: formatInZone(na) });
  return t('waves.window.none');
}

const ended = (w: Wave) => w.state === 'completed' || w.state === 'completed-with-failures' || w.state === 'cancelled';

interface Props {
  environmentId: string;
  /** The wave whose tasks the list below shows, if any. */
  shown: Wave | null;
  onShow: (wave: Wave | null) => void;
}

export function WavesPanel({ environmentId, shown, onShow }: Props) {
  const api = useApi();
  const t = useT();
  const host = useHost();
  const qc = useQueryClient();
  const list = useQuery(waveQueries.byEnvironment(api, environmentId));
  const me = useQuery(meQuery(api));
  const envs = useQuery(environmentQueries.list(api));
  const myRole = envs.data?.environments.find((e) => e.id === environmentId)?.myRole;
  const cancel = useMutation({
    mutationFn: (id: string) => api.cancelWave(id),
    onSettled: () => Promise.all([qc.invalidateQueries({ queryKey: waveQueries.all() }), qc.invalidateQueries({ queryKey: migrationQueries.all() })]),
  });
  // The server decides; the button only says in advance who may.
  const mayCancel = (w: Wave) => me.data === undefined || me.data.isAdministrator || myRole === 'Owner' || normalizeUserName(me.data.userName) === w.createdBy;
  const confirmCancel = (w: Wave) => {
    const open = w.total - w.counts.completed - w.counts.failed - w.counts.cancelled;
    host.confirm({
      title: t('waves.cancel'),
      content: t('waves.cancel.confirm', { name: w.name, count: open }),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('waves.cancel.continue'), type: 'PRIMARY', style: 'DANGER', callback: () => cancel.mutate(w.id) },
        { label: t('waves.cancel.keep'), type: 'SECONDARY' },
      ],
    });
  };

  if (list.isPending) return null; // the task list below shows the page's spinner
  if (list.isError && !list.data) return <ApiErrorAlert error={list.error} />;
  if (list.data.items.length === 0) return null;
  const columns: Column<Wave>[] = [
    {
      id: 'name',
      label: t('waves.name'),
      // The name drills down, as object names do in the vSphere Client: the task list below shows the wave's tasks.
      cell: (w) => (
        <Button variant="link" className="btn-sm vsp-wave-name" aria-label={t('waves.showOf', { name: w.name })} title={`${w.name} (${w.id})`} testId={testIds.waves.show} onClick={() => onShow(w)}>
          {w.name}
        </Button>
      ),
      sortValue: (w) => w.name,
      minWidth: 110,
    },
    { id: 'state', label: t('waves.state'), cell: (w) => <CellText text={t(`waves.state.${w.state}`)} testId={testIds.waves.state} />, sortValue: (w) => w.state, minWidth: 90 },
    { id: 'counts', label: t('waves.counts'), cell: (w) => <CellText text={countsText(w.counts, t)} testId={testIds.waves.counts} />, minWidth: 140, wrap: true },
    {
      id: 'progress',
      label: t('waves.progress'),
      cell: (w) =>
        ended(w) ? null : (
          <CellText
            text={w.etaSeconds !== undefined ? t('waves.bytesLeft.eta', { bytes: formatBytes(w.bytesLeft), eta: formatEta(w.etaSeconds) }) : t('waves.bytesLeft', { bytes: formatBytes(w.bytesLeft) })}
            testId={testIds.waves.progress}
          />
        ),
      sortValue: (w) => w.bytesLeft,
      minWidth: 130,
      wrap: true,
    },
    { id: 'priority', label: t('waves.priority'), cell: (w) => String(w.priority), sortValue: (w) => w.priority, minWidth: 80, priority: 3 },
    { id: 'window', label: t('waves.window'), cell: (w) => <CellText text={windowText(w, t)} />, minWidth: 180, priority: 2, wrap: true },
    { id: 'createdBy', label: t('waves.createdBy'), cell: (w) => w.createdBy, sortValue: (w) => w.createdBy, minWidth: 140, priority: 4 },
    {
      id: 'actions',
      label: t('waves.actions'),
      minWidth: 115,
      sticky: true,
      cell: (w) =>
        !ended(w) &&
        w.state !== 'cancelling' && (
            <Button
              variant="link"
              className="btn-sm"
              aria-label={t('waves.cancelOf', { name: w.name })}
              title={mayCancel(w) ? t('waves.cancelRule') : t('migrations.cancelNotAllowed', { rule: t('waves.cancelRule') })}
              disabled={cancel.isPending || !mayCancel(w)}
              testId={testIds.waves.cancel}
              onClick={() => confirmCancel(w)}
            >
              {t('waves.cancel')}
            </Button>
          ),
    },
  ];
  return (
    <section className="vsp-waves" aria-label={t('waves.title')} data-test={testIds.waves.panel}>
      <h4>{t('waves.title')}</h4>
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      {cancel.isError && <ApiErrorAlert error={cancel.error} />}
      <DataTable
        label={t('waves.title')}
        columns={columns}
        rows={list.data.items}
        rowKey={(w) => w.id}
        rowTestId={(w) => testIds.waves.row(w.name)}
        empty={t('waves.empty')}
        selected={shown?.id ?? null}
      />
    </section>
  );
}
