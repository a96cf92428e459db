import { lazy, Suspense, useSyncExternalStore, type ComponentType, type LazyExoticComponent } from 'react';
import { useT } from '../i18n/core.ts';
import { Spinner } from '../kit/Spinner.tsx';
import { loadedPage, loadPage, routeOf, type RouteDef } from './router.tsx';

const pages = new Map<RouteDef, LazyExoticComponent<ComponentType>>();
function pageOf(route: RouteDef): LazyExoticComponent<ComponentType> {
  let page = pages.get(route);
  if (!page) {
    page = lazy(async () => ({ default: await loadPage(route) }));
    pages.set(route, page);
  }
  return page;
}

const subscribe = (onChange: () => void) => {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
};
const currentHash = () => window.location.hash;

/** Shown while a page's code arrives on first load. */
function PageLoading() {
  const t = useT();
  return <Spinner label={t('app.loading')} />;
}

/** Renders the page of the current hash, following hash changes (the vSphere Client may re-point the iframe). */
export function HashRoutes() {
  const route = routeOf(useSyncExternalStore(subscribe, currentHash));
  // A page whose chunk is here renders at once: behind Suspense, React 19 holds a revealed page back for up to
  // 300 ms after its fallback showed (measured: the modal's form appeared ~240 ms after its data, the CPU idle).
  const Ready = loadedPage(route);
  if (Ready) return <Ready />;
  const Page = pageOf(route);
  return (
    <Suspense fallback={<PageLoading />}>
      <Page />
    </Suspense>
  );
}
