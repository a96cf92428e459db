import '@clr/ui/clr-ui.min.css';
import '../kit/kit.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { QueryClient } from '@tanstack/react-query';
import type { Api } from '../api/client.ts';
import { HostProblem, type Host } from '../host/host.ts';
import { HashRoutes } from './HashRoutes.tsx';
import { HostProblemPage } from './HostProblemMessage.tsx';
import { PluginShell } from './PluginShell.tsx';

const root = () => createRoot(document.getElementById('root')!);

/** Renders the view once the vSphere Client's SDK has answered. */
export function start({ host, api, queryClient }: { host: Host; api: Api; queryClient: QueryClient }): void {
  root().render(
    <StrictMode>
      <PluginShell host={host} api={api} queryClient={queryClient}>
        <HashRoutes />
      </PluginShell>
    </StrictMode>,
  );
}

/** One message naming what the vSphere Client did not give and what to check (no shell: there is no host). */
export function showHostProblem(err: unknown): void {
  document.body.setAttribute('cds-theme', 'light');
  const problem = err instanceof HostProblem ? err : new HostProblem('initialize', `htmlClientSdk failed: ${String(err)}`);
  root().render(<HostProblemPage problem={problem} />);
}
