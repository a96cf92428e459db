import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import type { Environment } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { Alert } from '../../kit/Alert.tsx';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { Tabs } from '../../kit/Tabs.tsx';
import { Tree, type TreeNode } from '../../kit/Tree.tsx';
import { testIds } from '../../testIds.ts';
import { environmentQueries, regionQueries } from '../migrate/migrate.queries.ts';
import { ExportsTab } from './ExportsTab.tsx';
import { InstancesTab } from './InstancesTab.tsx';
import { MigrationsTab } from './MigrationsTab.tsx';
import { meQuery } from './portal.queries.ts';

export { meQuery };

const AdminPage = lazy(async () => ({ default: (await import('../admin/AdminPage.tsx')).AdminPage }));

type EnvTab = 'migrations' | 'instances' | 'exports';
const ADMIN = 'admin';

function buildTree(envs: Environment[], regionLabel: (r: string) => string, isAdmin: boolean, adminLabel: string): TreeNode[] {
  const regions = [...new Set(envs.map((e) => e.region))].sort();
  const nodes: TreeNode[] = regions.map((r) => ({
    id: `region:${r}`,
    label: regionLabel(r),
    selectable: false,
    testId: testIds.portal.region(r),
    children: envs.filter((e) => e.region === r).map((e) => ({ id: e.id, label: e.name, testId: testIds.portal.environment(e.id) })),
  }));
  if (isAdmin) nodes.push({ id: ADMIN, label: adminLabel, testId: testIds.portal.admin });
  return nodes;
}

/** The global view "AWS Management Portal": regions → environments, and per environment the seed's tabs. */
export function PortalPage() {
  const api = useApi();
  const t = useT();
  const me = useQuery(meQuery(api));
  const envs = useQuery(environmentQueries.list(api));
  const regions = useQuery(regionQueries.list(api));
  const [selected, setSelected] = useState<string | null>(null);
  const [tab, setTab] = useState<EnvTab>('migrations');

  const regionLabel = (name: string) => {
    const r = regions.data?.regions.find((x) => x.name === name);
    return r && r.displayName !== name ? `${r.displayName} (${name})` : name;
  };
  const list = envs.data?.environments ?? [];
  const env = list.find((e) => e.id === selected);

  return (
    <div className="vsp-portal" data-test={testIds.portal.page}>
      <nav className="vsp-portal-nav" aria-label={t('portal.tree')}>
        <h3>{t('portal.title')}</h3>
        {me.data && (
          <p className="vsp-muted" data-test={testIds.portal.user}>
            {t('portal.signedInAs', { user: me.data.userName })}
          </p>
        )}
        {envs.isPending && <Spinner label={t('app.loading')} />}
        {envs.isError && !envs.data && <ApiErrorAlert error={envs.error} />}
        {envs.data && (
          <Tree
            label={t('portal.tree')}
            nodes={buildTree(list, regionLabel, me.data?.isAdministrator ?? false, t('portal.administration'))}
            selected={selected}
            onSelect={setSelected}
          />
        )}
      </nav>
      <main className="vsp-portal-main">
        {me.isError && <ApiErrorAlert error={me.error} />}
        {selected === ADMIN ? (
          <Suspense fallback={<Spinner label={t('app.loading')} />}>
            <AdminPage />
          </Suspense>
        ) : env ? (
          <>
            <h2>{env.name}</h2>
            <p className="vsp-muted">{t('portal.environment.summary', { region: env.region, vpc: env.vpcId ?? t('common.none'), role: env.myRole })}</p>
            <Tabs
              label={t('portal.tabs')}
              active={tab}
              onChange={setTab}
              tabs={[
                { id: 'migrations', label: t('portal.tab.migrations'), testId: testIds.portal.tab('migrations') },
                { id: 'instances', label: t('portal.tab.instances'), testId: testIds.portal.tab('instances') },
                { id: 'exports', label: t('portal.tab.exports'), testId: testIds.portal.tab('exports') },
              ]}
            >
              {tab === 'migrations' && <MigrationsTab environmentId={env.id} />}
              {tab === 'instances' && <InstancesTab environmentId={env.id} />}
              {tab === 'exports' && <ExportsTab environmentId={env.id} />}
            </Tabs>
          </>
        ) : envs.data && list.length === 0 ? (
          // Nothing to expand: say so, and who can change it.
          me.data && (
            <Alert kind="info" testId={testIds.portal.noEnvironments}>
              {t(me.data.isAdministrator ? 'portal.noEnvironments.admin' : 'portal.noEnvironments.user')}
            </Alert>
          )
        ) : (
          envs.data && <p className="vsp-muted">{t('portal.selectEnvironment')}</p>
        )}
      </main>
    </div>
  );
}
