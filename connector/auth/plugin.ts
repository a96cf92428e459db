import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { UserVcenter } from '../vcenter/gateway.ts';
import { AccessPolicy } from './access.ts';
import { ImportTokenService } from './import-token.ts';
import { normalizeUserName } from './users.ts';

/** The calling vCenter user, as the connector sees them on every request. */
export interface Caller {
  /** As vCenter spells it (for display). */
  userName: string;
  /** Normalized (permissions, audit, token subject). */
  principal: string;
  isAdministrator: boolean;
  /** The user's own cloned vCenter session. */
  vcenter: UserVcenter;
}

declare module 'fastify' {
  interface FastifyInstance {
    access: AccessPolicy;
    importTokens: ImportTokenService;
  }
  interface FastifyRequest {
    /** Who is calling (clones their vCenter session on first use in the request). */
    caller(): Promise<Caller>;
  }
}

const callerCache = new WeakMap<FastifyRequest, Promise<Caller>>();

/** Access policy, import tokens and `request.caller()`. Needs the store and identity plugins. */
export const authPlugin = fp(
  async (app: FastifyInstance, opts: { administrators: readonly string[]; dataDir: string; tokenTtlSeconds: number }) => {
    const access = new AccessPolicy(opts.administrators, app.store);
    app.decorate('access', access);
    app.decorate('importTokens', new ImportTokenService({ dataDir: opts.dataDir, ttlSeconds: opts.tokenTtlSeconds, store: app.store }));
    app.decorateRequest('caller', function (this: FastifyRequest) {
      let caller = callerCache.get(this);
      if (!caller) {
        caller = this.vcenter().then((vcenter) => {
          const principal = normalizeUserName(vcenter.session.userName);
          return { userName: vcenter.session.userName, principal, isAdministrator: access.isAdministrator(principal), vcenter };
        });
        callerCache.set(this, caller);
      }
      return caller;
    });
  },
  { name: 'auth', dependencies: ['store', 'identity'] },
);
