import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrationList, MigrationTask } from '../../connector/contract/index.ts';
import { pageJson, taskJson, type TaskJsonSource } from '../../connector/engine/task-json.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { taskView, viewIsSettled } from '../../connector/engine/task-view.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';

// The polled routes' kept JSON (engine/task-json.ts) must never be older than the table or the engine's memory.
const T0 = Date.UTC(2026, 0, 1);
const disk = (bytesUploaded: number, throughputBps: number) =>
  ({ key: 'disk-0', capacityBytes: 100, expectedBytes: 100, bytesUploaded, throughputBps, done: bytesUploaded === 100, url: 'https://esx.invalid/nfc/disk-0.vmdk', s3Key: 'vm2ec2/disk-0.vmdk' });
function task(i: number, over: Partial<MigrationRecord> = {}): MigrationRecord {
  const at = new Date(T0 + i * 1000).toISOString();
  return {
    id: `mig-${i}`, seq: 0, idKind: 'import', state: 'completed', phase: 'done', environmentId: 'env-a', region: 'us-east-1', vmId: `vm-${i}`,
    platform: 'Linux', subnetId: 'subnet-1', instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local',
    bucket: 'b', prefix: `vm2ec2/mig-${i}/`, exportAttempts: 1,
    disks: [disk(100, 0)],
    createdAt: at, startedAt: at, updatedAt: at, finishedAt: at, ...over,
  };
}

/** What the engine lends: its clock and in-memory (running) records; counts the views it builds. */
function source(live = new Map<string, MigrationRecord>()) {
  return {
    now: new Date(T0 + 3_600_000),
    built: 0,
    live: (id: string) => live.get(id),
    view(t: MigrationRecord) {
      this.built++;
      return taskView(t, this.now, undefined);
    },
  } satisfies TaskJsonSource & { now: Date; built: number };
}
const parsed = (body: Buffer) => MigrationList.parse(JSON.parse(body.toString('utf8')));
const page = { environmentId: 'env-a', limit: 50, offset: 0 };

describe('kept JSON of polled task lists', () => {
  let dir: string;
  let a: SqliteMigrationTasks;
  let b: SqliteMigrationTasks;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vm2ec2-task-json-'));
    a = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
    b = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serialises a page of ended tasks once, and again after any write to the table', async () => {
    for (let i = 1; i <= 3; i++) await a.insert(task(i));
    const src = source();
    const first = pageJson(await a.list(page), src);
    expect(src.built).toBe(3);
    expect(pageJson(await a.list(page), src)).toBe(first);
    expect(src.built).toBe(3);
    expect(parsed(first).items.map((t) => t.id)).toEqual(['mig-3', 'mig-2', 'mig-1']);

    // Another connection (another connector process, a CLI) changes one row: only that task is serialised again.
    await b.save({ ...(await b.get('mig-2'))!, error: 'EC2 import failed', state: 'failed' });
    const second = parsed(pageJson(await a.list(page), src));
    expect(second.items[1]).toMatchObject({ id: 'mig-2', state: 'failed', error: 'EC2 import failed' });
    expect(src.built).toBe(4);

    // A write through the same connection, and an insert.
    await a.save({ ...(await a.get('mig-1'))!, vmName: 'renamed' });
    await a.insert(task(4));
    const third = parsed(pageJson(await a.list(page), src));
    expect(third.total).toBe(4);
    expect(third.items.map((t) => [t.id, t.vmName])).toEqual([['mig-4', undefined], ['mig-3', undefined], ['mig-2', undefined], ['mig-1', 'renamed']]);
  });

  it('builds a moving task from the engine’s memory on every poll, and keeps the ended ones around it', async () => {
    await a.insert(task(1));
    const running = task(2, { state: 'running', phase: 'uploading', finishedAt: undefined, disks: [disk(10, 5)] });
    await a.insert(running);
    const memory = { ...running, disks: [{ ...running.disks[0]!, bytesUploaded: 60 }] };
    const src = source(new Map([[memory.id, memory]]));
    const one = parsed(pageJson(await a.list(page), src));
    expect(one.items[0]).toMatchObject({ id: 'mig-2', percent: 30, etaSeconds: 8 });
    memory.disks[0]!.bytesUploaded = 90;
    const two = parsed(pageJson(await a.list(page), src));
    expect(two.items[0]).toMatchObject({ id: 'mig-2', percent: 45, etaSeconds: 2 });
    // The ended task was serialised once; the running one at each poll.
    expect(src.built).toBe(3);
    expect(two.items[1]).toEqual(one.items[1]);
  });

  it('counts a warm task’s replication lag to the poll, never from a kept body', async () => {
    const warm = task(1, {
      state: 'running', phase: 'replicating', mode: 'warm', finishedAt: undefined, disks: [],
      warm: { intervalMinutes: 30, shutdown: 'user', disks: [], cycles: 2, lastSyncAt: new Date(T0).toISOString(), supersededSnapshots: [] },
    });
    await a.insert(warm);
    const src = source();
    const lag = async () => parsed(pageJson(await a.list(page), src)).items[0]!.warm!.lagSeconds;
    expect(await lag()).toBe(3600);
    src.now = new Date(T0 + 3_660_000);
    expect(await lag()).toBe(3660);
  });

  it('serves one task from the shared record while its row is unchanged', async () => {
    await a.insert(task(1));
    const src = source();
    const text = taskJson((await a.peek('mig-1'))!, src, true);
    expect(await a.peek('mig-1')).toBe(await a.peek('mig-1'));
    expect(taskJson((await a.peek('mig-1'))!, src, true)).toBe(text);
    expect(src.built).toBe(1);
    await b.save({ ...(await b.get('mig-1'))!, state: 'cancelled', cancelledBy: 'administrator@vsphere.local' });
    expect(MigrationTask.parse(JSON.parse(taskJson((await a.peek('mig-1'))!, src, true)))).toMatchObject({ state: 'cancelled', cancelledBy: 'administrator@vsphere.local' });
    await a.save({ ...(await a.get('mig-1'))!, vmName: 'renamed' });
    expect(JSON.parse(taskJson((await a.peek('mig-1'))!, src, true))).toMatchObject({ state: 'cancelled', vmName: 'renamed' });
    // A record that is not shared (get() hands out one to mutate) is never kept.
    const own = (await a.get('mig-1'))!;
    taskJson(own, src, false);
    own.vmName = 'changed';
    expect(JSON.parse(taskJson(own, src, false))).toMatchObject({ vmName: 'changed' });
  });

  it('limits a list to the given environments in the query itself', async () => {
    await a.insert(task(1));
    await a.insert(task(2, { environmentId: 'env-b' }));
    await a.insert(task(3, { environmentId: 'env-c' }));
    expect(await a.list({ environmentIds: ['env-a', 'env-c'], limit: 1, offset: 0 })).toMatchObject({ total: 2, items: [{ id: 'mig-3' }] });
    expect(await a.list({ environmentIds: [], limit: 10, offset: 0 })).toEqual({ total: 0, items: [] });
  });

  it('treats as settled only views that no longer change with the clock', () => {
    const ended = [
      task(1),
      task(2, { state: 'failed', phase: 'importing', importProgress: 40, importEtaSeconds: 100, importProgressAt: new Date(T0).toISOString(), error: 'x' }),
      task(3, { state: 'cancelled', phase: 'uploading', disks: [disk(50, 3)] }),
      task(4, { mode: 'warm', warm: { intervalMinutes: 30, shutdown: 'guest', disks: [], cycles: 3, lastSyncAt: new Date(T0).toISOString(), nextCycleAt: new Date(T0 + 60_000).toISOString(), supersededSnapshots: [] } }),
    ];
    for (const t of ended) {
      expect(viewIsSettled(t)).toBe(true);
      expect(taskView(t, new Date(T0 + 1_000), undefined)).toEqual(taskView(t, new Date(T0 + 9_000_000), undefined));
    }
    // A cycle left on an ended warm task still counts its throughput to the clock: not settled.
    const cycle = { n: 3, full: false, startedAt: new Date(T0).toISOString(), disks: [{ deviceKey: 2000, fromChangeId: '1', clientToken: 't', nextBlock: 0, changedBlocks: 4, blocksWritten: 1, changedBytes: 1, sentBytes: 524288, done: false }] };
    expect(viewIsSettled({ ...ended[3]!, warm: { ...ended[3]!.warm!, cycle } })).toBe(false);
    expect(viewIsSettled(task(5, { state: 'running' }))).toBe(false);
  });
});
