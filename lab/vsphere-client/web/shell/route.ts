// The shell's location, kept in the URL hash so a reload (or a Playwright goto) lands on the same view.

export type ObjectTab = 'Summary' | 'Monitor' | 'Configure' | 'Permissions' | 'Datastores' | 'Networks' | 'Snapshots';
export const OBJECT_TABS: ObjectTab[] = ['Summary', 'Monitor', 'Configure', 'Permissions', 'Datastores', 'Networks', 'Snapshots'];

export type Route =
  | { kind: 'home' }
  | { kind: 'vm'; id: string; tab: ObjectTab; view?: string }
  | { kind: 'folder'; id: string }
  | { kind: 'plugin'; instanceId: string; navigationId: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [kind, a, b, c] = parts;
  if (kind === 'vm' && a) {
    const tab = OBJECT_TABS.find((t) => t.toLowerCase() === (b ?? 'summary').toLowerCase()) ?? 'Summary';
    return { kind: 'vm', id: a, tab, ...(c ? { view: c } : {}) };
  }
  if (kind === 'folder' && a) return { kind: 'folder', id: a };
  if (kind === 'plugin' && a && b) return { kind: 'plugin', instanceId: a, navigationId: b };
  return { kind: 'home' };
}

export function formatRoute(r: Route): string {
  const enc = encodeURIComponent;
  switch (r.kind) {
    case 'home':
      return '#/';
    case 'vm':
      return `#/vm/${enc(r.id)}/${r.tab.toLowerCase()}${r.view ? `/${enc(r.view)}` : ''}`;
    case 'folder':
      return `#/folder/${enc(r.id)}`;
    case 'plugin':
      return `#/plugin/${enc(r.instanceId)}/${enc(r.navigationId)}`;
  }
}
