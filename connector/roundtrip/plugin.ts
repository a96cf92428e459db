import type { FastifyInstance } from 'fastify';
import type { S3Client } from '@aws-sdk/client-s3';
import fp from 'fastify-plugin';
import type { ConnectorConfig } from '../config.ts';
import { s3ClientFactory } from '../engine/factory.ts';
import { ReturnService } from './service.ts';
import { openReturnTasks, type ReturnTaskRepository } from './store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** "Bring back to vCenter" tasks. */
    returns: ReturnService;
    /** S3 clients (per region) that read the exports' OVAs. */
    returnsS3: (region: string) => S3Client;
  }
}

/** The return service on the store's database; tasks a stopped process left running are undone once the server listens. */
export const returnsPlugin = fp(
  async (app: FastifyInstance, opts: { config: ConnectorConfig; repo?: ReturnTaskRepository }) => {
    const repo = opts.repo ?? openReturnTasks(app.store, { dataDir: opts.config.dataDir, sqliteFile: opts.config.store.sqliteFile });
    const s3 = s3ClientFactory(opts.config.engine, opts.config.aws.credentials);
    const service = new ReturnService({
      repo,
      s3,
      serviceSession: () => app.engineSessions.reporting(''),
      connectorId: () => app.fleet.connectorId(),
      keepAliveMs: opts.config.engine.leaseKeepAliveMs,
      exports: () => app.exportsService,
      log: (m) => app.log.warn(m),
    });
    app.decorate('returns', service);
    app.decorate('returnsS3', s3);
    app.addHook('onListen', async () => {
      void service.resume().catch((err: unknown) => app.log.warn(`Bring back to vCenter: resuming failed: ${String(err)}`));
    });
    // Before the engine closes the vCenter sessions: running imports are undone first.
    app.addHook('preClose', async () => service.stop());
    app.addHook('onClose', async () => repo.close());
  },
  { name: 'returns', dependencies: ['store', 'engine', 'fleet'] },
);
