import { API_PREFIX } from '../connector/contract/index.ts';
import { createApi } from './api/client.ts';
import { createHttp } from './api/http.ts';
import { connectHost } from './host/host.ts';
import { createQueryClient } from './app/queryClient.ts';
import { loadPage, routeOf } from './app/router.tsx';

// A small entry that starts everything at once: the page's chunk, React with the shell and the styles, and the
// vSphere Client's SDK handshake (which would otherwise wait for all of them to download and run); the page's first
// connector calls leave as soon as the handshake is done, while React may still be on its way.
const route = routeOf(window.location.hash);
// The first render waits for the page's chunk (it is on its way during the handshake): no loading state to replace.
const page = loadPage(route).catch(() => undefined); // a failed chunk shows when the page renders
const app = import('./app/start.tsx');
// API calls go to <proxied base URL>/vm2ec2/api/v1.
connectHost(API_PREFIX).then(
  async (host) => {
    const queryClient = createQueryClient();
    const api = createApi(createHttp(host));
    route.prefetch?.(host, api, queryClient);
    await page;
    (await app).start({ host, api, queryClient });
  },
  async (err: unknown) => (await app).showHostProblem(err),
);
