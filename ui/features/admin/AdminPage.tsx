import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { Environment } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { CellId, CellIds, CellText, CellVm, DataTable } from '../../kit/DataTable.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { Tabs } from '../../kit/Tabs.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { meQuery } from '../portal/portal.queries.ts';
import { auditQueries, statusQueries } from './admin.queries.ts';
import { EnvironmentForm } from './EnvironmentForm.tsx';
import { InstanceExportPanel } from './InstanceExportPanel.tsx';
import { NotificationsPanel } from './NotificationsPanel.tsx';
import { BandwidthPanel } from './BandwidthPanel.tsx';
import { FleetConnectors } from './FleetConnectors.tsx';
import { PermissionsPanel } from './PermissionsPanel.tsx';

type AdminTab = 'environments' | 'permissions' | 'export' | 'notifications' | 'bandwidth' | 'status' | 'audit';

function EnvironmentsPanel({ environments }: { environments: Environment[] }) {
  const t = useT();
  const [editing, setEditing] = useState<Environment | null | 'new'>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const onlyDefault = environments.every((e) => e.isDefault);
  return (
    <div>
      <Alert kind={onlyDefault ? 'warning' : 'info'} testId={testIds.admin.defaultNote}>
        {t('admin.env.defaultNote')}
      </Alert>
      <div className="vsp-toolbar">
        <Button variant="primary" testId={testIds.admin.newEnv} onClick={() => setEditing('new')}>
          {t('admin.env.new')}
        </Button>
      </div>
      {saved && <Alert kind="success" compact>{t('admin.env.created', { name: saved })}</Alert>}
      {editing !== null && (
        <EnvironmentForm
          key={editing === 'new' ? 'new' : editing.id}
          editing={editing === 'new' ? null : editing}
          onDone={(env) => {
            setSaved(env.name);
            setEditing(null);
          }}
        />
      )}
      <DataTable
        label={t('admin.tab.environments')}
        testId={testIds.admin.envTable}
        rows={environments}
        rowKey={(e) => e.id}
        rowTestId={(e) => testIds.admin.envRow(e.id)}
        empty={t('portal.noEnvironments')}
        columns={[
          { id: 'name', label: t('admin.env.name'), cell: (e) => (e.isDefault ? `${e.name} (${t('admin.env.isDefault')})` : e.name), sortValue: (e) => e.name, minWidth: 150 },
          { id: 'region', label: t('admin.env.region'), cell: (e) => e.region, sortValue: (e) => e.region, minWidth: 100 },
          { id: 'vpc', label: t('admin.env.vpc'), cell: (e) => <CellId id={e.vpcId ?? t('common.none')} />, minWidth: 170, priority: 2 },
          { id: 'subnets', label: t('admin.env.subnets'), cell: (e) => <CellIds ids={e.subnetIds} none={t('common.none')} />, minWidth: 190, priority: 3 },
          { id: 'sgs', label: t('admin.env.securityGroups'), cell: (e) => <CellIds ids={e.securityGroupIds} none={t('common.none')} />, minWidth: 170, priority: 4 },
          { id: 'types', label: t('admin.env.instanceTypes'), cell: (e) => e.instanceTypes.join(', ') || t('admin.env.allTypes'), minWidth: 130, priority: 5 },
          {
            id: 'edit',
            label: t('common.edit'),
            minWidth: 70,
            sticky: true,
            cell: (e) => (
              <Button variant="link" aria-label={`${t('common.edit')} ${e.name}`} onClick={() => setEditing(e)}>
                {t('common.edit')}
              </Button>
            ),
          },
        ]}
      />
    </div>
  );
}

function StatusPanel() {
  const api = useApi();
  const t = useT();
  const status = useQuery(statusQueries.status(api));
  if (status.isPending) return <Spinner label={t('admin.status.checking')} />;
  if (status.isError && !status.data) return <ApiErrorAlert error={status.error} />;
  const s = status.data;
  const ok = (good: boolean, error?: string) => (good ? t('admin.status.ok') : `${t('admin.status.down')}${error ? `: ${error}` : ''}`);
  return (
    <>
      {s.warnings.map((w) => (
        <Alert key={w.code} kind="warning" compact>
          {w.message}
        </Alert>
      ))}
      <dl className="vsp-kv" data-test="admin-status">
        <dt>{t('admin.status.version')}</dt>
        <dd>{s.version}</dd>
        <dt>{t('admin.status.vcenter')}</dt>
        <dd>{ok(s.vcenter.reachable, s.vcenter.error)}</dd>
        {s.aws.map((r) => (
          <div key={r.region} className="vsp-kv-row">
            <dt>{t('admin.status.aws', { region: r.region })}</dt>
            <dd>{ok(r.reachable, r.error)}</dd>
          </div>
        ))}
        <dt>{t('admin.status.store')}</dt>
        <dd>{ok(s.store.healthy, s.store.error)}</dd>
        <dt>{t('admin.status.queue')}</dt>
        <dd>{s.queue.depth ?? t('common.none')}</dd>
        <dt>{t('admin.status.updating')}</dt>
        <dd>{s.updating === null ? t('common.none') : s.updating ? t('admin.status.updatingYes') : t('admin.status.updatingNo')}</dd>
        <dt>{t('admin.status.checkedAt')}</dt>
        <dd>{new Date(s.checkedAt).toLocaleString()}</dd>
      </dl>
      <FleetConnectors />
    </>
  );
}

function AuditPanel() {
  const api = useApi();
  const t = useT();
  const [before, setBefore] = useState<number | undefined>(undefined);
  const page = useQuery(auditQueries.page(api, before));
  if (page.isPending) return <Spinner label={t('app.loading')} />;
  if (page.isError) return <ApiErrorAlert error={page.error} />;
  return (
    <>
      <DataTable
        label={t('admin.tab.audit')}
        testId={testIds.admin.auditTable}
        rows={page.data.entries}
        rowKey={(e) => String(e.id)}
        empty={t('admin.audit.empty')}
        columns={[
          { id: 'at', label: t('admin.audit.at'), cell: (e) => new Date(e.at).toLocaleString(), sortValue: (e) => e.at, minWidth: 130 },
          { id: 'actor', label: t('admin.audit.actor'), cell: (e) => e.actor, sortValue: (e) => e.actor, minWidth: 150, priority: 2 },
          { id: 'action', label: t('admin.audit.action'), cell: (e) => <CellText text={e.action} mono />, sortValue: (e) => e.action, minWidth: 130 },
          { id: 'outcome', label: t('admin.audit.outcome'), cell: (e) => e.outcome, sortValue: (e) => e.outcome, minWidth: 80 },
          { id: 'vm', label: t('migrations.vm'), cell: (e) => (e.vmId ? <CellVm name={e.vmName} id={e.vmId} /> : t('common.none')), sortValue: (e) => e.vmName ?? e.vmId ?? '', minWidth: 120, priority: 3 },
          { id: 'message', label: t('admin.audit.message'), cell: (e) => e.message, minWidth: 180, wrap: true },
        ]}
      />
      <div className="vsp-toolbar">
        {before !== undefined && <Button onClick={() => setBefore(undefined)}>{t('admin.audit.newest')}</Button>}
        {page.data.nextBefore !== undefined && <Button onClick={() => setBefore(page.data.nextBefore)}>{t('admin.audit.more')}</Button>}
      </div>
    </>
  );
}

/** Administration inside the global view (administrators only). */
export function AdminPage() {
  const api = useApi();
  const t = useT();
  const me = useQuery(meQuery(api));
  const envs = useQuery(environmentQueries.list(api));
  const [tab, setTab] = useState<AdminTab>('environments');
  if (me.data && !me.data.isAdministrator) return <Alert kind="warning">{t('admin.adminsOnly')}</Alert>;
  const list = envs.data?.environments ?? [];
  return (
    <div data-test={testIds.admin.page}>
      <h2>{t('admin.title')}</h2>
      <Tabs
        label={t('admin.title')}
        active={tab}
        onChange={setTab}
        tabs={(['environments', 'permissions', 'export', 'notifications', 'bandwidth', 'status', 'audit'] as const).map((id) => ({ id, label: t(`admin.tab.${id}`), testId: testIds.portal.tab(id) }))}
      >
        {envs.isPending && <Spinner label={t('app.loading')} />}
        {envs.isError && <ApiErrorAlert error={envs.error} />}
        {tab === 'environments' && envs.data && <EnvironmentsPanel environments={list} />}
        {tab === 'permissions' && envs.data && <PermissionsPanel environments={list} />}
        {tab === 'export' && <InstanceExportPanel regions={[...new Set(list.map((e) => e.region))].sort()} />}
        {tab === 'notifications' && envs.data && <NotificationsPanel environments={list} />}
        {tab === 'bandwidth' && <BandwidthPanel />}
        {tab === 'status' && <StatusPanel />}
        {tab === 'audit' && <AuditPanel />}
      </Tabs>
    </div>
  );
}
