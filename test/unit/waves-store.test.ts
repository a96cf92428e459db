// The waves table (schema step 0009) on both backends: the same answers from SQLite and PostgreSQL for insert, read,
// list (newest first, by environment), the once-only cancel and start-window sweep claims, and undo of a failed create.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../connector/store/postgres/database.ts';
import { PgWaves, SqliteWaves, type WaveRecord, type WaveRepository } from '../../connector/waves/store.ts';
import { freshDatabase } from '../support/postgres.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const backends: { name: string; open(): Promise<WaveRepository> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'vm2ec2-waves-'));
      const file = join(dir, 'connector.sqlite');
      const repo = new SqliteWaves(file);
      cleanups.push(async () => {
        await repo.close();
        await rm(dir, { recursive: true, force: true });
      });
      return repo;
    },
  },
  {
    name: 'postgres',
    async open() {
      const db = new PgDatabase({ connectionString: await freshDatabase('waves') });
      await db.migrate();
      cleanups.push(() => db.close());
      return new PgWaves(db);
    },
  },
];

const wave = (id: string, over: Partial<WaveRecord> = {}): WaveRecord => ({
  id,
  name: `Wave ${id}`,
  priority: 10,
  environmentId: 'env-a',
  mode: 'cold',
  createdBy: 'operator@vsphere.local',
  createdAt: '2026-12-03T10:00:00.000Z',
  tasks: [
    { id: `mig-${id}-1`, vmId: 'vm-1', vmName: 'web-01', diskBytes: 1024 },
    { id: `mig-${id}-2`, vmId: 'vm-2', vmName: 'db-01', diskBytes: 2048 },
  ],
  ...over,
});

describe.each(backends)('waves on $name', ({ open }) => {
  it('stores a wave and reads it back as written, window included', async () => {
    const repo = await open();
    const w = wave('wav-aaaaaa', { notBefore: '2026-12-04T21:00:00.000Z', notAfter: '2026-12-05T05:00:00.000Z', priority: 100, mode: 'warm' });
    await repo.insert(w);
    expect(await repo.get(w.id)).toEqual(w);
    expect(await repo.get('wav-missing')).toBeUndefined();
  });

  it('lists newest first, filtered by environment or a set of them, with the total', async () => {
    const repo = await open();
    await repo.insert(wave('wav-000001', { createdAt: '2026-12-03T10:00:00.000Z', environmentId: 'env-a' }));
    await repo.insert(wave('wav-000002', { createdAt: '2026-12-03T11:00:00.000Z', environmentId: 'env-b' }));
    await repo.insert(wave('wav-000003', { createdAt: '2026-12-03T12:00:00.000Z', environmentId: 'env-a' }));
    const all = await repo.list({ limit: 2, offset: 0 });
    expect([all.items.map((w) => w.id), all.total]).toEqual([['wav-000003', 'wav-000002'], 3]);
    expect((await repo.list({ limit: 10, offset: 2 })).items.map((w) => w.id)).toEqual(['wav-000001']);
    expect((await repo.list({ environmentId: 'env-a', limit: 10, offset: 0 })).items.map((w) => w.id)).toEqual(['wav-000003', 'wav-000001']);
    expect((await repo.list({ environmentIds: ['env-b'], limit: 10, offset: 0 })).total).toBe(1);
    expect(await repo.list({ environmentIds: [], limit: 10, offset: 0 })).toEqual({ items: [], total: 0 });
  });

  it('records the first cancel only', async () => {
    const repo = await open();
    await repo.insert(wave('wav-cancel'));
    const first = await repo.markCancelled('wav-cancel', 'operator@vsphere.local', '2026-12-03T10:05:00.000Z');
    const second = await repo.markCancelled('wav-cancel', 'administrator@vsphere.local', '2026-12-03T10:06:00.000Z');
    expect([first?.cancelledBy, first?.cancelledAt]).toEqual(['operator@vsphere.local', '2026-12-03T10:05:00.000Z']);
    expect(second).toEqual(first);
  });

  it('finds waves whose start window closed, and lets exactly one sweeper claim each', async () => {
    const repo = await open();
    await repo.insert(wave('wav-closed', { notAfter: '2026-12-03T10:00:00.000Z' }));
    await repo.insert(wave('wav-later', { notAfter: '2026-12-03T12:00:00.000Z' }));
    await repo.insert(wave('wav-nowindow'));
    expect((await repo.windowsClosedBy('2026-12-03T11:00:00.000Z')).map((w) => w.id)).toEqual(['wav-closed']);
    const at = ['2026-12-03T11:00:00.000Z', '2026-12-03T11:00:01.000Z'];
    const claims = await Promise.all(at.map((when) => repo.markWindowClosed('wav-closed', when)));
    expect([...claims].sort()).toEqual([false, true]);
    expect(await repo.windowsClosedBy('2026-12-03T11:00:00.000Z')).toEqual([]);
    // Whichever sweeper won (the two statements race on PostgreSQL), its time is the one recorded.
    expect((await repo.get('wav-closed'))?.windowClosedAt).toBe(at[claims.indexOf(true)]);
  });

  it('deletes a wave whose creation was undone', async () => {
    const repo = await open();
    await repo.insert(wave('wav-undone'));
    await repo.delete('wav-undone');
    expect(await repo.get('wav-undone')).toBeUndefined();
  });
});
