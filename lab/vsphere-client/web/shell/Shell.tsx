import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { InventoryDto, InventoryFolderDto, InventoryVmDto, PluginDto, SessionDto } from '../../api-types.ts';
import type { ManifestAction } from '../../manifest-schema.ts';
import { SDK_CHANNEL, type ThemeName } from '../protocol.ts';
import { api, ApiError } from './api.ts';
import { ContextMenu } from './ContextMenu.tsx';
import { frameHub, type FrameContext } from './frameHub.ts';
import { Header } from './Header.tsx';
import { ModalStack } from './Modals.tsx';
import { datacenterKey, findFolder, findVm, parseUrn, pluginLabel, pluginUrl, readyPlugins, vmUrn, vmViews } from './model.ts';
import { Navigator } from './Navigator.tsx';
import { PluginErrors } from './PluginErrors.tsx';
import { formatRoute, parseRoute, type ObjectTab, type Route } from './route.ts';
import { RecentTasks } from './TasksEvents.tsx';
import { FolderView } from './FolderView.tsx';
import { useModalStack } from './useModalStack.ts';
import { GlobalView, HomeView, VmView } from './Views.tsx';

export interface ShellProps {
  session: SessionDto;
  theme: ThemeName;
  onToggleTheme(): void;
  onLoggedOut(): void;
}

function useHashRoute(): [Route, (r: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const navigate = useCallback((r: Route) => {
    const hash = formatRoute(r);
    if (window.location.hash !== hash) window.location.hash = hash;
    setRoute(r);
  }, []);
  return [route, navigate];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The logged-in vSphere Client: header, navigator, object views, plugin views and modals. */
export function Shell({ session, theme, onToggleTheme, onLoggedOut }: ShellProps) {
  const [route, navigate] = useHashRoute();
  const [inventory, setInventory] = useState<InventoryDto | null>(null);
  const [inventoryError, setInventoryError] = useState<string | null>(null);
  const [plugins, setPlugins] = useState<PluginDto[]>([]);
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(['vcenter']));
  const [refreshTick, setRefreshTick] = useState(0);
  const [itemsEpoch, setItemsEpoch] = useState(0);
  const [frameNonce, setFrameNonce] = useState(0);
  const [navigationData, setNavigationData] = useState<unknown>(undefined);
  const [menu, setMenu] = useState<{ x: number; y: number; vms: InventoryVmDto[] } | null>(null);
  const modals = useModalStack();
  const vcGuid = session.vcenter.instanceUuid;

  const onUnauthorized = useCallback(
    (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) onLoggedOut();
    },
    [onLoggedOut],
  );

  // Inventory and plugins: at start and on every global refresh (manifests are re-downloaded then).
  useEffect(() => {
    let live = true;
    api.inventory().then(
      (inv) => {
        if (!live) return;
        setInventory(inv);
        setInventoryError(null);
        // First load: open the datacenters and folders so the VMs are visible, like the vSphere Client remembers.
        setExpanded((prev) => {
          if (prev.size > 1) return prev;
          const next = new Set(prev);
          const addFolders = (f: InventoryFolderDto) => {
            next.add(f.id);
            f.children.forEach(addFolders);
          };
          for (const dc of inv.datacenters) {
            next.add(datacenterKey(dc.name));
            dc.vmFolder.children.forEach(addFolders);
          }
          return next;
        });
      },
      (err: unknown) => {
        onUnauthorized(err);
        if (live) setInventoryError(`The inventory could not be loaded: ${message(err)}`);
      },
    );
    api.plugins(refreshTick > 0).then(
      (r) => live && setPlugins(r.plugins),
      (err: unknown) => onUnauthorized(err),
    );
    return () => {
      live = false;
    };
  }, [refreshTick, onUnauthorized]);

  // Theme changes reach every plugin iframe.
  const firstTheme = useRef(true);
  useEffect(() => {
    document.body.setAttribute('cds-theme', theme);
    if (firstTheme.current) {
      firstTheme.current = false;
      return;
    }
    frameHub.broadcast({ channel: SDK_CHANNEL, kind: 'event', event: 'themeChanged', theme });
  }, [theme]);

  const ready = useMemo(() => readyPlugins(plugins), [plugins]);
  const broken = plugins.filter((p) => p.status === 'error');

  const refresh = () => {
    setRefreshTick((t) => t + 1);
    setItemsEpoch((e) => e + 1);
    frameHub.broadcast({ channel: SDK_CHANNEL, kind: 'event', event: 'globalRefresh' });
  };

  const logout = () => {
    api.logout().finally(onLoggedOut);
  };

  const openGlobalView = (p: PluginDto, data?: unknown) => {
    const navId = p.manifest?.global?.view.navigationId;
    if (!navId) return;
    setNavigationData(data);
    setFrameNonce((n) => n + 1);
    navigate({ kind: 'plugin', instanceId: p.instanceId, navigationId: navId });
  };

  const selectVm = (vm: InventoryVmDto, tab: ObjectTab = 'Summary', view?: string) => {
    navigate({ kind: 'vm', id: vm.id, tab, ...(view ? { view } : {}) });
  };

  const runAction = (p: PluginDto, action: ManifestAction, vms: InventoryVmDto[]) => {
    setMenu(null);
    if (action.trigger.type === 'navigation') {
      navigateToView(p, action.trigger.targetViewId, vms[0] ? vmUrn(vms[0].id, vcGuid) : undefined, undefined);
      return;
    }
    const t = action.trigger;
    modals.open({
      kind: 'plugin',
      pluginId: p.key,
      url: pluginUrl(p, t.uri),
      title: pluginLabel(p, t.titleKey ?? action.labelKey),
      ...(t.accessibilityTitleKey ? { accessibilityTitle: pluginLabel(p, t.accessibilityTitleKey) } : {}),
      width: t.size.width,
      height: t.size.height,
      closable: t.closable !== false,
      // Every target, in selection order (getContextObjects() of an acceptsMultipleTargets action).
      contextObjects: vms.map((v) => ({ id: vmUrn(v.id, vcGuid) })),
      customData: null,
    });
  };

  /** navigateTo: the plugin's own global view or VM Monitor/Configure views, by navigationId. */
  function navigateToView(p: PluginDto, targetViewId: string | undefined, objectId: string | undefined, customData: unknown): void {
    if (targetViewId && p.manifest?.global?.view.navigationId === targetViewId) {
      openGlobalView(p, customData);
      return;
    }
    const target = objectId ? parseUrn(objectId) : null;
    const vmId = target?.type === 'VirtualMachine' ? target.id : route.kind === 'vm' ? route.id : undefined;
    const vm = vmId ? findVm(inventory, vmId)?.vm : undefined;
    if (!targetViewId) {
      if (!vm) throw new Error(`navigateTo: ${objectId ?? '(no objectId)'} is not a VM in the inventory.`);
      selectVm(vm);
      return;
    }
    for (const container of ['monitor', 'configure'] as const) {
      if (vmViews(p, container).some((v) => v.navigationId === targetViewId)) {
        if (!vm) throw new Error(`navigateTo: "${targetViewId}" is a VM view; pass the VM as objectId.`);
        setNavigationData(customData);
        setFrameNonce((n) => n + 1);
        selectVm(vm, container === 'monitor' ? 'Monitor' : 'Configure', targetViewId);
        return;
      }
    }
    throw new Error(`navigateTo: "${targetViewId}" is not a navigationId of plugin ${p.key}.`);
  }

  // The frame hub asks the shell; handlers are refreshed every render so they see current state.
  useEffect(() => {
    const pluginOf = (ctx: FrameContext) => {
      const p = plugins.find((x) => x.key === ctx.pluginId);
      if (!p) throw new Error(`Plugin ${ctx.pluginId} is not loaded.`);
      return p;
    };
    frameHub.setHandlers({
      initData: (ctx) => ({
        pluginId: ctx.pluginId,
        contextObjects: ctx.contextObjects,
        theme,
        locale: 'en-US',
        navigationData: ctx.navigationData,
        modalCustomData: ctx.modalCustomData ?? null,
        clientInfo: { type: 'HTML', version: session.clientVersion },
        apiEndpoints: {
          uiApiEndpoint: { origin: window.location.origin, pathname: '/api/ui', queryParams: [], fullUrl: `${window.location.origin}/api/ui` },
        },
      }),
      sessionInfo: () => ({ sessionToken: session.pluginSessionToken, nodeId: session.nodeId }),
      backendInfo: (pluginId) => {
        const p = plugins.find((x) => x.key === pluginId);
        const servers = p?.backendServers ?? [];
        return { allPluginBackendServers: servers, backendServersPerVc: { [vcGuid]: servers }, backendServersPerVcObject: {} };
      },
      navigationMap: (targetPluginId) => {
        const p = plugins.find((x) => x.key === targetPluginId);
        if (!p?.manifest) return null;
        const ids = [
          ...(p.manifest.global ? [p.manifest.global.view.navigationId] : []),
          ...vmViews(p, 'monitor').map((v) => v.navigationId),
          ...vmViews(p, 'configure').map((v) => v.navigationId),
        ];
        return { navigationInfoByVcGuid: { [vcGuid]: { pluginVersion: p.version, viewsIds: ids } }, navigationInfoByVcObject: {} };
      },
      navigateTo: (ctx, prm) => navigateToView(pluginOf(ctx), prm.targetViewId, prm.objectId, prm.customData),
      navigateToClientView: (_ctx, prm) => {
        const target = prm.objectId ? parseUrn(prm.objectId) : null;
        const vm = target?.type === 'VirtualMachine' ? findVm(inventory, target.id)?.vm : undefined;
        if (prm.targetViewId === 'vm.summary' && vm) selectVm(vm);
        else if (prm.targetViewId === 'vm.monitor.performance.overview' && vm) selectVm(vm, 'Monitor', 'performance-overview');
        else throw new Error(`navigateToClientView: "${prm.targetViewId ?? ''}" is not emulated by the lab vSphere Client.`);
      },
      refreshPluginItems: () => setItemsEpoch((e) => e + 1),
      openModal: (ctx, prm, source) => {
        const p = pluginOf(ctx);
        const url = new URL(prm.url);
        if (url.origin !== window.location.origin || !url.pathname.startsWith(`${p.proxiedBaseUrl}/`)) {
          throw new Error(`modal.open: ${prm.url} is not served by the plugin server (it must load through ${p.proxiedBaseUrl}/).`);
        }
        modals.open({
          kind: 'plugin',
          pluginId: p.key,
          url: url.href,
          title: prm.title ?? '',
          ...(prm.accessibilityTitle ? { accessibilityTitle: prm.accessibilityTitle } : {}),
          width: prm.size?.width ?? 600,
          height: prm.size?.height ?? 400,
          closable: prm.closable !== false,
          contextObjects: (prm.contextObjects ?? []).filter((o): o is { id: string } => typeof (o as { id?: unknown } | null)?.id === 'string'),
          customData: prm.customData ?? null,
          opener: source,
          ...(prm.onClosedCallbackId !== undefined ? { onClosedCallbackId: prm.onClosedCallbackId } : {}),
        });
      },
      closeModal: (ctx, data) => {
        if (ctx.modalKey === undefined) throw new Error('modal.close: this view is not inside a modal.');
        modals.close(ctx.modalKey, data, true);
      },
      setModalOptions: (ctx, prm) => {
        if (ctx.modalKey === undefined) throw new Error('modal.setOptions: this view is not inside a modal.');
        modals.setOptions(ctx.modalKey, prm);
      },
      openConfirmation: (ctx, prm, source) => {
        if (!Array.isArray(prm.buttons) || prm.buttons.length < 1 || prm.buttons.length > 4) {
          throw new Error('modal.openConfirmationModal: "buttons" must hold 1 to 4 buttons.');
        }
        modals.open({ kind: 'confirm', pluginId: pluginOf(ctx).key, params: prm, opener: source });
      },
    });
  });

  // Selection in the tree follows the route.
  const vmLoc = route.kind === 'vm' ? findVm(inventory, route.id) : null;
  const folder = route.kind === 'folder' ? findFolder(inventory, route.id) : null;
  const selectedId = route.kind === 'vm' ? route.id : route.kind === 'folder' ? route.id : route.kind === 'home' ? 'vcenter' : null;
  useEffect(() => {
    if (!vmLoc) return;
    setExpanded((prev) => (vmLoc.ancestors.every((a) => prev.has(a)) ? prev : new Set([...prev, 'vcenter', ...vmLoc.ancestors])));
  }, [vmLoc]);

  let content;
  if (route.kind === 'vm') {
    content = vmLoc ? (
      <VmView
        vm={vmLoc.vm}
        tab={route.tab}
        view={route.view}
        vcGuid={vcGuid}
        plugins={ready}
        navigationData={navigationData}
        refreshTick={refreshTick}
        itemsEpoch={itemsEpoch}
        frameNonce={frameNonce}
        labTools={session.labTools === true}
        onRefresh={refresh}
        onTab={(tab) => selectVm(vmLoc.vm, tab)}
        onView={(tab, id) => selectVm(vmLoc.vm, tab, id)}
        onActions={(x, y) => setMenu({ x, y, vms: [vmLoc.vm] })}
        onUnauthorized={onUnauthorized}
      />
    ) : inventory ? (
      <HomeView userName={session.userName} />
    ) : null;
  } else if (route.kind === 'folder') {
    content = folder ? <FolderView key={folder.id} folder={folder} onSelectVm={(vm) => selectVm(vm)} onContextMenu={(vms, x, y) => setMenu({ x, y, vms })} /> : null;
  } else if (route.kind === 'plugin') {
    const p = ready.find((x) => x.instanceId === route.instanceId);
    content = p ? <GlobalView plugin={p} navigationData={navigationData} nonce={frameNonce} /> : null;
  } else {
    content = <HomeView userName={session.userName} />;
  }

  return (
    <div className="main-container vsc-main">
      <Header
        userName={session.userName}
        theme={theme}
        globalViews={ready.filter((p) => p.manifest.global).map((p) => ({ plugin: p, label: p.name }))}
        onHome={() => navigate({ kind: 'home' })}
        onGlobalView={(p) => openGlobalView(p)}
        onToggleTheme={onToggleTheme}
        onRefresh={refresh}
        onLogout={logout}
      />
      <PluginErrors broken={broken} />
      <div className="content-container">
        <Navigator
          inventory={inventory}
          error={inventoryError}
          expanded={expanded}
          selectedId={selectedId}
          onToggle={(id) =>
            setExpanded((prev) => {
              const next = new Set(prev);
              if (!next.delete(id)) next.add(id);
              return next;
            })
          }
          onSelectVm={(vm) => selectVm(vm)}
          onSelectFolder={(f) => navigate({ kind: 'folder', id: f.id })}
          onSelectHome={() => navigate({ kind: 'home' })}
          onVmContextMenu={(vm, x, y) => setMenu({ x, y, vms: [vm] })}
        />
        <main className="content-area vsc-content">{content}</main>
      </div>
      <RecentTasks tick={refreshTick} onUnauthorized={onUnauthorized} />
      {menu ? (
        <ContextMenu
          key={`${menu.vms.map((v) => v.id).join(',')}/${menu.x}/${menu.y}/${itemsEpoch}`}
          x={menu.x}
          y={menu.y}
          vms={menu.vms}
          vcGuid={vcGuid}
          plugins={ready}
          onClose={() => setMenu(null)}
          onAction={runAction}
          onUnauthorized={onUnauthorized}
        />
      ) : null}
      <ModalStack modals={modals.modals} onDismiss={modals.onDismiss} onConfirmButton={modals.onConfirmButton} />
    </div>
  );
}
