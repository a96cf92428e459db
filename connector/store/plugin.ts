import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Store } from './types.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The connector's repositories. */
    store: Store;
  }
}

/** Decorates the app with the store and closes it with the app. */
export const storePlugin = fp(
  async (app: FastifyInstance, opts: { store: Store }) => {
    app.decorate('store', opts.store);
    app.addHook('onClose', async () => opts.store.close());
  },
  { name: 'store' },
);
