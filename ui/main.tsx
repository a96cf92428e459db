import '@clr/ui/clr-ui.min.css';
import './kit/kit.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';
import { API_PREFIX } from '../connector/contract/index.ts';
import { connectHost, HostProblem } from './host/host.ts';
import { HostProblemPage } from './app/HostProblemMessage.tsx';
import { PluginShell } from './app/PluginShell.tsx';
import { router } from './app/router.tsx';

const root = createRoot(document.getElementById('root')!);
// API calls go to <proxied base URL>/vm2ec2/api/v1.
connectHost(API_PREFIX).then(
  (host) =>
    root.render(
      <StrictMode>
        <PluginShell host={host}>
          <RouterProvider router={router} />
        </PluginShell>
      </StrictMode>,
    ),
  (err: unknown) => {
    // One message naming what the vSphere Client did not give and what to check (no shell: there is no host).
    document.body.setAttribute('cds-theme', 'light');
    const problem = err instanceof HostProblem ? err : new HostProblem('initialize', `htmlClientSdk failed: ${String(err)}`);
    root.render(<HostProblemPage problem={problem} />);
  },
);
