// The fleet's connectors table on both backends: heartbeat upserts (a restart keeps the id and refreshes the row),
// health from the heartbeat's age against the lease, and the same answers from SQLite and PostgreSQL.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PgConnectorRegistry, SqliteConnectorRegistry, type ConnectorRegistry } from '../../connector/fleet/registry.ts';
import { PgDatabase } from '../../connector/store/postgres/database.ts';
import { freshDatabase } from '../support/postgres.ts';

const LEASE = 30_000;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const backends: { name: string; open(): Promise<ConnectorRegistry> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'vm2ec2-fleet-'));
      const reg = new SqliteConnectorRegistry(join(dir, 'connector.sqlite'), LEASE);
      cleanups.push(async () => {
        await reg.close();
        await rm(dir, { recursive: true, force: true });
      });
      return reg;
    },
  },
  {
    name: 'postgres',
    async open() {
      const db = new PgDatabase({ connectionString: await freshDatabase('fleet') });
      await db.migrate();
      cleanups.push(() => db.close());
      return new PgConnectorRegistry(db, LEASE);
    },
  },
];

const entry = (id: string, over: Partial<{ vcenterId: string; version: string; startedAt: string }> = {}) => ({
  id,
  vcenterId: over.vcenterId ?? 'vc-1',
  version: over.version ?? '1.0.0',
  host: `${id}.example.com`,
  timeZone: 'Europe/Berlin',
  startedAt: over.startedAt ?? '2026-12-03T10:00:00.000Z',
});

describe.each(backends)('connector registry on $name', ({ open }) => {
  it('lists connectors with health from their heartbeat age', async () => {
    const reg = await open();
    const t0 = new Date('2026-12-03T10:00:00.000Z');
    await reg.heartbeat(entry('b-conn'), t0);
    await reg.heartbeat(entry('a-conn', { vcenterId: 'vc-2' }), new Date(t0.getTime() + 10_000));
    const at = new Date(t0.getTime() + 35_000);
    const list = await reg.list(at);
    expect(list.map((c) => [c.id, c.vcenterId, c.health, c.heartbeatAgeMs])).toEqual([
      ['a-conn', 'vc-2', 'alive', 25_000],
      ['b-conn', 'vc-1', 'lost', 35_000],
    ]);
    expect(list[0]).toMatchObject({ version: '1.0.0', host: 'a-conn.example.com', timeZone: 'Europe/Berlin', startedAt: t0.toISOString() });
  });

  it('a heartbeat refreshes the row; a restart with the same id updates version and start time', async () => {
    const reg = await open();
    const t0 = new Date('2026-12-03T10:00:00.000Z');
    await reg.heartbeat(entry('c1'), t0);
    await reg.heartbeat(entry('c1'), new Date(t0.getTime() + 5_000));
    await reg.heartbeat(entry('c1', { version: '1.1.0', startedAt: '2026-12-03T11:00:00.000Z' }), new Date('2026-12-03T11:00:00.000Z'));
    const list = await reg.list(new Date('2026-12-03T11:00:01.000Z'));
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'c1', version: '1.1.0', startedAt: '2026-12-03T11:00:00.000Z', heartbeatAt: '2026-12-03T11:00:00.000Z', health: 'alive', heartbeatAgeMs: 1_000 });
    expect(await reg.get('c1')).toMatchObject({ version: '1.1.0' });
    expect(await reg.get('nobody')).toBeUndefined();
  });

  it('parallel heartbeats of several connectors all land, one row each', async () => {
    const reg = await open();
    const now = new Date();
    await Promise.all(Array.from({ length: 20 }, (_, i) => reg.heartbeat(entry(`p-${String(i).padStart(2, '0')}`), now)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => reg.heartbeat(entry(`p-${String(i).padStart(2, '0')}`), now)));
    const list = await reg.list(now);
    expect(list.map((c) => c.id)).toEqual(Array.from({ length: 20 }, (_, i) => `p-${String(i).padStart(2, '0')}`));
    expect(list.every((c) => c.health === 'alive')).toBe(true);
  });
});
