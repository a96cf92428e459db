// The return_tasks table (schema step 0011) on both backends: the same answers from SQLite and PostgreSQL for insert,
// save, read, list (newest first, by export, by requester) and by state; one running task per VM name and folder, also
// under parallel inserts, and the name free again once the task ended.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ActiveTaskConflict } from '../../connector/engine/task-store.ts';
import { PgReturnTasks, SqliteReturnTasks, type ReturnRecord, type ReturnTaskRepository } from '../../connector/roundtrip/store.ts';
import { PgDatabase } from '../../connector/store/postgres/database.ts';
import { freshDatabase } from '../support/postgres.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const backends: { name: string; open(): Promise<ReturnTaskRepository> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'vm2ec2-returns-'));
      const repo = new SqliteReturnTasks(join(dir, 'connector.sqlite'));
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
      const db = new PgDatabase({ connectionString: await freshDatabase('returns') });
      await db.migrate();
      cleanups.push(() => db.close());
      return new PgReturnTasks(db);
    },
  },
];

const task = (id: string, over: Partial<ReturnRecord> = {}): Omit<ReturnRecord, 'seq'> => ({
  id,
  state: 'running',
  phase: 'reading-ova',
  environmentId: 'env-a',
  region: 'us-east-1',
  exportId: 'exp-00000000-0000-0000-0000-000000000001',
  instanceId: 'i-0123456789abcdef0',
  bucket: 'export-to-s3-lab-us-east-1',
  s3Key: 'exports/export-i-1.ova',
  name: `vm-${id}`,
  folderId: 'group-v4',
  computeResource: { type: 'ResourcePool', id: 'resgroup-9' },
  datastoreId: 'datastore-12',
  networkMappings: [],
  diskProvisioning: 'thin',
  powerOn: false,
  requestedBy: 'operator@vsphere.local',
  percent: 0,
  bytesUploaded: 0,
  createdAt: '2026-12-04T00:00:00.000Z',
  updatedAt: '2026-12-04T00:00:00.000Z',
  ...over,
});

describe.each(backends)('return tasks ($name)', (backend) => {
  it('records, saves, reads and lists tasks newest first, filtered by export and requester', async () => {
    const repo = await backend.open();
    const a = await repo.insert(task('ret-aaaaaa01'));
    const b = await repo.insert(task('ret-aaaaaa02', { exportId: 'exp-00000000-0000-0000-0000-000000000002', requestedBy: 'administrator@vsphere.local' }));
    expect(b.seq).toBeGreaterThan(a.seq);
    await repo.save({ ...a, phase: 'uploading', percent: 40, bytesUploaded: 400, leaseId: 'session[1]lease-1', vmId: 'vm-70' });
    expect(await repo.get(a.id)).toMatchObject({ phase: 'uploading', percent: 40, leaseId: 'session[1]lease-1', vmId: 'vm-70' });
    expect(await repo.get('ret-missing0')).toBeUndefined();

    const all = await repo.list({ limit: 10, offset: 0 });
    expect([all.items.map((t) => t.id), all.total]).toEqual([[b.id, a.id], 2]);
    expect((await repo.list({ exportId: a.exportId, limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual([a.id]);
    expect((await repo.list({ requestedBy: 'administrator@vsphere.local', limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual([b.id]);
    expect((await repo.list({ limit: 1, offset: 1 })).items.map((t) => t.id)).toEqual([a.id]);

    await repo.save({ ...b, state: 'completed', phase: 'done' });
    expect((await repo.byStates(['running', 'cancelling'])).map((t) => t.id)).toEqual([a.id]);
  });

  it('lets one running task create a VM of a given name in a folder, even under parallel inserts, and frees the name once it ended', async () => {
    const repo = await backend.open();
    const same = { name: 'Web-Back', folderId: 'group-v9' };
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => repo.insert(task(`ret-bbbbbb0${n}`, same))));
    const won = results.filter((r): r is PromiseFulfilledResult<ReturnRecord> => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect(r.reason).toBeInstanceOf(ActiveTaskConflict);
      expect((r.reason as ActiveTaskConflict<ReturnRecord>).holder?.id).toBe(won[0]!.value.id);
    }
    // Names are compared case-insensitively: the conservative reading of vCenter's per-folder names.
    await expect(repo.insert(task('ret-bbbbbb05', { ...same, name: 'web-back' }))).rejects.toBeInstanceOf(ActiveTaskConflict);
    // Another folder is another VM.
    await expect(repo.insert(task('ret-bbbbbb06', { ...same, folderId: 'group-v10' }))).resolves.toMatchObject({ id: 'ret-bbbbbb06' });

    await repo.save({ ...won[0]!.value, state: 'failed', phase: 'done' });
    await expect(repo.insert(task('ret-bbbbbb07', same))).resolves.toMatchObject({ id: 'ret-bbbbbb07' });
  });
});
