import '@clr/ui/clr-ui.min.css';
import './kit/kit.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';
import { API_PREFIX } from '../connector/contract/index.ts';
import { connectHost } from './host/host.ts';
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
    document.body.setAttribute('cds-theme', 'light');
    const p = document.createElement('p');
    p.className = 'vsp-page';
    p.textContent = err instanceof Error ? err.message : String(err);
    document.getElementById('root')!.replaceChildren(p);
  },
);
