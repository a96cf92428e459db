// Roll back on a completed migration's row (issue 16): an Actions menu whose item the server enables (the task's
// rollback.possible, with its reason as the tooltip), a dialog saying exactly what will happen, and the outcome.
import '@cds/core/icon/register.js';
import { angleIcon, ClarityIcons } from '@cds/core/icon';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { createElement, useState } from 'react';
import type { MigrationTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import type { Translate } from '../../i18n/i18n.ts';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { ContextMenu } from '../../kit/ContextMenu.tsx';
import { Checkbox, Form } from '../../kit/Form.tsx';
import { testIds } from '../../testIds.ts';
import { formatWhen } from './MigrationProgress.tsx';
import { migrationQueries } from './portal.queries.ts';

ClarityIcons.addIcons(angleIcon);

const vmOf = (task: MigrationTask) => task.vmName ?? task.vmId;

/**
 * The row's Actions menu with Roll back, and Resume replication for a warm migration; shown for completed migrations
 * the server reports a rollback for. Each item is enabled as the server says (possible, with its reason as tooltip).
 */
export function RollbackMenu({ task, t, open, openResume }: { task: MigrationTask; t: Translate; open: (id: string) => void; openResume: (id: string) => void }) {
  const [at, setAt] = useState<{ x: number; y: number } | null>(null);
  const rb = task.rollback;
  if (!rb) return null;
  const title = rb.possible ? `${t('rollback.rule')}${rb.until ? ` ${t('rollback.until', { until: formatWhen(rb.until) })}` : ''}` : rb.reason;
  return (
    <>
      <Button
        variant="link"
        testId={testIds.rollback.menu(task.id)}
        aria-label={t('rollback.actionsOf', { id: task.id })}
        aria-haspopup="menu"
        aria-expanded={at !== null}
        onClick={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          setAt({ x: Math.max(0, r.right - 200), y: r.bottom });
        }}
      >
        {t('migrations.actions')} {createElement('cds-icon', { shape: 'angle', direction: 'down', size: '12', 'aria-hidden': 'true' })}
      </Button>
      {at && (
        <ContextMenu
          label={t('rollback.actionsOf', { id: task.id })}
          at={at}
          onClose={() => setAt(null)}
          items={[
            { label: t('rollback.action'), disabled: !rb.possible, ...(title ? { title } : {}), onSelect: () => open(task.id) },
            ...(task.resume
              ? [{ label: t('resume.action'), disabled: !task.resume.possible, title: task.resume.possible ? t('resume.rule') : (task.resume.reason ?? ''), onSelect: () => openResume(task.id) }]
              : []),
          ]}
        />
      )}
    </>
  );
}

/** What a rollback did, under the row's progress. */
export function RollbackStatus({ task, t }: { task: MigrationTask; t: Translate }) {
  const rb = task.rollback;
  if (!rb?.state || !rb.rolledBackBy) return null;
  const text =
    rb.state === 'rolled-back'
      ? t('rollback.done', { by: rb.rolledBackBy, action: t(`rollback.action.${rb.instanceAction ?? 'stop'}`) })
      : rb.state === 'rolling-back'
        ? t('rollback.inProgress', { by: rb.rolledBackBy })
        : t('rollback.failed', { error: rb.error ?? '' });
  return (
    <div data-test={testIds.rollback.status} className={rb.state === 'failed' ? 'vsp-subtext-error' : 'vsp-muted'} title={[rb.rolledBackAt && formatWhen(rb.rolledBackAt), rb.note].filter(Boolean).join(' · ')}>
      {text}
    </div>
  );
}

/** "Roll back migration": the steps it takes, with the instance's and VM's names, and the choice to terminate. */
export function RollbackDialog({ task, t, onClose }: { task: MigrationTask; t: Translate; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const [terminate, setTerminate] = useState(false);
  const run = useMutation({
    mutationFn: () => api.rollBack(task.id, { terminateInstance: terminate }),
    onSuccess: onClose,
    onSettled: () => qc.invalidateQueries({ queryKey: migrationQueries.all() }),
  });
  const vars = { instance: task.instanceId ?? t('common.none'), region: task.region, vm: vmOf(task), id: task.id };
  return (
    <div className="vsp-inline-dialog" role="dialog" aria-label={t('rollback.title')} data-test={testIds.rollback.dialog}>
      <h4>{t('rollback.title')}</h4>
      <Form label={t('rollback.title')} onSubmit={() => run.mutate()}>
        <p>{t('rollback.intro', vars)}</p>
        <ol data-test={testIds.rollback.steps}>
          <li>{t(terminate ? 'rollback.step.terminate' : 'rollback.step.stop', vars)}</li>
          <li>{t('rollback.step.powerOn', vars)}</li>
          <li>{t('rollback.step.record')}</li>
        </ol>
        <Checkbox label={t('rollback.terminate')} checked={terminate} onChange={setTerminate} testId={testIds.rollback.terminate} />
        {run.isError && <ApiErrorAlert error={run.error} />}
        <div className="vsp-toolbar">
          <Button variant={terminate ? 'danger' : 'primary'} type="submit" testId={testIds.rollback.confirm} disabled={run.isPending}>
            {run.isPending ? t('rollback.working') : t('rollback.confirm')}
          </Button>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
        </div>
      </Form>
    </div>
  );
}
