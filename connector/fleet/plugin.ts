// This connector as a member of its fleet: its id, its row in the connectors table (heartbeat every fleet.heartbeatMs
// while the server listens) and its bandwidth cap. The engine draws its disk copies through `fleet.bandwidth`.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ConnectorConfig } from '../config.ts';
import { CONNECTOR_VERSION } from '../doctor/version.ts';
import { BandwidthLimiter } from '../bandwidth/limiter.ts';
import { localTimeZone } from '../bandwidth/schedule.ts';
import type { Store } from '../store/index.ts';
import { connectorIdentity } from './identity.ts';
import { PgConnectorRegistry, SqliteConnectorRegistry, type ConnectorEntry, type ConnectorRegistry } from './registry.ts';

export interface Fleet {
  /** This connector's id (read or created in the data dir on first use). */
  connectorId(): Promise<string>;
  readonly registry: ConnectorRegistry;
  readonly bandwidth: BandwidthLimiter;
  readonly leaseMs: number;
  readonly timeZone: string;
  /** The vCenter this connector serves: its about.instanceUuid once vCenter has answered, the configured URL's origin before. */
  vcenterId(): string;
  /** Overrides the vCenter id (e.g. the engine's own reading of it). */
  setVcenterId(id: string): void;
  /** Writes this connector's heartbeat now. */
  heartbeat(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    fleet: Fleet;
  }
}

/** The registry on the store's own database: PostgreSQL when the store is, else the SQLite file. */
export function openRegistry(store: Store, config: ConnectorConfig): ConnectorRegistry {
  const { backend } = store;
  if (backend.kind === 'postgres') return new PgConnectorRegistry(backend.db, config.fleet.leaseMs);
  return new SqliteConnectorRegistry(backend.file === ':memory:' ? backend.file : resolve(backend.file), config.fleet.leaseMs);
}

export const fleetPlugin = fp(
  async (app: FastifyInstance, opts: { config: ConnectorConfig; registry?: ConnectorRegistry; now?: () => Date; instanceUuid?: () => Promise<string> }) => {
    const { config } = opts;
    const now = opts.now ?? (() => new Date());
    const registry = opts.registry ?? openRegistry(app.store, config);
    const timeZone = localTimeZone();
    let id: Promise<string> | undefined;
    const connectorId = (): Promise<string> => (id ??= connectorIdentity({ dataDir: config.dataDir, connectorId: config.fleet.connectorId }));
    let vcenterId = new URL(config.vcenter.url).origin;
    // Read from vCenter at a heartbeat until it answers; an unreachable vCenter must not stop the heartbeat.
    let uuidKnown = !opts.instanceUuid;
    const learnVcenterId = async (): Promise<void> => {
      if (uuidKnown) return;
      let timer: NodeJS.Timeout | undefined;
      const uuid = await Promise.race([
        opts.instanceUuid!().catch(() => undefined),
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), Math.min(5_000, config.fleet.heartbeatMs));
        }),
      ]).finally(() => clearTimeout(timer));
      if (uuid && !uuidKnown) {
        vcenterId = uuid;
        uuidKnown = true;
      }
    };
    const startedAt = now().toISOString();
    const bandwidth = new BandwidthLimiter({ settings: app.store.settings, connectorId, timeZone, now, log: (m) => app.log.warn(m) });
    const entry = async (): Promise<ConnectorEntry> => ({ id: await connectorId(), vcenterId, version: CONNECTOR_VERSION, host: hostname(), timeZone, startedAt });
    const heartbeat = async (): Promise<void> => {
      await learnVcenterId();
      await registry.heartbeat(await entry(), now());
    };
    app.decorate('fleet', {
      connectorId,
      registry,
      bandwidth,
      leaseMs: config.fleet.leaseMs,
      timeZone,
      vcenterId: () => vcenterId,
      setVcenterId: (v: string) => {
        vcenterId = v;
        uuidKnown = true;
      },
      heartbeat,
    });

    let timer: NodeJS.Timeout | undefined;
    // On listen, not on ready: app.inject() tests build the app without joining a fleet.
    app.addHook('onListen', async () => {
      await heartbeat();
      await bandwidth.start();
      timer = setInterval(() => {
        heartbeat().catch((err: unknown) => app.log.warn(`fleet: the heartbeat of this connector failed: ${String(err)}`));
      }, config.fleet.heartbeatMs);
      timer.unref();
    });
    app.addHook('preClose', async () => {
      clearInterval(timer);
      bandwidth.stop();
    });
    app.addHook('onClose', async () => registry.close());
  },
  { name: 'fleet', dependencies: ['store'] },
);
