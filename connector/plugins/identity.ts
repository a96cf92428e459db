import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { notAuthenticated } from '../errors.ts';
import { VimFault } from '../vsphere/vim25.ts';
import type { SessionStats, UserVcenter, VcenterGateway } from '../vcenter/gateway.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** vCenter round trips made for plugin sessions (clones, liveness checks), for metrics. */
    vcenterSessionStats(): SessionStats;
  }
  interface FastifyRequest {
    /** The caller's own vCenter session (cloned from the plugin session token). */
    vcenter(): Promise<UserVcenter>;
  }
}

export const SESSION_HEADER = 'vmware-api-session-id';

const used = new WeakMap<FastifyRequest, { token: string; vcenter: Promise<UserVcenter> }>();

/** Every API call carries the plugin session token; it is exchanged lazily for a cloned vCenter session. */
export const identityPlugin = fp(
  async (app: FastifyInstance, opts: { gateway: VcenterGateway }) => {
    app.decorate('vcenterSessionStats', () => opts.gateway.stats());
    app.decorateRequest('vcenter', function (this: FastifyRequest) {
      const token = this.headers[SESSION_HEADER];
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
        return Promise.reject(notAuthenticated('No vSphere Client session came with the request. Open the plugin from the vSphere Client.'));
      }
      const vcenter = opts.gateway.forToken(token);
      used.set(this, { token, vcenter });
      return vcenter;
    });
    // vCenter ended the clone itself (its idle timeout, an administrator, a restart) while the user's own session
    // lives on: forget that clone, so the next request clones a fresh one instead of failing until it idles out.
    app.addHook('onError', async (request, _reply, err) => {
      if (!(err instanceof VimFault && err.faultType === 'NotAuthenticated')) return;
      const u = used.get(request);
      const stale = await u?.vcenter.catch(() => undefined);
      if (u && stale) opts.gateway.invalidate(u.token, stale);
    });
  },
  { name: 'identity' },
);
