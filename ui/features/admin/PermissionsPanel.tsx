import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Environment, EnvironmentPermission, EnvironmentRole } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Button } from '../../kit/Button.tsx';
import { DataTable } from '../../kit/DataTable.tsx';
import { Form, InputField, SelectField } from '../../kit/Form.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries } from '../migrate/migrate.queries.ts';

const ROLES: EnvironmentRole[] = ['NoAccess', 'ReadOnly', 'General', 'Owner'];

/** The permission list of one environment, edited locally and saved as a whole (the API replaces the list). */
function PermissionsEditor({ env, initial }: { env: Environment; initial: EnvironmentPermission[] }) {
  const api = useApi();
  const t = useT();
  const qc = useQueryClient();
  const [rows, setRows] = useState(initial);
  const [user, setUser] = useState('');
  const [role, setRole] = useState<EnvironmentRole>('General');
  const save = useMutation({
    mutationFn: () => api.setPermissions(env.id, { permissions: rows }),
    onSuccess: () => qc.invalidateQueries({ queryKey: environmentQueries.all() }),
  });
  const add = () => {
    const name = user.trim();
    if (!name) return;
    setRows((r) => [...r.filter((p) => p.userName.toLowerCase() !== name.toLowerCase()), { userName: name, role }]);
    setUser('');
  };
  return (
    <>
      <Form label={t('admin.tab.permissions')} onSubmit={add}>
        <InputField label={t('admin.perm.user')} testId={testIds.admin.permUser} value={user} onChange={setUser} help={t('admin.perm.userHelp')} />
        <SelectField label={t('admin.perm.role')} testId={testIds.admin.permRole} value={role} onChange={(v) => setRole(v as EnvironmentRole)} options={ROLES.map((r) => ({ value: r, label: r }))} />
        <div className="vsp-toolbar">
          <Button type="submit" testId={testIds.admin.permAdd} disabled={!user.trim()}>
            {t('admin.perm.add')}
          </Button>
        </div>
      </Form>
      <DataTable
        label={t('admin.tab.permissions')}
        testId={testIds.admin.permTable}
        rows={rows}
        rowKey={(p) => p.userName}
        empty={t('admin.perm.empty')}
        columns={[
          { id: 'user', label: t('admin.perm.user'), cell: (p) => p.userName, sortValue: (p) => p.userName, minWidth: 200 },
          { id: 'role', label: t('admin.perm.role'), cell: (p) => p.role, sortValue: (p) => p.role, minWidth: 100 },
          {
            id: 'remove',
            label: t('common.remove'),
            minWidth: 90,
            sticky: true,
            cell: (p) => (
              <Button variant="link" aria-label={`${t('common.remove')} ${p.userName}`} onClick={() => setRows((r) => r.filter((x) => x !== p))}>
                {t('common.remove')}
              </Button>
            ),
          },
        ]}
      />
      {save.isError && <ApiErrorAlert error={save.error} />}
      {save.isSuccess && <Alert kind="success" compact>{t('admin.perm.saved')}</Alert>}
      <div className="vsp-toolbar">
        <Button variant="primary" testId={testIds.admin.permSave} disabled={save.isPending} onClick={() => save.mutate()}>
          {t('common.save')}
        </Button>
      </div>
    </>
  );
}

export function PermissionsPanel({ environments }: { environments: Environment[] }) {
  const api = useApi();
  const t = useT();
  const [envId, setEnvId] = useState('');
  const env = environments.find((e) => e.id === envId) ?? environments.find((e) => !e.isDefault) ?? environments[0];
  const perms = useQuery({ ...environmentQueries.permissions(api, env?.id ?? ''), enabled: env !== undefined });
  if (!env) return null;
  return (
    <div>
      <Form label={t('admin.perm.environment')}>
        <SelectField label={t('admin.perm.environment')} value={env.id} onChange={setEnvId} options={environments.map((e) => ({ value: e.id, label: e.name }))} />
      </Form>
      {perms.isPending && <Spinner label={t('app.loading')} />}
      {perms.isError && <ApiErrorAlert error={perms.error} />}
      {/* Keyed by environment: a fresh editor, seeded from the saved list, for each environment. */}
      {perms.data && <PermissionsEditor key={env.id} env={env} initial={perms.data.permissions} />}
    </div>
  );
}
