import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { DynamicItemsDto, InventoryVmDto, PluginDto, VmDetailsDto } from '../../api-types.ts';
import type { ManifestTabView } from '../../manifest-schema.ts';
import { testIds } from '../../test-ids.ts';
import { api } from './api.ts';
import type { FrameContext } from './frameHub.ts';
import { Icon } from './Icon.tsx';
import { LabDiskWriteCard } from './LabDiskWrite.tsx';
import { formatBytes, pluginLabel, pluginUrl, powerBadge, powerLabel, readyPlugins, vmUrn, vmViews } from './model.ts';
import { PluginFrame } from './PluginFrame.tsx';
import { VmEvents } from './TasksEvents.tsx';
import { OBJECT_TABS, type ObjectTab } from './route.ts';

function NotEmulated({ what }: { what: string }) {
  return (
    <div className="vsc-placeholder" role="note">
      <Icon shape="info-standard" status="info" />
      <span>{what} is not emulated by the lab vSphere Client.</span>
    </div>
  );
}

/** Dynamic object views (`"dynamic": true`): ask the plugin server which to show. */
function useDynamicViews(plugins: PluginDto[], container: 'monitor' | 'configure', urn: string, epoch: number): Record<string, DynamicItemsDto | 'loading'> {
  const [state, setState] = useState<Record<string, DynamicItemsDto | 'loading'>>({});
  useEffect(() => {
    let live = true;
    for (const p of plugins) {
      if (!vmViews(p, container).some((v) => v.dynamic)) continue;
      setState((s) => ({ ...s, [p.instanceId]: 'loading' }));
      api
        .dynamicItems(p.instanceId, { objectType: 'VirtualMachine', container, objectIds: [urn] })
        .catch((err: unknown): DynamicItemsDto => ({ items: {}, error: String(err) }))
        .then((r) => live && setState((s) => ({ ...s, [p.instanceId]: r })));
    }
    return () => {
      live = false;
    };
  }, [plugins, container, urn, epoch]);
  return state;
}

interface SubNavGroup {
  title: string;
  items: { id: string; label: string; plugin?: PluginDto; view?: ManifestTabView }[];
}

const BUILTIN: Record<'monitor' | 'configure', SubNavGroup[]> = {
  monitor: [
    { title: 'Issues and Alarms', items: [{ id: 'all-issues', label: 'All Issues' }, { id: 'triggered-alarms', label: 'Triggered Alarms' }] },
    { title: 'Performance', items: [{ id: 'performance-overview', label: 'Overview' }, { id: 'performance-advanced', label: 'Advanced' }] },
    { title: 'Tasks and Events', items: [{ id: 'tasks', label: 'Tasks' }, { id: 'events', label: 'Events' }] },
    { title: 'Utilization', items: [{ id: 'utilization', label: 'Utilization' }] },
  ],
  configure: [
    { title: 'Settings', items: [{ id: 'vapp-options', label: 'vApp Options' }, { id: 'alarm-definitions', label: 'Alarm Definitions' }, { id: 'scheduled-tasks', label: 'Scheduled Tasks' }, { id: 'policies', label: 'Policies' }] },
  ],
};

interface ObjectViewsProps {
  container: 'monitor' | 'configure';
  vm: InventoryVmDto;
  vcGuid: string;
  plugins: PluginDto[];
  selected: string | undefined;
  navigationData: unknown;
  epoch: number;
  frameNonce: number;
  onSelect(id: string): void;
  onUnauthorized(err: unknown): void;
}

/** The Monitor / Configure tab: a list of views on the left (built-in stubs + the plugins' views), the view on the right. */
function ObjectViews(p: ObjectViewsProps) {
  const urn = vmUrn(p.vm.id, p.vcGuid);
  const dynamic = useDynamicViews(p.plugins, p.container, urn, p.epoch);
  const groups: SubNavGroup[] = [...BUILTIN[p.container]];
  for (const plugin of readyPlugins(p.plugins)) {
    const d = dynamic[plugin.instanceId];
    const views = vmViews(plugin, p.container).filter((v) => !v.dynamic || (d && d !== 'loading' && !d.error && d.items[v.navigationId]?.visible === true));
    if (views.length) groups.push({ title: plugin.name, items: views.map((v) => ({ id: v.navigationId, label: pluginLabel(plugin, v.labelKey), plugin, view: v })) });
  }
  const all = groups.flatMap((g) => g.items);
  const current = all.find((i) => i.id === p.selected) ?? all[0];
  const context = useMemo<FrameContext | undefined>(
    () => (current?.plugin ? { pluginId: current.plugin.key, contextObjects: [{ id: urn }], navigationData: p.navigationData } : undefined),
    [current?.plugin, urn, p.navigationData],
  );
  return (
    <div className="vsc-split">
      <nav className="vsc-subnav" aria-label={p.container === 'monitor' ? 'Monitor views' : 'Configure views'}>
        {groups.map((g) => (
          <section key={g.title} className="vsc-subnav-group">
            <h4 className="vsc-subnav-title">{g.title}</h4>
            <ul className="list-unstyled">
              {g.items.map((i) => (
                <li key={i.id}>
                  <button
                    type="button"
                    className={`vsc-subnav-link${i.id === current?.id ? ' active' : ''}`}
                    aria-current={i.id === current?.id ? 'page' : undefined}
                    onClick={() => p.onSelect(i.id)}
                    data-test={testIds.object.monitorView(i.label)}
                  >
                    {i.label}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </nav>
      <section className="vsc-subview" aria-label={current?.label}>
        {current?.plugin && current.view && context ? (
          <PluginFrame
            key={`${current.plugin.instanceId}/${current.id}/${p.vm.id}/${p.frameNonce}`}
            src={pluginUrl(current.plugin, current.view.uri)}
            title={current.label}
            context={context}
            testId={testIds.object.monitorIframe}
            className="vsc-fill"
          />
        ) : current?.id === 'events' && p.container === 'monitor' ? (
          <VmEvents vmId={p.vm.id} onUnauthorized={p.onUnauthorized} />
        ) : (
          <NotEmulated what={`"${current?.label ?? ''}"`} />
        )}
      </section>
    </div>
  );
}

function SummaryCards({
  vm,
  details,
  error,
  plugins,
  vcGuid,
  labTools,
  onUnauthorized,
  onRefresh,
}: {
  vm: InventoryVmDto;
  details: VmDetailsDto | null;
  error: string | null;
  plugins: PluginDto[];
  vcGuid: string;
  labTools: boolean;
  onUnauthorized(err: unknown): void;
  onRefresh(): void;
}) {
  const urn = vmUrn(vm.id, vcGuid);
  const context = useMemo<Record<string, FrameContext>>(
    () => Object.fromEntries(plugins.map((pl) => [pl.instanceId, { pluginId: pl.key, contextObjects: [{ id: urn }], navigationData: undefined }])),
    [plugins, urn],
  );
  const row = (label: string, value: ReactNode, testId?: string) => (
    <tr key={label}>
      <th scope="row">{label}</th>
      <td {...(testId ? { 'data-test': testId } : {})}>{value}</td>
    </tr>
  );
  return (
    <div className="vsc-cards">
      {error ? (
        <div className="alert alert-danger" role="alert">
          <div className="alert-items">
            <div className="alert-item static">
              <span className="alert-text">{error}</span>
            </div>
          </div>
        </div>
      ) : null}
      <section className="card vsc-card" aria-label="Guest OS">
        <div className="card-header">Guest OS</div>
        <div className="card-block">
          <table className="table table-vertical table-noborder table-compact vsc-kv">
            <tbody>
              {row('Power Status', <span className="vsc-power"><Icon shape="vm" badge={powerBadge(vm.powerState)} /> {powerLabel(vm.powerState)}</span>, testIds.object.powerState)}
              {row('Guest OS', details?.guestFullName ?? vm.guestFullName, testIds.object.guestOs)}
              {row('VMware Tools', 'Not running, not installed')}
              {row('DNS Name', '—')}
              {row('IP Addresses', '—')}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card vsc-card" aria-label="VM Hardware">
        <div className="card-header">VM Hardware</div>
        <div className="card-block">
          {details ? (
            <table className="table table-vertical table-noborder table-compact vsc-kv">
              <tbody>
                {row('CPU', `${details.numCpu} CPU(s)`)}
                {row('Memory', `${details.memoryMB / 1024} GB`)}
                {details.disks.map((d, i) => row(`Hard disk ${i + 1}`, formatBytes(d.capacityBytes)))}
                {details.nics.map((n, i) => row(`Network adapter ${i + 1}`, n.network ?? 'Connected'))}
                {row('Snapshots', String(details.snapshotCount))}
              </tbody>
            </table>
          ) : error ? null : (
            <span className="spinner spinner-inline">Loading…</span>
          )}
        </div>
      </section>
      <section className="card vsc-card" aria-label="Related Objects">
        <div className="card-header">Related Objects</div>
        <div className="card-block">
          <table className="table table-vertical table-noborder table-compact vsc-kv">
            <tbody>
              {row('Host', details?.hostName ?? '—')}
              {row('VM ID', vm.id)}
              {row('Instance UUID', details?.instanceUuid ?? '—')}
            </tbody>
          </table>
        </div>
      </section>
      {readyPlugins(plugins).flatMap((pl) => {
        const s = pl.manifest.objects?.VirtualMachine?.summary;
        const cards = [...(s?.view ? [s.view] : []), ...(s?.views ?? [])].filter((c) => !c.dynamic);
        const ctx = context[pl.instanceId];
        return ctx
          ? cards.map((c, i) => (
              <section key={`${pl.instanceId}${i}`} className="card vsc-card vsc-plugin-card" aria-label={pl.name}>
                <div className="card-header">{pl.name}</div>
                <PluginFrame src={pluginUrl(pl, c.uri)} title={pl.name} context={ctx} testId={`summary-card:${pl.name}`} className="vsc-card-frame" />
              </section>
            ))
          : [];
      })}
      {labTools ? <LabDiskWriteCard vmId={vm.id} details={details} onUnauthorized={onUnauthorized} onPoweredOff={onRefresh} /> : null}
    </div>
  );
}

export interface VmViewProps {
  vm: InventoryVmDto;
  tab: ObjectTab;
  view: string | undefined;
  vcGuid: string;
  plugins: PluginDto[];
  navigationData: unknown;
  refreshTick: number;
  itemsEpoch: number;
  frameNonce: number;
  /** Lab only: show the "Change disk blocks" card (the session says the stand-in runs in the lab). */
  labTools?: boolean;
  /** Read the inventory and the VM again (the global refresh), e.g. after the lab shut the guest down. */
  onRefresh(): void;
  onTab(tab: ObjectTab): void;
  onView(tab: ObjectTab, id: string): void;
  onActions(x: number, y: number): void;
  onUnauthorized(err: unknown): void;
}

export function VmView(p: VmViewProps) {
  const [details, setDetails] = useState<VmDetailsDto | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { onUnauthorized } = p;
  useEffect(() => {
    let live = true;
    setError(null);
    api.vm(p.vm.id).then(
      (d) => live && setDetails(d),
      (err: unknown) => {
        onUnauthorized(err);
        if (live) setError(err instanceof Error ? err.message : String(err));
      },
    );
    return () => {
      live = false;
    };
  }, [p.vm.id, p.refreshTick, onUnauthorized]);
  const shown = details?.id === p.vm.id ? details : null;
  return (
    <div className="vsc-object">
      <div className="vsc-object-header">
        <Icon shape="vm" size="md" badge={powerBadge(p.vm.powerState)} />
        <h2 className="vsc-object-title" data-test={testIds.object.title}>
          {p.vm.name}
        </h2>
        <button
          type="button"
          className="btn btn-sm btn-link vsc-actions"
          aria-haspopup="menu"
          onClick={(e) => {
            const r = e.currentTarget.getBoundingClientRect();
            p.onActions(r.left, r.bottom);
          }}
          data-test={testIds.object.actions}
        >
          Actions <Icon shape="angle" direction="down" size="sm" />
        </button>
      </div>
      <ul className="nav vsc-tabs" role="tablist" aria-label={`${p.vm.name} views`}>
        {OBJECT_TABS.map((t) => (
          <li key={t} role="presentation" className="nav-item">
            <button type="button" role="tab" aria-selected={t === p.tab} className={`btn btn-link nav-link${t === p.tab ? ' active' : ''}`} onClick={() => p.onTab(t)} data-test={testIds.object.tab(t)}>
              {t}
            </button>
          </li>
        ))}
      </ul>
      <div className="vsc-tab-panel" role="tabpanel" aria-label={p.tab}>
        {p.tab === 'Summary' ? (
          <SummaryCards vm={p.vm} details={shown} error={error} plugins={p.plugins} vcGuid={p.vcGuid} labTools={p.labTools === true} onUnauthorized={onUnauthorized} onRefresh={p.onRefresh} />
        ) : p.tab === 'Monitor' || p.tab === 'Configure' ? (
          <ObjectViews
            container={p.tab === 'Monitor' ? 'monitor' : 'configure'}
            vm={p.vm}
            vcGuid={p.vcGuid}
            plugins={p.plugins}
            selected={p.view}
            navigationData={p.navigationData}
            epoch={p.itemsEpoch}
            frameNonce={p.frameNonce}
            onSelect={(id) => p.onView(p.tab, id)}
            onUnauthorized={onUnauthorized}
          />
        ) : (
          <NotEmulated what={`The ${p.tab} tab`} />
        )}
      </div>
    </div>
  );
}

export function GlobalView({ plugin, navigationData, nonce }: { plugin: PluginDto; navigationData: unknown; nonce: number }) {
  const view = plugin.manifest?.global?.view;
  const context = useMemo<FrameContext>(() => ({ pluginId: plugin.key, contextObjects: [], navigationData }), [plugin.key, navigationData]);
  if (!view) return <NotEmulated what={`A global view of ${plugin.name}`} />;
  return (
    <div className="vsc-global">
      <PluginFrame key={`${plugin.instanceId}/${nonce}`} src={pluginUrl(plugin, view.uri)} title={plugin.name} context={context} testId={testIds.globalView.iframe} className="vsc-fill" />
    </div>
  );
}

export function HomeView({ userName }: { userName: string }) {
  return (
    <div className="vsc-home">
      <h2>Welcome, {userName}</h2>
      <p>Select a virtual machine in the navigator, right-click it for its actions, or open a plugin from the Menu.</p>
    </div>
  );
}
