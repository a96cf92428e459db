import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ExportRequest, type ImportedInstance } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { ContextMenu } from '../../kit/ContextMenu.tsx';
import { CellId, CellText, CellVm, DataTable, type Column } from '../../kit/DataTable.tsx';
import { Form, InputField } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { Tabs } from '../../kit/Tabs.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';
import { ReturnForm } from '../return/ReturnForm.tsx';
import { appliedFacts } from './AppliedOptions.tsx';
import { exportQueries, instanceQueries, meQuery } from './portal.queries.ts';

type InstanceTab = 'summary' | 'gettingStarted';

/** Seed "Export instance to S3" dialog: the OVA name in "S3 object file prefix", Export, then the export task ID. */
function ExportDialog({ environmentId, instanceId, onClose }: { environmentId: string; instanceId: string; onClose: () => void }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const [prefix, setPrefix] = useState('');
  const me = useQuery(meQuery(api));
  const envs = useQuery(environmentQueries.list(api));
  // Only administrators may read the export settings; others see the bucket named generically.
  const settings = useQuery({ ...exportQueries.settings(api), enabled: me.data?.isAdministrator === true });
  const region = envs.data?.environments.find((e) => e.id === environmentId)?.region;
  const bucket = settings.data?.buckets?.find((b) => b.region === region)?.bucket ?? t('exports.preview.bucket');
  const trimmed = prefix.trim();
  const checked = ExportRequest.shape.s3Prefix.safeParse(trimmed);
  const prefixError = checked.success ? undefined : checked.error.issues[0]?.message;
  const run = useMutation({
    mutationFn: () => api.startExport({ environmentId, instanceId, s3Prefix: prefix.trim() }),
    onSuccess: () => qc.invalidateQueries({ queryKey: exportQueries.all() }),
  });
  return (
    <div className="vsp-inline-dialog" role="dialog" aria-label={t('instances.export')} data-test={testIds.portal.exportDialog}>
      <h4>{t('instances.export')}</h4>
      {run.isSuccess ? (
        <Alert kind="success" testId={testIds.portal.exportResult}>
          {t('exports.started')} <strong data-test={testIds.portal.exportTaskId}>{run.data.exportTaskId}</strong>
        </Alert>
      ) : (
        <Form label={t('instances.export')} onSubmit={() => !prefixError && run.mutate()}>
          <InputField
            label={t('exports.prefix')}
            testId={testIds.portal.exportPrefix}
            value={prefix}
            onChange={setPrefix}
            maxLength={200}
            autoComplete="off"
            spellCheck={false}
            error={prefixError}
            help={t('exports.prefix.help')}
          />
          {/* EC2 names the object <prefix><export task id>.ova: show the result so the user sees whether a / is wanted. */}
          <p className="vsp-muted" aria-live="polite" data-test={testIds.portal.exportPreview}>
            {t('exports.preview')} <code className="vsp-ova-path">{`s3://${bucket}/${trimmed}${t('exports.preview.taskId')}.ova`}</code>
            {trimmed !== '' && !trimmed.endsWith('/') && !prefixError && <> {t('exports.preview.noSlash', { prefix: trimmed })}</>}
          </p>
          {run.isError && <ApiErrorAlert error={run.error} />}
          <div className="vsp-toolbar">
            <Button variant="primary" type="submit" disabled={run.isPending || prefixError !== undefined}>
              {t('exports.export')}
            </Button>
            <Button onClick={onClose}>{t('common.cancel')}</Button>
          </div>
        </Form>
      )}
      {run.isSuccess && <Button onClick={onClose}>{t('common.close')}</Button>}
    </div>
  );
}

/**
 * Seed: "expand Imported Instances, select the instance, and then click the Summary tab … On the Getting Started tab,
 * click Start instance."
 */
export function InstancesTab({ environmentId }: { environmentId: string }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const list = useQuery(instanceQueries.byEnvironment(api, environmentId));
  // Exports are for portal administrators (the server refuses anyone else): say so instead of a refusal after Export.
  const me = useQuery(meQuery(api));
  const mayExport = me.data?.isAdministrator === true;
  const [selected, setSelected] = useState<string | null>(null);
  const [tab, setTab] = useState<InstanceTab>('summary');
  const [exporting, setExporting] = useState(false);
  // Right-click → Bring back to vCenter: one task exports the instance, then imports it (administrators, as exports).
  const [menu, setMenu] = useState<{ row: ImportedInstance; at: { x: number; y: number } } | null>(null);
  const [bringing, setBringing] = useState<string | null>(null);
  const invalidate = () => qc.invalidateQueries({ queryKey: instanceQueries.all() });
  const start = useMutation({ mutationFn: (id: string) => api.instanceAction(id, 'start', environmentId), onSettled: invalidate });
  const backup = useMutation({ mutationFn: (id: string) => api.backupInstance(id, environmentId) });
  if (list.isPending) return <Spinner label={t('app.loading')} />;
  if (list.isError && !list.data) return <ApiErrorAlert error={list.error} />;
  const current = list.data.items.find((i) => i.instanceId === selected);
  const columns: Column<ImportedInstance>[] = [
    { id: 'instance', label: t('migrations.instanceId'), cell: (i) => <CellId id={i.instanceId} />, sortValue: (i) => i.instanceId, minWidth: 180 },
    { id: 'name', label: t('instances.name'), cell: (i) => i.name ?? t('common.none'), sortValue: (i) => i.name ?? '', minWidth: 140 },
    { id: 'state', label: t('migrations.state'), cell: (i) => <CellText text={i.state} testId="instance-state" />, sortValue: (i) => i.state, minWidth: 90 },
    { id: 'source', label: t('instances.sourceVm'), cell: (i) => (i.sourceVmId ? <CellVm name={i.sourceVmName} id={i.sourceVmId} /> : t('common.none')), sortValue: (i) => i.sourceVmName ?? i.sourceVmId ?? '', minWidth: 130, priority: 3 },
    { id: 'type', label: t('migrate.instanceType'), cell: (i) => i.instanceType ?? t('common.none'), minWidth: 100, priority: 2 },
    { id: 'ip', label: t('instances.privateIp'), cell: (i) => <CellId id={i.privateIpAddress ?? t('common.none')} />, minWidth: 120, priority: 2 },
  ];
  return (
    <div data-test={testIds.portal.instances}>
      {list.isRefetchError && <Alert kind="warning" compact>{t('error.refreshFailed')}</Alert>}
      <DataTable
        label={t('portal.tab.instances')}
        columns={columns}
        rows={list.data.items}
        rowKey={(i) => i.instanceId}
        selected={selected}
        onSelect={(i) => {
          setSelected(i.instanceId);
          setExporting(false);
        }}
        rowTestId={(i) => testIds.portal.instanceRow(i.instanceId)}
        onRowContextMenu={(row, at) => setMenu({ row, at })}
        empty={t('instances.empty')}
      />
      {menu && (
        <ContextMenu
          label={menu.row.instanceId}
          at={menu.at}
          onClose={() => setMenu(null)}
          items={[
            {
              label: t('return.action'),
              testId: testIds.returns.openInstance,
              disabled: !mayExport,
              title: mayExport ? t('return.instanceRule') : t('return.instanceAdminOnly'),
              onSelect: () => setBringing(menu.row.instanceId),
            },
          ]}
        />
      )}
      {bringing && mayExport && <ReturnForm key={bringing} instance={{ instanceId: bringing, environmentId }} onClose={() => setBringing(null)} />}
      {current && (
        <Tabs
          label={current.instanceId}
          active={tab}
          onChange={setTab}
          tabs={[
            { id: 'summary', label: t('instances.tab.summary'), testId: testIds.portal.tab('summary') },
            { id: 'gettingStarted', label: t('instances.tab.gettingStarted'), testId: testIds.portal.tab('getting-started') },
          ]}
        >
          {tab === 'summary' ? (
            <dl className="vsp-kv">
              <dt>{t('migrations.instanceId')}</dt>
              <dd data-test="instance-summary-id">{current.instanceId}</dd>
              <dt>{t('migrations.state')}</dt>
              <dd data-test="instance-summary-state">{current.state}</dd>
              <dt>{t('migrate.instanceType')}</dt>
              <dd>{current.instanceType ?? t('common.none')}</dd>
              <dt>{t('migrate.subnet')}</dt>
              <dd>{current.subnetId ?? t('common.none')}</dd>
              <dt>{t('instances.privateIp')}</dt>
              <dd>{current.privateIpAddress ?? t('common.none')}</dd>
              <dt>{t('instances.image')}</dt>
              <dd>{current.imageId ?? t('common.none')}</dd>
              <dt>{t('instances.sourceVm')}</dt>
              <dd data-test="instance-summary-source-vm">{current.sourceVmId ? <CellVm name={current.sourceVmName} id={current.sourceVmId} /> : t('common.none')}</dd>
              <dt>{t('migrations.taskId')}</dt>
              <dd>{current.migrationId ?? t('common.none')}</dd>
              {/* As AWS reports them for the instance, its AMI and volumes. */}
              {current.applied &&
                appliedFacts(current.applied, t).map((f) => (
                  <div key={f.id} className="vsp-kv-row">
                    <dt>{f.label}</dt>
                    <dd data-test={testIds.portal.applied(f.id)} className={f.id === 'encryption' || f.id === 'tags' ? 'vsp-break' : undefined}>
                      {f.value}
                    </dd>
                  </div>
                ))}
            </dl>
          ) : (
            <div>
              <div className="vsp-toolbar">
                <Button variant="primary" disabled={current.state !== 'stopped' || start.isPending} onClick={() => start.mutate(current.instanceId)}>
                  {t('instances.start')}
                </Button>
                <Button
                  testId={testIds.portal.exportOpen}
                  disabled={!mayExport}
                  title={me.data && !mayExport ? t('instances.export.adminOnly') : undefined}
                  onClick={() => setExporting(true)}
                >
                  {t('instances.export')}
                </Button>
                <Button disabled={backup.isPending} onClick={() => backup.mutate(current.instanceId)}>
                  {t('instances.backup')}
                </Button>
              </div>
              {me.data && !mayExport && (
                <p className="vsp-muted" data-test={testIds.portal.exportAdminOnly}>
                  {t('instances.export.adminOnly')}
                </p>
              )}
              {start.isError && <ApiErrorAlert error={start.error} />}
              {backup.isError && <ApiErrorAlert error={backup.error} />}
              {backup.isSuccess && (
                <Alert kind="success" compact>
                  {t('instances.backup.done', { image: backup.data.imageId, template: backup.data.launchTemplateId ?? t('common.none') })}
                </Alert>
              )}
              {exporting && mayExport && <ExportDialog environmentId={environmentId} instanceId={current.instanceId} onClose={() => setExporting(false)} />}
              <h4>{t('instances.backup.title')}</h4>
              <p>{t('instances.backup.text')}</p>
            </div>
          )}
        </Tabs>
      )}
    </div>
  );
}
