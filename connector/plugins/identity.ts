import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { notAuthenticated } from '../errors.ts';
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

/** Every API call carries the plugin session token; it is exchanged lazily for a cloned vCenter session. */
export const identityPlugin = fp(
  async (app: FastifyInstance, opts: { gateway: VcenterGateway }) => {
    app.decorate('vcenterSessionStats', () => opts.gateway.stats());
    app.decorateRequest('vcenter', function (this: FastifyRequest) {
      const token = this.headers[SESSION_HEADER];
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
        return Promise.reject(notAuthenticated('No vSphere Client session came with the request. Open the plugin from the vSphere Client.'));
      }
      return opts.gateway.forToken(token);
    });
  },
  { name: 'identity' },
);
