import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ConnectorConfig } from '../config.ts';
import type { MigrationEngine } from './engine.ts';
import { createEngine, s3ClientFactory, type EngineVcenterSessions } from './factory.ts';
import { ExportService } from './exports.ts';
import { InstanceService } from './instances.ts';
import type { TaskObserver } from './observer.ts';
import type { MigrationTaskRepository } from './task-store.ts';
import { setRollbackWindow } from './rollback.ts';
import { sweepGoneInstances } from '../vcenter-tasks/instance-sweep.ts';
import { exportTasksOn } from '../store/task-repositories.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The migration engine (durable queue and pipeline). */
    engine: MigrationEngine;
    engineSessions: EngineVcenterSessions;
    /** Observers of every migration and export save (vCenter reporting, notifications): push before listen. */
    taskObservers: TaskObserver[];
    exportsService: ExportService;
    instancesService: InstanceService;
    /** The engine's migration repository (the rollback route claims and records rollbacks through it). */
    migrationTasks: MigrationTaskRepository;
  }
}

/** Builds the engine from configuration, resumes unfinished tasks once the server listens, stops it on close. */
export const enginePlugin = fp(
  async (app: FastifyInstance, opts: { config: ConnectorConfig; sdkUrl: string }) => {
    const awsCreds = opts.config.aws.credentials;
    const vcenterOrigin = new URL(opts.config.vcenter.url).origin;
    // On the store's database: the connector's SQLite file, or the fleet's PostgreSQL (tasks shared by the fleet).
    const exportStore = exportTasksOn(app.store.backend);
    const built = createEngine(
      opts.config,
      {
        vcenter: { sdkUrl: opts.sdkUrl, caPem: opts.config.vcenter.caPem, thumbprint: opts.config.vcenter.thumbprint },
        ec2: (region) => app.aws.ec2(region),
        awsCredentials: awsCreds,
        exportTasks: exportStore,
        store: app.store.backend,
      },
      {
        log: (msg) => app.log.warn(msg),
        bandwidth: app.fleet.bandwidth,
        connectorId: () => app.fleet.connectorId(),
        // Tasks are stamped and claimed by the configured vCenter URL's origin, fixed for the process's whole life and
        // across restarts: the instance UUID the fleet registry learns at a heartbeat (or not, within its 5 s) would
        // strand every task recorded before it was learned, or by a run that did not learn it in time.
        vcenterId: () => vcenterOrigin,
        leaseMs: app.fleet.leaseMs,
      },
    );
    app.decorate('engine', built.engine);
    app.decorate('migrationTasks', built.tasks);
    setRollbackWindow(opts.config.engine.rollbackWindowMs);
    app.decorate(
      'exportsService',
      new ExportService({
        store: exportStore,
        ec2: (r) => app.aws.ec2(r),
        s3: s3ClientFactory(opts.config.engine, awsCreds),
        maxExportsPerRegion: opts.config.engine.maxExportsPerRegion,
        observers: built.observers,
      }),
    );
    app.decorate('instancesService', new InstanceService((r) => app.aws.ec2(r)));
    app.addHook('onClose', async () => exportStore.close());
    app.decorate('engineSessions', built.sessions);
    app.decorate('taskObservers', built.observers);
    const reporter = built.reporter;
    if (reporter) {
      reporter.useEnvironmentNames(async (id) => (await app.store.environments.get(id))?.name);
      // Every 10 minutes: VMs whose instance EC2 no longer has lose their EC2 custom attributes.
      const cleared = new Set<string>();
      const sweep = setInterval(() => {
        void sweepGoneInstances({ migrations: built.tasks, ec2: (r) => app.aws.ec2(r), reporter, session: () => built.sessions.reporting(''), cleared }).catch((err: unknown) =>
          app.log.warn(`vCenter: the sweep for terminated instances failed: ${String(err)}`),
        );
      }, 10 * 60_000);
      sweep.unref();
      app.addHook('preClose', async () => clearInterval(sweep));
    }
    // Resume on listen, not on ready: app.inject() tests never open the task database.
    app.addHook('onListen', async () => built.engine.start());
    app.addHook('preClose', async () => built.close());
  },
  { name: 'engine', dependencies: ['aws', 'store', 'fleet'] },
);
