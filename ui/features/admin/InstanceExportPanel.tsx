import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
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
import { exportQueries } from '../portal/portal.queries.ts';

const NAME = /^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$/;

/**
 * Seed "To prepare for instance export": the bucket name, the consent, Create. Once configured it shows the current
 * configuration; a change is confirmed in the vSphere Client's dialog, and sent with the name it replaces so the
 * connector refuses it (409) when another administrator changed the name meanwhile.
 */
export function InstanceExportPanel({ regions }: { regions: string[] }) {
  const api = useApi();
  const host = useHost();
  const t = useT();
  const qc = useQueryClient();
  const current = useQuery(exportQueries.settings(api));
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState('');
  const [agreed, setAgreed] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const configured = current.data?.bucketName ?? null;
  const save = useMutation({
    // `expected` is the name the administrator saw and confirmed replacing, never a newer one fetched meanwhile.
    mutationFn: ({ next, expected }: { next: string; expected: string | null }) => api.setExportSettings({ bucketName: next, expectedBucketName: expected }),
    onSuccess: (view) => {
      setDone(view.bucketName);
      setEditing(false);
      setName('');
      setAgreed(false);
    },
    // After a 409 this shows the name another administrator set, next to the refusal.
    onSettled: () => qc.invalidateQueries({ queryKey: exportQueries.all() }),
  });
  const clean = name.trim().toLowerCase();
  const valid = NAME.test(clean);
  const bucketsFor = (n: string) => regions.map((r) => `export-to-s3-${n}-${r}`).join(', ');

  if (current.isPending) return <Spinner label={t('app.loading')} />;
  if (current.isError) return <ApiErrorAlert error={current.error} />;

  const submit = () => {
    if (!valid || !agreed || save.isPending) return;
    const expected = configured;
    if (expected === null) return save.mutate({ next: clean, expected });
    host.confirm({
      title: t('admin.export.confirm.title'),
      content: t('admin.export.confirm.content', { from: expected, to: clean }),
      alertLevel: 'WARNING',
      buttons: [
        { label: t('admin.export.change'), type: 'PRIMARY', style: 'WARNING', callback: () => save.mutate({ next: clean, expected }) },
        { label: t('common.cancel'), type: 'SECONDARY' },
      ],
    });
  };

  const showForm = configured === null || editing;
  return (
    <div data-test={testIds.admin.exportPanel}>
      {done && !save.isError && (
        <Alert kind="success" compact testId={testIds.admin.exportSaved}>
          {t('admin.export.saved', { name: done })}
        </Alert>
      )}
      {configured !== null && current.data && (
        <section aria-labelledby="vsp-export-current" data-test={testIds.admin.exportCurrent}>
          <h4 id="vsp-export-current">{t('admin.export.current')}</h4>
          <dl className="vsp-kv">
            <dt>{t('admin.export.bucket')}</dt>
            <dd data-test={testIds.admin.exportCurrentName}>{configured}</dd>
            <dt>{t('admin.export.setBy')}</dt>
            <dd>
              {current.data.updatedAt
                ? t('admin.export.setByValue', { user: current.data.updatedBy ?? t('admin.export.unknownUser'), at: new Date(current.data.updatedAt).toLocaleString() })
                : t('common.none')}
            </dd>
          </dl>
          <DataTable
            label={t('admin.export.current')}
            testId={testIds.admin.exportBuckets}
            rows={current.data.buckets}
            rowKey={(b) => b.region}
            empty={t('admin.export.noRegions')}
            columns={[
              { id: 'region', label: t('admin.env.region'), cell: (b) => b.region },
              { id: 'bucket', label: t('admin.export.bucketColumn'), cell: (b) => b.bucket },
            ]}
          />
          {!editing && (
            <div className="vsp-toolbar">
              <Button testId={testIds.admin.exportChange} onClick={() => (setEditing(true), setDone(null), save.reset())}>
                {t('admin.export.changeOpen')}
              </Button>
            </div>
          )}
        </section>
      )}
      {showForm && (
        <Form label={t('admin.tab.export')} onSubmit={submit}>
          {configured !== null && <p className="vsp-muted">{t('admin.export.changeNote')}</p>}
          <InputField
            label={configured === null ? t('admin.export.bucket') : t('admin.export.newBucket')}
            testId={testIds.admin.exportName}
            value={name}
            onChange={setName}
            maxLength={32}
            error={clean && !valid ? t('admin.export.invalid') : undefined}
            help={clean ? t('admin.export.resulting', { bucket: bucketsFor(clean) }) : t('admin.export.help')}
          />
          <Checkbox label={t('admin.export.consent')} checked={agreed} onChange={setAgreed} testId={testIds.admin.exportConsent} />
          {save.isError && <ApiErrorAlert error={save.error} />}
          <div className="vsp-toolbar">
            <Button variant="primary" type="submit" testId={testIds.admin.exportSave} disabled={!valid || !agreed || save.isPending || clean === configured}>
              {configured === null ? t('admin.export.create') : t('admin.export.change')}
            </Button>
            {configured !== null && (
              <Button onClick={() => (setEditing(false), setName(''), setAgreed(false), save.reset())}>{t('common.cancel')}</Button>
            )}
          </div>
        </Form>
      )}
    </div>
  );
}
