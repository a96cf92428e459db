import { Component, useEffect, useMemo, useState, type ErrorInfo, type ReactNode } from 'react';
import { QueryClientProvider, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { createQueryClient } from './queryClient.ts';
import { HostProblem, type Host } from '../host/host.ts';
import { HostProblemPage } from './HostProblemMessage.tsx';
import { HostContext } from '../host/HostContext.tsx';
import type { ThemeName } from '../host/sdk-types.ts';
import { createHttp } from '../api/http.ts';
import { createApi, type Api } from '../api/client.ts';
import { ApiContext } from '../api/ApiContext.tsx';
import { useT } from '../i18n/core.ts';
import { LocaleContext } from '../i18n/translate.ts';
import { Alert } from '../kit/Alert.tsx';
import { modalTestIds as testIds } from '../modalTestIds.ts';

function applyTheme(theme: ThemeName): void {
  document.body.setAttribute('cds-theme', theme);
}

/** Refetch everything when the user presses the vSphere Client's global refresh. */
function GlobalRefresh({ host }: { host: Host }) {
  const queryClient = useQueryClient();
  useEffect(() => host.onGlobalRefresh(() => void queryClient.invalidateQueries()), [host, queryClient]);
  return null;
}

class ErrorBoundary extends Component<{ children: ReactNode; fallback: (error: Error) => ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('plugin view failed', error, info.componentStack);
  }
  override render() {
    return this.state.error ? this.props.fallback(this.state.error) : this.props.children;
  }
}

function Crash({ error }: { error: Error }) {
  const t = useT();
  if (error instanceof HostProblem) return <HostProblemPage problem={error} />;
  return (
    <div className="vsp-page" data-test={testIds.shell.error}>
      <Alert kind="danger">
        {t('app.unexpected')} {error.message}
      </Alert>
    </div>
  );
}

/** What every manifest entry point shares: SDK host, theme sync, i18n, query client, error boundary. */
export function PluginShell(props: { host: Host; children: ReactNode; api?: Api; queryClient?: QueryClient }) {
  const { host, children } = props;
  // The entry may pass both in, having started a page's first requests before React rendered.
  const [queryClient] = useState(() => props.queryClient ?? createQueryClient());
  const api = useMemo(() => props.api ?? createApi(createHttp(host)), [host, props.api]);
  const locale = useMemo(() => host.locale(), [host]);
  useEffect(() => {
    applyTheme(host.theme());
    host.onThemeChanged(applyTheme);
  }, [host]);
  return (
    <HostContext.Provider value={host}>
      <ApiContext.Provider value={api}>
        <LocaleContext.Provider value={locale}>
          <QueryClientProvider client={queryClient}>
            <GlobalRefresh host={host} />
            <ErrorBoundary fallback={(error) => <Crash error={error} />}>{children}</ErrorBoundary>
          </QueryClientProvider>
        </LocaleContext.Provider>
      </ApiContext.Provider>
    </HostContext.Provider>
  );
}
