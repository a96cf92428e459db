// Two connectors on one PostgreSQL store (issue 14): each heartbeats into the shared connectors table while it listens,
// each lists both as alive, and one that stops is listed as lost by its peer once its heartbeat is older than the lease;
// the bandwidth cap one connector saves is read by the other within its refresh.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectorConfig } from '../../connector/config.ts';
import { fleetPlugin } from '../../connector/fleet/plugin.ts';
import { writeBandwidth } from '../../connector/bandwidth/setting.ts';
import { PgStore } from '../../connector/store/index.ts';
import { storePlugin } from '../../connector/store/plugin.ts';
import { freshDatabase } from '../support/postgres.ts';

const apps: FastifyInstance[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const a of apps) await a.close().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function connector(url: string, id: string): Promise<FastifyInstance> {
  const dataDir = await mkdtemp(join(tmpdir(), `vm2ec2-fleet-${id}-`));
  dirs.push(dataDir);
  const config = ConnectorConfig.parse({ dataDir, vcenter: { url: 'https://vc-a.example.com' }, fleet: { connectorId: id, heartbeatMs: 100, leaseMs: 500 } });
  const app = Fastify();
  await app.register(storePlugin, { store: PgStore.create({ connectionString: url }, { defaultRegion: 'us-east-1' }) });
  await app.register(fleetPlugin, { config });
  await app.listen({ host: '127.0.0.1', port: 0 });
  apps.push(app);
  return app;
}

const until = async (what: () => Promise<boolean>, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await what()) return;
};

describe('fleet heartbeats on a shared PostgreSQL store', { timeout: 60_000 }, () => {
  it('both connectors are listed alive; a stopped one is lost after the lease; a cap saved by one reaches the other', async () => {
    const url = await freshDatabase('fleethb');
    const a = await connector(url, 'conn-a');
    const b = await connector(url, 'conn-b');
    const health = async (app: FastifyInstance) => Object.fromEntries((await app.fleet.registry.list(new Date())).map((c) => [c.id, c.health]));
    await until(async () => Object.keys(await health(a)).length === 2, 5_000);
    expect(await health(a)).toEqual({ 'conn-a': 'alive', 'conn-b': 'alive' });
    expect(await health(b)).toEqual({ 'conn-a': 'alive', 'conn-b': 'alive' });
    expect((await a.fleet.registry.get('conn-b'))?.vcenterId).toBe('https://vc-a.example.com');

    // A cap set for conn-b (through any connector) is what conn-b's own limiter enforces after its next read.
    await writeBandwidth(a.store.settings, 'conn-b', { capMBps: 7, schedule: [] }, 'administrator@vsphere.local', new Date());
    await b.fleet.bandwidth.refresh();
    expect(b.fleet.bandwidth.capMBps()).toBe(7);
    expect(a.fleet.bandwidth.capMBps()).toBeNull();

    await b.close();
    apps.splice(apps.indexOf(b), 1);
    await until(async () => (await health(a))['conn-b'] === 'lost', 5_000);
    expect(await health(a)).toEqual({ 'conn-a': 'alive', 'conn-b': 'lost' });
  });
});
