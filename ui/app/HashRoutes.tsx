import { lazy, Suspense, useSyncExternalStore, type ComponentType, type LazyExoticComponent } from 'react';
import { useT } from '../i18n/i18n.ts';
import { Spinner } from '../kit/Spinner.tsx';
import { loadPage, routeOf, type RouteDef } from './router.tsx';

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
  const Page = pageOf(routeOf(useSyncExternalStore(subscribe, currentHash)));
  return (
    <Suspense fallback={<PageLoading />}>
      <Page />
    </Suspense>
  );
}
