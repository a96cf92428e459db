// Resume replication of a rolled-back warm migration (issue 16): offered in the row's Actions menu and under the
// rollback's result while the server says it is possible (task.resume), a dialog saying from where the new
// replication starts (the last replicated point, or a full sync and why), and the new migration task it started.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { MigrationTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import type { Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { Form } from '../../kit/Form.tsx';
import { testIds } from '../../testIds.ts';
import { formatWhen } from './MigrationProgress.tsx';
import { migrationQueries } from './portal.queries.ts';

/** Under a rolled-back warm migration's row: the resume it led to, or the offer to resume. */
export function ResumeStatus({ task, t, open }: { task: MigrationTask; t: Translate; open: (id: string) => void }) {
  const r = task.resume;
  if (!r) return null;
  if (r.migrationId && r.resumedBy) {
    return (
      <div data-test={testIds.resume.status} className="vsp-muted" title={r.resumedAt ? formatWhen(r.resumedAt) : undefined}>
        {t('resume.done', { by: r.resumedBy, id: r.migrationId })}
      </div>
    );
  }
  if (!r.possible) return null;
  return (
    <div className="vsp-muted">
      {t('resume.offer')}{' '}
      <Button variant="link" className="btn-sm" testId={testIds.resume.offer(task.id)} title={t('resume.rule')} onClick={() => open(task.id)}>
        {t('resume.action')}
      </Button>
    </div>
  );
}

/** "Resume replication": what the new migration does first, then its task ID (and a full sync's reason) once started. */
export function ResumeDialog({ task, t, onClose }: { task: MigrationTask; t: Translate; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const run = useMutation({
    mutationFn: () => api.resumeReplication(task.id),
    onSettled: () => qc.invalidateQueries({ queryKey: migrationQueries.all() }),
  });
  const r = task.resume;
  const vm = task.vmName ?? task.vmId;
  const started = run.data;
  return (
    <div className="vsp-inline-dialog" role="dialog" aria-label={t('resume.title')} data-test={testIds.resume.dialog}>
      <h4>{t('resume.title')}</h4>
      {started ? (
        <>
          {/* What the server decided, in the new task's own words: its first cycle's full-sync reason, if any. */}
          <Alert kind={started.warm?.fullSync ? 'warning' : 'success'} testId={testIds.resume.result}>
            {started.warm?.fullSync && started.warm.fullSyncReason
              ? t('resume.startedFull', { id: started.id, reason: started.warm.fullSyncReason })
              : t('resume.started', { id: started.id })}
          </Alert>
          <div className="vsp-toolbar">
            <Button onClick={onClose}>{t('common.close')}</Button>
          </div>
        </>
      ) : (
        <Form label={t('resume.title')} onSubmit={() => run.mutate()}>
          <p>{t('resume.intro', { vm, id: task.id })}</p>
          <ol data-test={testIds.resume.steps}>
            <li className={r?.fromLastPoint === false ? 'vsp-subtext-warning' : undefined}>
              {r?.fromLastPoint === false
                ? t('resume.step.full', { reason: r.fullSyncReason ?? '' })
                : t('resume.step.fromPoint', { when: r?.lastSyncAt ? formatWhen(r.lastSyncAt) : t('common.none') })}
            </li>
            <li>{t('resume.step.then', { minutes: task.warm?.intervalMinutes ?? 15 })}</li>
            {task.instanceId && <li>{t('resume.step.instance', { instance: task.instanceId })}</li>}
          </ol>
          {run.isError && <ApiErrorAlert error={run.error} />}
          <div className="vsp-toolbar">
            <Button variant="primary" type="submit" testId={testIds.resume.confirm} disabled={run.isPending}>
              {run.isPending ? t('resume.working') : t('resume.confirm')}
            </Button>
            <Button onClick={onClose}>{t('common.cancel')}</Button>
          </div>
        </Form>
      )}
    </div>
  );
}
