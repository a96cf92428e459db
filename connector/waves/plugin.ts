import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ConnectorConfig } from '../config.ts';
import { WaveService } from './service.ts';
import { openWaves, type WaveRepository } from './store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    waves: WaveService;
  }
}

/** How often queued migrations of waves whose start window has closed are looked for. */
const SWEEP_MS = 5_000;

/** The waves service on the store's database; the start-window sweeper runs while the server listens. */
export const wavesPlugin = fp(
  async (app: FastifyInstance, opts: { config: ConnectorConfig; repo?: WaveRepository; now?: () => Date }) => {
    const repo = opts.repo ?? openWaves(app.store, { dataDir: opts.config.dataDir, sqliteFile: opts.config.store.sqliteFile });
    const service = new WaveService(app, repo, opts.now ?? (() => new Date()));
    app.decorate('waves', service);
    app.addHook('onListen', async () => service.start(SWEEP_MS));
    app.addHook('preClose', async () => service.stop());
    app.addHook('onClose', async () => repo.close());
  },
  { name: 'waves', dependencies: ['store', 'engine'] },
);
