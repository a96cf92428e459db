import { useQuery } from '@tanstack/react-query';
import type { FleetConnector } from '../../../connector/contract/index.ts';
import { useApi } from '../../api/ApiContext.tsx';
import { useT } from '../../i18n/i18n.ts';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { CellId, CellText, DataTable } from '../../kit/DataTable.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';
import { fleetQueries, formatAge } from './fleet.queries.ts';

/** Connector status: the fleet's connectors with their vCenter, version, last heartbeat and health. */
export function FleetConnectors() {
  const api = useApi();
  const t = useT();
  const fleet = useQuery(fleetQueries.connectors(api));
  if (fleet.isPending) return <Spinner label={t('app.loading')} />;
  if (fleet.isError && !fleet.data) return <ApiErrorAlert error={fleet.error} />;
  const cap = (c: FleetConnector) => (c.effectiveCapMBps === null ? t('fleet.unlimited') : t('fleet.capValue', { cap: c.effectiveCapMBps }));
  return (
    <section aria-labelledby="vsp-fleet-title">
      <h4 id="vsp-fleet-title">{t('fleet.title')}</h4>
      <p className="vsp-muted">{t('fleet.intro', { lease: formatAge(fleet.data.leaseMs) })}</p>
      <DataTable
        label={t('fleet.title')}
        testId={testIds.fleet.table}
        rows={fleet.data.connectors}
        rowKey={(c) => c.id}
        rowTestId={(c) => testIds.fleet.row(c.id)}
        empty={t('fleet.empty')}
        columns={[
          { id: 'name', label: t('fleet.name'), cell: (c) => <CellId id={c.self ? t('fleet.thisOne', { id: c.id }) : c.id} />, sortValue: (c) => c.id, minWidth: 230 },
          {
            id: 'health',
            label: t('fleet.health'),
            cell: (c) => (
              <span className={c.health === 'alive' ? 'label label-success' : 'label label-danger'} data-test={testIds.fleet.health}>
                {t(`fleet.health.${c.health}`)}
              </span>
            ),
            sortValue: (c) => c.health,
            minWidth: 120,
          },
          { id: 'vcenter', label: t('fleet.vcenter'), cell: (c) => <CellText text={c.vcenterId} />, sortValue: (c) => c.vcenterId, minWidth: 160, priority: 3 },
          { id: 'version', label: t('fleet.version'), cell: (c) => c.version, sortValue: (c) => c.version, minWidth: 80, priority: 4 },
          {
            id: 'heartbeat',
            label: t('fleet.heartbeat'),
            cell: (c) => t('fleet.heartbeatValue', { at: new Date(c.heartbeatAt).toLocaleTimeString(), age: formatAge(c.heartbeatAgeMs) }),
            sortValue: (c) => c.heartbeatAt,
            minWidth: 150,
          },
          { id: 'cap', label: t('fleet.cap'), cell: cap, minWidth: 110, priority: 2 },
          { id: 'host', label: t('fleet.host'), cell: (c) => <CellText text={c.host} />, minWidth: 120, priority: 5 },
        ]}
      />
    </section>
  );
}
