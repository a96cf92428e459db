import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ConnectorConfig } from '../config.ts';
import { connectorHealthChecks, HealthMonitor } from './health.ts';
import { NotificationService } from './service.ts';
import { NotificationStore } from './store.ts';
import { exportTasksOn, migrationTasksOn } from '../store/task-repositories.ts';

declare module 'fastify' {
  interface FastifyInstance {
    notifications: NotificationService;
  }
}

/** Notification targets and the outbox worker: joins the task observers, sweeps and starts once the server listens. */
export const notificationsPlugin = fp(
  async (app: FastifyInstance, opts: { config: ConnectorConfig }) => {
    const file = opts.config.store.sqliteFile ?? join(opts.config.dataDir, 'connector.sqlite');
    const store = new NotificationStore(file === ':memory:' ? file : resolve(file));
    // The sweep reads the tasks where the engine keeps them (PostgreSQL for a fleet); the outbox stays in the file.
    const tasks = { migrations: migrationTasksOn(app.store.backend), exports: exportTasksOn(app.store.backend) };
    const service = new NotificationService(store, tasks, opts.config.notifications, (msg) => app.log.warn(msg));
    app.decorate('notifications', service);
    app.taskObservers.push(service.observer);
    // Like the engine: on listen, so app.inject() tests never open the database for it.
    app.addHook('onListen', async () => service.start());
    app.addHook('preClose', async () => service.stop());
    // The health probe needs no user session: the connector's own vCenter trust and account, AWS credentials and store.
    const health = new HealthMonitor(
      connectorHealthChecks({ config: opts.config, aws: app.aws, store: app.store }),
      service,
      opts.config.notifications.healthIntervalMs,
      (msg) => app.log.warn(msg),
    );
    app.addHook('onListen', async () => health.start());
    app.addHook('preClose', async () => health.stop());
    app.addHook('onClose', async () => {
      store.close();
      await Promise.all([tasks.migrations.close(), tasks.exports.close()]);
    });
  },
  { name: 'notifications', dependencies: ['engine', 'store', 'aws'] },
);
