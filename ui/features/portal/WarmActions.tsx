import '@cds/core/icon/register.js';
import { angleIcon, ClarityIcons } from '@cds/core/icon';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createElement, useState } from 'react';
import type { MigrationTask } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import type { Host } from '../../host/host.ts';
import type { Translate } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { ContextMenu } from '../../kit/ContextMenu.tsx';
import { Form, SelectField } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { formatWhen } from './MigrationProgress.tsx';
import { migrationQueries } from './portal.queries.ts';

ClarityIcons.addIcons(angleIcon);

/** Which warm actions the task's phase allows now (the server has the last word and says why it refuses). */
export function warmActions(task: MigrationTask) {
  const w = task.warm;
  const replicating = task.state === 'running' && task.phase === 'replicating' && w !== undefined && w.cutover === undefined;
  const test = w?.test?.state;
  return {
    launchTest: replicating && (test === undefined || test === 'failed'),
    finishTest: replicating && (test === 'running' || test === 'failed'),
    cutover: replicating && test !== 'launching' && test !== 'finishing',
    stop: task.state === 'queued' || task.state === 'running',
  };
}

const vmOf = (task: MigrationTask) => task.vmName ?? task.vmId;

/** The cut-over confirmation, saying exactly what happens and when downtime starts. */
export function cutoverConfirmation(task: MigrationTask, t: Translate): { title: string; content: string } {
  const how = task.warm?.shutdown === 'user' ? 'migrations.cutover.user' : 'migrations.cutover.guest';
  // The engine ends a running test before it powers the VM off.
  const test = task.warm?.test;
  const note = test ? ` ${t('migrations.cutover.testNote', { instance: test.instanceId ?? t('common.none') })}` : '';
  return { title: t('migrations.cutover.title'), content: `${t(how, { vm: vmOf(task) })}${note}` };
}

/** The warm actions' calls; each refreshes the migration lists, whatever the answer. */
export function useWarmMutations() {
  const api = useApi();
  const qc = useQueryClient();
  const onSettled = () => qc.invalidateQueries({ queryKey: migrationQueries.all() });
  return {
    launchTest: useMutation({ mutationFn: (v: { id: string; subnetId: string }) => api.launchTestInstance(v.id, { subnetId: v.subnetId }), onSettled }),
    finishTest: useMutation({ mutationFn: (id: string) => api.finishTestInstance(id), onSettled }),
    cutover: useMutation({ mutationFn: (id: string) => api.cutOver(id), onSettled }),
  };
}
export type WarmMutations = ReturnType<typeof useWarmMutations>;

interface MenuProps {
  task: MigrationTask;
  /** The user is the requester, an environment Owner or an administrator (as far as the UI knows). */
  allowed: boolean;
  host: Host;
  t: Translate;
  mutations: WarmMutations;
  stop: (id: string) => void;
  busy: boolean;
  openTestDialog: (id: string) => void;
}

/** A warm task's row actions, in an Actions menu as vSphere datagrids have: test, finish test, cut over, stop. */
export function WarmActionsMenu({ task, allowed, host, t, mutations, stop, busy, openTestDialog }: MenuProps) {
  const [at, setAt] = useState<{ x: number; y: number } | null>(null);
  const can = warmActions(task);
  const rule = t('migrations.warm.rule');
  const title = (when: string, ok: boolean) => (!allowed ? t('migrations.warm.notAllowed', { rule }) : ok ? rule : when);
  const vm = vmOf(task);
  const confirmFinish = () =>
    host.confirm({
      title: t('migrations.finishTest.title'),
      content: t('migrations.finishTest.confirm', { vm, instance: task.warm?.test?.instanceId ?? t('common.none') }),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('migrations.warm.finishTest'), type: 'PRIMARY', style: 'DANGER', callback: () => mutations.finishTest.mutate(task.id) },
        { label: t('common.cancel'), type: 'SECONDARY' },
      ],
    });
  const confirmCutover = () =>
    host.confirm({
      ...cutoverConfirmation(task, t),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('migrations.warm.cutover'), type: 'PRIMARY', style: 'WARNING', callback: () => mutations.cutover.mutate(task.id) },
        { label: t('common.cancel'), type: 'SECONDARY' },
      ],
    });
  const confirmStop = () =>
    host.confirm({
      title: t('migrations.stop.title'),
      content: t('migrations.stop.confirm', { vm }),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('migrations.warm.stop'), type: 'PRIMARY', style: 'DANGER', callback: () => stop(task.id) },
        { label: t('common.cancel'), type: 'SECONDARY' },
      ],
    });
  if (!can.stop) return null;
  return (
    <>
      <Button
        variant="link"
        testId={testIds.portal.migrationActions(task.id)}
        aria-label={t('migrations.actionsOf', { id: task.id })}
        aria-haspopup="menu"
        aria-expanded={at !== null}
        disabled={busy}
        onClick={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          setAt({ x: Math.max(0, r.right - 200), y: r.bottom });
        }}
      >
        {t('migrations.actions')} {createElement('cds-icon', { shape: 'angle', direction: 'down', size: '12', 'aria-hidden': 'true' })}
      </Button>
      {at && (
        <ContextMenu
          label={t('migrations.actionsOf', { id: task.id })}
          at={at}
          onClose={() => setAt(null)}
          items={[
            { label: t('migrations.warm.launchTest'), disabled: !allowed || !can.launchTest, title: title(t('migrations.warm.launchTest.when'), can.launchTest), onSelect: () => openTestDialog(task.id) },
            { label: t('migrations.warm.finishTest'), disabled: !allowed || !can.finishTest, title: title(t('migrations.warm.finishTest.when'), can.finishTest), onSelect: confirmFinish },
            { label: t('migrations.warm.cutover'), disabled: !allowed || !can.cutover, title: title(t('migrations.warm.cutover.when'), can.cutover), onSelect: confirmCutover },
            { label: t('migrations.warm.stop'), disabled: !allowed, title: title('', true), onSelect: confirmStop },
          ]}
        />
      )}
    </>
  );
}

/** "Launch test instance": pick a subnet of the environment; then the test instance's ID once it runs. */
export function TestInstanceDialog({ task, environmentId, mutations, t, onClose }: { task: MigrationTask; environmentId: string; mutations: WarmMutations; t: Translate; onClose: () => void }) {
  const api = useApi();
  const subnets = useQuery(environmentQueries.subnets(api, environmentId));
  const list = subnets.data?.subnets ?? [];
  const [chosen, setChosen] = useState('');
  const subnetId = chosen || (list.some((s) => s.id === task.subnetId) ? task.subnetId : (list[0]?.id ?? ''));
  const launch = mutations.launchTest;
  const sent = launch.isSuccess && launch.variables?.id === task.id;
  const test = task.warm?.test;
  const lastSync = task.warm?.lastSyncAt ? formatWhen(task.warm.lastSyncAt) : t('migrations.warm.never');
  return (
    <div className="vsp-inline-dialog" role="dialog" aria-label={t('migrations.test.title')} data-test={testIds.portal.testDialog}>
      <h4>{t('migrations.test.title')}</h4>
      {!sent ? (
        <Form label={t('migrations.test.title')} onSubmit={() => subnetId && launch.mutate({ id: task.id, subnetId })}>
          <p>{t('migrations.test.intro', { vm: vmOf(task), at: lastSync })}</p>
          {subnets.isError && <ApiErrorAlert error={subnets.error} />}
          <SelectField
            label={t('migrate.subnet')}
            testId={testIds.portal.testSubnet}
            value={subnetId}
            placeholder={subnets.isLoading ? t('app.loading') : subnetId ? undefined : t('migrate.choose')}
            disabled={subnets.isLoading}
            onChange={setChosen}
            options={list.map((s) => ({ value: s.id, label: t('migrate.subnet.option', { name: s.name ?? s.id, cidr: s.cidrBlock, free: s.availableIpAddressCount, az: s.availabilityZone }) }))}
          />
          {launch.isError && <ApiErrorAlert error={launch.error} />}
          <div className="vsp-toolbar">
            <Button variant="primary" type="submit" disabled={!subnetId || launch.isPending}>
              {t('migrations.test.launch')}
            </Button>
            <Button onClick={onClose}>{t('common.cancel')}</Button>
          </div>
        </Form>
      ) : (
        <>
          {test?.state === 'running' && test.instanceId ? (
            <Alert kind="success">
              {t('migrations.test.running')} <strong data-test={testIds.portal.testInstanceId}>{test.instanceId}</strong>
            </Alert>
          ) : test?.state === 'failed' ? (
            <Alert kind="danger">{t('migrations.test.failed', { error: test.error ?? '' })}</Alert>
          ) : (
            <Spinner label={t('migrations.test.launching')} />
          )}
          <Button onClick={onClose}>{t('common.close')}</Button>
        </>
      )}
    </div>
  );
}
