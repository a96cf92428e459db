import type { ReactNode } from 'react';
import type { MigrationTask, WarmReplication } from '../../../connector/contract/index.ts';
import { formatBytes, type Translate } from '../../i18n/i18n.ts';
import type { MessageKey } from '../../i18n/en-US.ts';
import { ProgressBar } from '../../kit/ProgressBar.tsx';
import { testIds } from '../../testIds.ts';

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** In the user's locale (the browser's, as the vSphere Client's): the time alone when it is today, else date and time. */
export function formatWhen(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  return d.toDateString() === now.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}
const at = (iso: string) => formatWhen(iso);

/** Where a warm migration stands, in the words the user follows: initial sync → replicating → test → cutting over → completed. */
export function warmStage(task: MigrationTask, w: WarmReplication, t: Translate): string {
  if (task.state === 'completed') return t('migrations.warm.stage.completed');
  if (task.state !== 'running') return t(`migrations.phase.${task.phase}`);
  switch (task.phase) {
    case 'initial-sync':
      // A resumed replication's first cycle sends only what changed since the cutover, unless it fell back to a full sync.
      return t(w.resumedFrom && !w.fullSync ? 'migrations.warm.stage.resuming' : 'migrations.phase.initial-sync');
    case 'replicating': {
      const test = w.test?.state;
      const key: MessageKey =
        test === 'launching'
          ? 'migrations.warm.stage.testLaunching'
          : test === 'running'
            ? 'migrations.warm.stage.testRunning'
            : test === 'finishing'
              ? 'migrations.warm.stage.testFinishing'
              : w.cycleRunning
                ? 'migrations.warm.stage.syncing'
                : 'migrations.warm.stage.replicating';
      return t(key);
    }
    case 'cutting-over':
      return t(
        w.cutover?.sourcePoweredOffAt ? 'migrations.warm.stage.finalSync' : w.shutdown === 'user' ? 'migrations.warm.stage.waitingPowerOff' : 'migrations.warm.stage.shuttingDown',
      );
    case 'importing':
    case 'launching':
    case 'cleaning-up':
      return `${t('migrations.warm.stage.cuttingOver')} · ${t(`migrations.phase.${task.phase}`)}`;
    default:
      return t(`migrations.phase.${task.phase}`);
  }
}

/** One fact on its own line; a short value (a time, a duration, an id) is kept whole. */
function Fact({ id, label, children, short }: { id: string; label: string; children: ReactNode; short?: boolean }) {
  return (
    <li className="vsp-muted" data-test={testIds.portal.warmFact(id)}>
      {label}: {short ? <span className="vsp-nowrap">{children}</span> : children}
    </li>
  );
}

/** The replication's facts: last sync, changed data, lag (RPO), next sync, full-sync reason, test instance, downtime. */
export function WarmFacts({ task, w, t }: { task: MigrationTask; w: WarmReplication; t: Translate }) {
  const replicating = task.state === 'running' && task.phase === 'replicating';
  const cutOver = w.cutover !== undefined;
  const test = w.test;
  return (
    <ul className="vsp-checks vsp-warm-facts">
      {w.fullSync && w.fullSyncReason && task.state === 'running' && !cutOver && (
        // Expected for the initial sync; a warning when a later cycle must copy everything again (CBT was reset).
        <li className={w.cycles > 0 || w.resumedFrom ? 'vsp-subtext-warning' : 'vsp-muted'} data-test={testIds.portal.warmFact('full-sync')}>
          {t('migrations.warm.fullSync', { reason: w.fullSyncReason })}
        </li>
      )}
      {w.resumedFrom && task.state === 'running' && (
        <Fact id="resumed-from" label={t('migrations.warm.resumedFrom')}>
          {w.resumedFrom.lastSyncAt
            ? t('migrations.warm.resumedFromValue', { id: w.resumedFrom.migrationId, when: at(w.resumedFrom.lastSyncAt) })
            : w.resumedFrom.migrationId}
        </Fact>
      )}
      {(w.cycles > 0 || task.phase !== 'initial-sync') && (
        <Fact id="last-sync" label={t('migrations.warm.lastSync')} short>
          {w.lastSyncAt ? at(w.lastSyncAt) : t('migrations.warm.never')}
        </Fact>
      )}
      {w.lastCycleChangedBytes !== undefined && w.cycles > 0 && task.state === 'running' && (
        <Fact id="changed" label={t('migrations.warm.changed')}>
          {t('migrations.warm.changedValue', { changed: formatBytes(w.lastCycleChangedBytes), sent: formatBytes(w.lastCycleSentBytes ?? w.lastCycleChangedBytes) })}
        </Fact>
      )}
      {w.lagSeconds !== undefined && task.state === 'running' && !cutOver && (
        <Fact id="lag" label={t('migrations.warm.lag')} short>
          {formatEta(w.lagSeconds)}
        </Fact>
      )}
      {replicating && (w.cycleRunning || w.nextCycleAt) && (
        <Fact id="next-sync" label={t('migrations.warm.nextSync')} short>
          {w.cycleRunning ? t('migrations.warm.nextSync.now') : at(w.nextCycleAt!)}
        </Fact>
      )}
      {test && task.state === 'running' && (
        <Fact id="test" label={t('migrations.warm.testInstance')} short>
          {test.state === 'failed' ? (
            <span className="vsp-subtext-error">{t('migrations.warm.test.failed', { error: test.error ?? '' })}</span>
          ) : !test.instanceId ? (
            t('migrations.warm.test.launching')
          ) : test.state === 'finishing' ? (
            t('migrations.warm.test.finishing', { instance: test.instanceId })
          ) : (
            <span className="vsp-id">{test.instanceId}</span>
          )}
        </Fact>
      )}
      {task.instanceId && (
        // Also here: a narrow grid moves the Instance ID column into the row's detail.
        <Fact id="instance" label={t('migrations.instanceId')} short>
          <span className="vsp-id">{task.instanceId}</span>
        </Fact>
      )}
      {w.cutover?.downtimeSeconds !== undefined && (
        <Fact id="downtime" label={t('migrations.warm.downtime')}>
          {w.cutover.sourcePoweredOffAt && w.cutover.instanceLaunchedAt
            ? t('migrations.warm.downtimeValue', {
                duration: formatEta(w.cutover.downtimeSeconds),
                off: at(w.cutover.sourcePoweredOffAt),
                on: at(w.cutover.instanceLaunchedAt),
              })
            : formatEta(w.cutover.downtimeSeconds)}
        </Fact>
      )}
      {w.imagePath && cutOver && (
        <Fact id="image-path" label={t('migrations.warm.imagePath')}>
          {t(`migrations.warm.imagePath.${w.imagePath}`)}
        </Fact>
      )}
    </ul>
  );
}

/** State and what it is doing, honestly: phase, queue position, EC2's own status, or the error. */
export function MigrationProgress({ task, t }: { task: MigrationTask; t: Translate }) {
  const status = task.state === 'failed' ? 'danger' : task.state === 'completed' ? 'success' : undefined;
  const importing = task.state === 'running' && task.phase === 'importing';
  const w = task.warm;
  // A replicating task has no end to measure against until the user cuts over: its facts replace the bar.
  const bar = !w || task.state !== 'running' || task.phase !== 'replicating';
  // A sync cycle in flight: the changed blocks it copies (the whole disks for the initial sync).
  const syncing = task.state === 'running' && task.disks.length > 0 && (task.phase === 'initial-sync' || !!w?.cycleRunning);
  const copied = task.disks.reduce((sum, d) => ({ done: sum.done + d.bytesUploaded, total: sum.total + d.expectedBytes }), { done: 0, total: 0 });
  return (
    <div>
      {bar && <ProgressBar value={task.percent} label={t('migrations.progressOf', { id: task.id })} {...(status ? { status } : {})} />}
      <div className="vsp-muted">
        {w ? <span data-test={testIds.portal.warmStage}>{warmStage(task, w, t)}</span> : t(`migrations.phase.${task.phase}`)}
        {task.queuePosition !== undefined && ` · ${t('migrations.queuePosition', { position: task.queuePosition })}`}
        {task.importStatus &&
          ` · ${
            importing && task.importProgress !== undefined
              ? t('migrations.ec2StatusProgress', { status: task.importStatus, percent: task.importProgress })
              : t('migrations.ec2Status', { status: task.importStatus })
          }`}
        {task.throughputBps !== undefined && task.throughputBps > 0 && ` · ${formatBytes(task.throughputBps)}/s`}
        {task.throttled && (
          <>
            {' · '}
            <span data-test={testIds.fleet.throttled}>{t('migrations.throttled', { cap: task.throttled.capMBps })}</span>
          </>
        )}
        {task.etaSeconds !== undefined && task.state === 'running' && ` · ${t('migrations.eta', { eta: formatEta(task.etaSeconds) })}`}
        {importing && task.importEtaSeconds !== undefined && ` · ${t('migrations.eta', { eta: formatEta(task.importEtaSeconds) })}`}
      </div>
      {w && syncing && (
        <div className="vsp-muted" data-test={testIds.portal.warmFact('copied')}>
          {t('migrations.warm.copied', { done: formatBytes(copied.done), total: formatBytes(copied.total) })}
        </div>
      )}
      {w && <WarmFacts task={task} w={w} t={t} />}
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
