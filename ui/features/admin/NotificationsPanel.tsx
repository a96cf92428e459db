import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Environment, NotificationEventKind, NotificationTarget } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useHost } from '../../host/HostContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { DataTable } from '../../kit/DataTable.tsx';
import { Checkbox, Form, InputField } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';

/** The events offered; wave.finished is reserved until waves exist. */
const OFFERED: NotificationEventKind[] = ['migration.completed', 'migration.failed', 'cutover.ready', 'cutover.done', 'export.completed', 'export.failed', 'connector.unhealthy'];

const queries = {
  all: ['notifications'] as const,
  log: (id: string) => ['notifications', id, 'deliveries'] as const,
};

/** Administration → Notifications: targets, Send test and each target's delivery log. */
export function NotificationsPanel({ environments }: { environments: Environment[] }) {
  const api = useApi();
  const host = useHost();
  const t = useT();
  const qc = useQueryClient();
  const list = useQuery({ queryKey: queries.all, queryFn: () => api.notificationTargets() });
  const [adding, setAdding] = useState<'webhook' | 'email' | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const chosen = list.data?.targets.find((x) => x.id === selected);
  const log = useQuery({ queryKey: queries.log(selected ?? ''), queryFn: () => api.notificationDeliveries(selected!), enabled: !!selected });
  const test = useMutation({
    mutationFn: (id: string) => api.testNotificationTarget(id),
    onSettled: () => qc.invalidateQueries({ queryKey: queries.all }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.deleteNotificationTarget(id),
    onSuccess: () => setSelected(null),
    onSettled: () => qc.invalidateQueries({ queryKey: queries.all }),
  });

  if (list.isPending) return <Spinner label={t('app.loading')} />;
  if (list.isError) return <ApiErrorAlert error={list.error} />;
  const { targets, email } = list.data;
  const address = (x: NotificationTarget) => (x.kind === 'webhook' ? (x.url ?? '') : (x.recipients ?? []).join(', '));

  return (
    <div data-test={testIds.admin.notifyPanel}>
      <p className="vsp-muted">{t('admin.notify.intro')}</p>
      <p className="vsp-muted">{email.configured ? t('admin.notify.relay', { relay: email.relay ?? '' }) : t('admin.notify.emailOff')}</p>
      {secret && (
        <Alert kind="info" testId={testIds.admin.notifySecret}>
          {t('admin.notify.secret', { name: secret.name })} <code>{secret.secret}</code>
        </Alert>
      )}
      <div className="vsp-toolbar">
        <Button testId={testIds.admin.notifyAdd('webhook')} onClick={() => (setAdding('webhook'), setSecret(null))}>
          {t('admin.notify.addWebhook')}
        </Button>
        <Button testId={testIds.admin.notifyAdd('email')} disabled={!email.configured} onClick={() => (setAdding('email'), setSecret(null))}>
          {t('admin.notify.addEmail')}
        </Button>
        <Button testId={testIds.admin.notifyTest} disabled={!chosen || test.isPending} onClick={() => chosen && test.mutate(chosen.id)}>
          {t('admin.notify.test')}
        </Button>
        <Button
          testId={testIds.admin.notifyDelete}
          disabled={!chosen || remove.isPending}
          onClick={() =>
            chosen &&
            host.confirm({
              title: t('admin.notify.delete'),
              content: t('admin.notify.confirmDelete', { name: chosen.name }),
              alertLevel: 'WARNING',
              buttons: [
                { label: t('admin.notify.delete'), type: 'PRIMARY', style: 'WARNING', callback: () => remove.mutate(chosen.id) },
                { label: t('common.cancel'), type: 'SECONDARY' },
              ],
            })
          }
        >
          {t('admin.notify.delete')}
        </Button>
      </div>
      {adding && (
        <TargetForm
          kind={adding}
          environments={environments}
          onDone={(created) => {
            setAdding(null);
            setSelected(created.id);
            if (created.secret) setSecret({ name: created.name, secret: created.secret });
          }}
          onCancel={() => setAdding(null)}
        />
      )}
      {test.isError && <ApiErrorAlert error={test.error} />}
      {remove.isError && <ApiErrorAlert error={remove.error} />}
      {test.data && (
        <Alert kind={test.data.outcome === 'delivered' ? 'success' : 'danger'} compact testId={testIds.admin.notifyResult}>
          {`${t(`admin.notify.outcome.${test.data.outcome}`)}: ${test.data.message}`}
        </Alert>
      )}
      <DataTable
        label={t('admin.tab.notifications')}
        testId={testIds.admin.notifyTable}
        rows={targets}
        rowKey={(x) => x.id}
        rowTestId={(x) => testIds.admin.notifyRow(x.id)}
        selected={selected}
        onSelect={(x) => (setSelected(x.id), test.reset())}
        empty={t('admin.notify.empty')}
        columns={[
          { id: 'name', label: t('admin.notify.name'), cell: (x) => x.name },
          { id: 'kind', label: t('admin.notify.type'), cell: (x) => t(`admin.notify.kind.${x.kind}`) },
          { id: 'address', label: t('admin.notify.address'), cell: (x) => address(x), wrap: true },
          { id: 'events', label: t('admin.notify.events'), cell: (x) => x.events.map((e) => t(`admin.notify.ev.${e}`)).join(', '), wrap: true },
          {
            id: 'last',
            label: t('admin.notify.last'),
            cell: (x) => (x.lastDelivery ? `${t(`admin.notify.outcome.${x.lastDelivery.outcome}`)} · ${new Date(x.lastDelivery.at).toLocaleString()}` : '—'),
          },
        ]}
      />
      {chosen && (
        <section aria-labelledby="vsp-notify-log">
          <h4 id="vsp-notify-log">{t('admin.notify.log', { name: chosen.name })}</h4>
          {log.isError && <ApiErrorAlert error={log.error} />}
          <DataTable
            label={t('admin.notify.log', { name: chosen.name })}
            testId={testIds.admin.notifyLog}
            rows={log.data?.deliveries ?? []}
            rowKey={(d) => String(d.id)}
            empty={t('admin.notify.noLog')}
            columns={[
              { id: 'at', label: t('admin.notify.at'), cell: (d) => new Date(d.at).toLocaleString() },
              { id: 'event', label: t('admin.notify.event'), cell: (d) => t(`admin.notify.ev.${d.event}`) },
              { id: 'outcome', label: t('admin.notify.outcome'), cell: (d) => `${t(`admin.notify.outcome.${d.outcome}`)}${d.statusCode ? ` (HTTP ${d.statusCode})` : ''}` },
              { id: 'message', label: t('admin.notify.message'), cell: (d) => d.message, wrap: true },
            ]}
          />
        </section>
      )}
    </div>
  );
}

function TargetForm(props: { kind: 'webhook' | 'email'; environments: Environment[]; onDone: (t: NotificationTarget & { secret?: string | undefined }) => void; onCancel: () => void }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [addr, setAddr] = useState('');
  const [events, setEvents] = useState<NotificationEventKind[]>(['migration.completed', 'migration.failed']);
  const [envIds, setEnvIds] = useState<string[]>([]);
  const save = useMutation({
    mutationFn: () =>
      api.createNotificationTarget(
        props.kind === 'webhook'
          ? { kind: 'webhook', name: name.trim(), url: addr.trim(), events, environmentIds: envIds }
          : { kind: 'email', name: name.trim(), recipients: addr.split(',').map((s) => s.trim()).filter(Boolean), events, environmentIds: envIds },
      ),
    onSuccess: (created) => props.onDone(created),
    onSettled: () => qc.invalidateQueries({ queryKey: queries.all }),
  });
  const toggle = <T,>(list: T[], v: T, on: boolean) => (on ? [...list, v] : list.filter((x) => x !== v));
  return (
    <Form label={props.kind === 'webhook' ? t('admin.notify.addWebhook') : t('admin.notify.addEmail')} onSubmit={() => !save.isPending && save.mutate()}>
      <InputField label={t('admin.notify.name')} testId={testIds.admin.notifyName} value={name} onChange={setName} maxLength={64} />
      <InputField
        label={props.kind === 'webhook' ? t('admin.notify.url') : t('admin.notify.recipients')}
        testId={testIds.admin.notifyAddress}
        value={addr}
        onChange={setAddr}
        maxLength={2000}
      />
      <fieldset>
        <legend>{t('admin.notify.events')}</legend>
        {OFFERED.map((e) => (
          <Checkbox key={e} label={t(`admin.notify.ev.${e}`)} checked={events.includes(e)} onChange={(on) => setEvents(toggle(events, e, on))} testId={testIds.admin.notifyEvent(e)} />
        ))}
      </fieldset>
      {props.environments.length > 0 && (
        <fieldset>
          <legend>{t('admin.notify.environments')}</legend>
          {props.environments.map((env) => (
            <Checkbox key={env.id} label={env.name} checked={envIds.includes(env.id)} onChange={(on) => setEnvIds(toggle(envIds, env.id, on))} />
          ))}
        </fieldset>
      )}
      {save.isError && <ApiErrorAlert error={save.error} />}
      <div className="vsp-toolbar">
        <Button variant="primary" type="submit" testId={testIds.admin.notifySave} disabled={save.isPending || !name.trim() || !addr.trim()}>
          {t('admin.notify.save')}
        </Button>
        <Button onClick={props.onCancel}>{t('common.cancel')}</Button>
      </div>
    </Form>
  );
}
