import { afterEach, describe, expect, it } from 'vitest';
import { ActiveTaskConflict, type ExportRecord, type ExportTaskRepository, type FleetTaskClaims, type MigrationTaskRepository, type RegionSlots } from '../../connector/engine/task-store.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { PgConnectorRegistry, SqliteConnectorRegistry, type ConnectorRegistry } from '../../connector/fleet/registry.ts';
import { exportTasksOn, migrationTasksOn } from '../../connector/store/task-repositories.ts';
import { resumeMarks } from '../../connector/engine/warm/resume.ts';
import type { WarmRecord } from '../../connector/engine/warm/types.ts';
import type { Store } from '../../connector/store/types.ts';
import { BACKENDS, closeAll } from '../support/backends.ts';

// The engine's task repositories on both backends, used as a fleet uses them: several connectors (handles) on one
// database at once. Exclusivity must come from the store, so every race here is run with its calls in flight together.
const at = '2026-01-01T00:00:00.000Z';
function migration(id: string, vmId: string, over: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    id, seq: 0, idKind: 'queued', state: 'queued', phase: 'queued', environmentId: 'env-a', region: 'us-east-1', vmId, platform: 'Linux',
    subnetId: 'subnet-1', instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local', bucket: 'b',
    prefix: `vm2ec2/${id}/`, exportAttempts: 0, disks: [], createdAt: at, updatedAt: at, vcenterId: 'vc-1', ...over,
  };
}
function exportOf(id: string, instanceId: string, over: Partial<ExportRecord> = {}): Omit<ExportRecord, 'seq'> {
  return {
    id, state: 'active', environmentId: 'env-a', region: 'us-east-1', instanceId, exportTaskId: `export-${id}`, bucket: 'b', s3Prefix: '',
    requestedBy: 'administrator@vsphere.local', createdAt: at, updatedAt: at, ...over,
  };
}

type Tasks = MigrationTaskRepository & FleetTaskClaims & RegionSlots;

describe.each(BACKENDS)('task repositories shared by a fleet ($name)', (backend) => {
  let stores: Store[] = [];
  let closers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c.close()));
    await closeAll(stores.splice(0));
  });

  /** `n` connectors on one new database: each with its own migration and export repositories and registry. */
  async function fleet(n: number): Promise<{ tasks: Tasks; exports: ExportTaskRepository; registry: ConnectorRegistry }[]> {
    stores = await backend.openStores(n);
    // The schema steps run on each store's first use.
    for (const s of stores) await s.environments.list();
    return stores.map((s) => {
      const tasks = migrationTasksOn(s.backend);
      const exports = exportTasksOn(s.backend);
      const registry = s.backend.kind === 'postgres' ? new PgConnectorRegistry(s.backend.db, 30_000) : new SqliteConnectorRegistry(s.backend.file, 30_000);
      closers.push(tasks, exports, registry);
      return { tasks, exports, registry };
    });
  }

  it('one active migration per VM when three connectors insert the same VMs at once', async () => {
    const f = await fleet(3);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, vm) => f.map((c, i) => c.tasks.insert(migration(`mig-${vm}-${i}`, `vm-${vm}`)))).flat(),
    );
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(won.map((t) => t.vmId).sort()).toEqual(Array.from({ length: 10 }, (_, vm) => `vm-${vm}`).sort());
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      expect(r.reason).toBeInstanceOf(ActiveTaskConflict);
      const conflict = r.reason as ActiveTaskConflict<MigrationRecord>;
      expect(won.find((t) => t.vmId === conflict.target)?.id).toBe(conflict.holder?.id);
    }
    // Every task got its own number.
    expect(new Set(won.map((t) => t.seq)).size).toBe(10);
    // An ended task frees its VM in the write that ends it.
    const first = won[0]!;
    expect(await f[1]!.tasks.save({ ...first, state: 'failed' })).toBe(true);
    expect((await f[2]!.tasks.insert(migration('mig-again', first.vmId))).id).toBe('mig-again');
  });

  it('the region limit on exports holds when connectors export at once; one export per instance', async () => {
    const f = await fleet(3);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => f[i % 3]!.exports.insert(exportOf(`exp-${i}`, `i-${i}`), 5)));
    const recorded = results.filter((r) => r.status === 'fulfilled' && r.value !== undefined);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(recorded).toHaveLength(5);
    expect(await f[0]!.exports.active()).toHaveLength(5);
    // Another region is not limited by this one; an instance already exporting is a conflict even when its region is full.
    expect((await f[1]!.exports.insert(exportOf('exp-eu', 'i-eu', { region: 'eu-west-1' }), 5))?.id).toBe('exp-eu');
    const holder = (await f[0]!.exports.active())[0]!;
    await expect(f[2]!.exports.insert(exportOf('exp-dup', holder.instanceId), 5)).rejects.toBeInstanceOf(ActiveTaskConflict);
  });

  it('settings compare-and-set: of three connectors setting the same key at once, one wins and the others see its value', async () => {
    const f = await fleet(3);
    const swaps = await Promise.all(f.map((c, i) => c.exports.replaceSettings('bucket', undefined, { bucket: `b-${i}`, 'bucket.by': `c-${i}` }, at)));
    expect(swaps.filter((s) => s.ok)).toHaveLength(1);
    const winner = await f[0]!.exports.getSetting('bucket');
    for (const s of swaps) if (!s.ok) expect(s.current).toBe(winner);
    expect(await f[1]!.exports.getSetting('bucket.by')).toBe(`c-${winner!.slice(2)}`);
    expect((await f[2]!.exports.replaceSettings('bucket', winner, { bucket: 'b-new' }, at)).ok).toBe(true);
    expect(await f[0]!.exports.getSettingRecord('bucket')).toEqual({ value: 'b-new', updatedAt: at });
  });

  it('claimNext: priority first, then FIFO, never before its start window, only its vCenter; claims at once never share a task', async () => {
    const f = await fleet(3);
    const c = f[0]!.tasks;
    await c.insert(migration('low-1', 'vm-1'));
    await c.insert(migration('high-later', 'vm-2', { priority: 5, notBefore: '2026-01-01T01:00:00.000Z' }));
    await c.insert(migration('high-1', 'vm-3', { priority: 5 }));
    await c.insert(migration('low-2', 'vm-4'));
    await c.insert(migration('other-vc', 'vm-5', { vcenterId: 'vc-2', priority: 9 }));
    // The queue's order as the engine reloads it each poll, from the columns.
    expect((await f[1]!.tasks.queuedOrder()).map((q) => [q.id, q.priority, q.notBefore])).toEqual([
      ['low-1', 0, undefined],
      ['high-later', 5, '2026-01-01T01:00:00.000Z'],
      ['high-1', 5, undefined],
      ['low-2', 0, undefined],
      ['other-vc', 9, undefined],
    ]);
    const order: string[] = [];
    for (let t; (t = await c.claimNext('c1', 'vc-1', '2026-01-01T00:30:00.000Z')); ) order.push(t.id);
    expect(order).toEqual(['high-1', 'low-1', 'low-2']);
    // The window opens: the waiting task is next; it is running and owned by the claimer.
    const opened = await f[1]!.tasks.claimNext('c2', 'vc-1', '2026-01-01T01:00:00.000Z');
    expect(opened).toMatchObject({ id: 'high-later', state: 'running', connectorId: 'c2' });
    expect((await c.get('high-later'))?.state).toBe('running');
    expect((await f[2]!.tasks.claimNext('c3', 'vc-2', at))?.id).toBe('other-vc');

    for (let i = 0; i < 30; i++) await c.insert(migration(`q-${i}`, `vm-q-${i}`));
    const claims = await Promise.all(Array.from({ length: 36 }, (_, i) => f[i % 3]!.tasks.claimNext(`c${i % 3}`, 'vc-1', at)));
    const ids = claims.flatMap((t) => (t ? [t.id] : []));
    expect(ids.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `q-${i}`).sort());
  });

  it('saves are owner-checked; a lost connector\'s tasks are taken over by a peer of its vCenter, a live one\'s are not', async () => {
    const f = await fleet(3);
    const [a, b, other] = f as [(typeof f)[0], (typeof f)[0], (typeof f)[0]];
    const now = Date.parse('2026-01-01T00:10:00.000Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    await a.registry.heartbeat({ id: 'c-a', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now - 60_000));
    await b.registry.heartbeat({ id: 'c-b', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now));
    for (let i = 0; i < 4; i++) await a.tasks.insert(migration(`m-${i}`, `vm-${i}`));
    await a.tasks.insert(migration('m-vc2', 'vm-vc2', { vcenterId: 'vc-2' }));
    const mine = [(await a.tasks.claimNext('c-a', 'vc-1', at))!, (await a.tasks.claimNext('c-a', 'vc-1', at))!];
    const bs = (await b.tasks.claimNext('c-b', 'vc-1', at))!;
    await other.tasks.claimNext('c-x', 'vc-2', at);
    mine[0]!.phase = 'exporting';
    expect(await a.tasks.save(mine[0]!)).toBe(true);

    // c-a's heartbeat is a minute old against a 30 s lease: c-b takes its two tasks, not its own live one, not vc-2's.
    const staleBefore = iso(now - 30_000);
    // An adopter with one free slot takes the oldest one only; the other waits for its next free slot.
    const first = await b.tasks.adopt('c-b', 'vc-1', staleBefore, false, 1);
    expect(first.map((t) => t.id)).toEqual([mine[0]!.id]);
    expect(await b.tasks.adopt('c-b', 'vc-1', staleBefore, false, 0)).toEqual([]);
    const taken = [...first, ...(await b.tasks.adopt('c-b', 'vc-1', staleBefore, false))];
    expect(taken.map((t) => t.id)).toEqual([mine[0]!.id, mine[1]!.id]);
    expect(taken[0]).toMatchObject({ phase: 'exporting', connectorId: 'c-b', state: 'running' });
    expect(await other.tasks.adopt('c-c', 'vc-1', staleBefore, false)).toEqual([]);
    // The old owner's writes now change nothing: its run stops.
    expect(await a.tasks.save({ ...mine[0]!, phase: 'uploading' })).toBe(false);
    expect((await other.tasks.get(mine[0]!.id))?.phase).toBe('exporting');
    expect(await b.tasks.save({ ...taken[0]!, phase: 'importing' })).toBe(true);
    // Then c-b is lost too: c-c takes all three.
    await b.registry.heartbeat({ id: 'c-b', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now - 45_000));
    expect((await other.tasks.adopt('c-c', 'vc-1', staleBefore, false)).map((t) => t.id)).toEqual([mine[0]!.id, mine[1]!.id, bs.id]);
    expect((await other.tasks.get(mine[0]!.id))?.phase).toBe('importing');
    // A connector restarting with its id resumes only what it still owns (c-c, which has none, is alive).
    await other.registry.heartbeat({ id: 'c-c', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now));
    expect(await a.tasks.adopt('c-a', 'vc-1', iso(now - 90_000), true)).toEqual([]);
    expect((await other.tasks.adopt('c-c', 'vc-1', iso(now - 90_000), true)).map((t) => t.id)).toEqual([mine[0]!.id, mine[1]!.id, bs.id]);
    // c-c is lost in turn while c-a restarts: a start resumes only c-a's own (none); c-c's come one free slot at a time.
    await other.registry.heartbeat({ id: 'c-c', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now - 60_000));
    await a.registry.heartbeat({ id: 'c-a', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now));
    expect(await a.tasks.adopt('c-a', 'vc-1', staleBefore, true)).toEqual([]);
    expect((await a.tasks.adopt('c-a', 'vc-1', staleBefore, false, 1)).map((t) => t.id)).toEqual([mine[0]!.id]);
  });

  it('a lost connector\'s import-slot holders are taken over first; a waiting task handed back is anyone\'s to take', async () => {
    const f = await fleet(2);
    const [a, b] = f as [(typeof f)[0], (typeof f)[0]];
    const now = Date.parse('2026-01-01T00:10:00.000Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const staleBefore = iso(now - 30_000);
    await a.registry.heartbeat({ id: 'c-a', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now - 60_000));
    await b.registry.heartbeat({ id: 'c-b', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now));
    for (let i = 0; i < 4; i++) await a.tasks.insert(migration(`m-${i}`, `vm-${i}`, { region: i === 3 ? 'eu-west-1' : 'us-west-2' }));
    const onA = [(await a.tasks.claimNext('c-a', 'vc-1', at))!, (await a.tasks.claimNext('c-a', 'vc-1', at))!, (await a.tasks.claimNext('c-a', 'vc-1', at))!];
    const waiter = (await b.tasks.claimNext('c-b', 'vc-1', at))!;
    // c-a's newest task holds us-west-2's import slot; its older ones hold none.
    expect(await a.tasks.takeSlot('import', 'us-west-2', onA[2]!.id, onA[2]!.id, 1, at)).toBe(true);
    expect(await b.tasks.lostImportRegions('c-b', 'vc-1', staleBefore)).toEqual(['us-west-2']);
    // While c-a is alive (a fresh heartbeat) its slots are not a lost peer's.
    expect(await b.tasks.lostImportRegions('c-b', 'vc-1', iso(now - 90_000))).toEqual([]);

    // c-b takes the slot holder first, then the oldest.
    expect((await b.tasks.adopt('c-b', 'vc-1', staleBefore, false, 1)).map((t) => t.id)).toEqual([onA[2]!.id]);
    expect(await b.tasks.lostImportRegions('c-b', 'vc-1', staleBefore)).toEqual([]);
    expect((await b.tasks.adopt('c-b', 'vc-1', staleBefore, false, 1)).map((t) => t.id)).toEqual([onA[0]!.id]);

    // c-b hands its waiting task back: unowned and still running at its step; only its owner could do so.
    expect(await a.tasks.release(waiter.id, 'c-a')).toBe(false);
    expect(await b.tasks.release(waiter.id, 'c-b')).toBe(true);
    expect(await b.tasks.release(waiter.id, 'c-b')).toBe(false);
    const handedBack = (await a.tasks.get(waiter.id))!;
    expect(handedBack.state).toBe('running');
    expect(handedBack.connectorId).toBeUndefined();
    // Whoever has a free slot next takes it over (c-a, back with a fresh heartbeat: its own m-1 is not a takeover).
    const next = await a.tasks.adopt('c-a', 'vc-1', iso(now - 90_000), false);
    expect(next.map((t) => t.id)).toEqual([waiter.id]);
    expect(next.find((t) => t.id === waiter.id)?.connectorId).toBe('c-a');
  });

  it('adoptOrClaim: a lost connector\'s running task (slot holders first) before any queued one, then the queue; never one task twice', async () => {
    const f = await fleet(3);
    const [a, b, c] = f as [(typeof f)[0], (typeof f)[0], (typeof f)[0]];
    const now = Date.parse('2026-01-01T00:10:00.000Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const staleBefore = iso(now - 30_000);
    await a.registry.heartbeat({ id: 'c-a', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now - 60_000));
    await b.registry.heartbeat({ id: 'c-b', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now));
    await c.registry.heartbeat({ id: 'c-c', vcenterId: 'vc-1', version: '1', host: 'h', timeZone: 'UTC', startedAt: at }, new Date(now));
    for (let i = 0; i < 3; i++) await a.tasks.insert(migration(`m-${i}`, `vm-${i}`));
    const onA = [(await a.tasks.claimNext('c-a', 'vc-1', at))!, (await a.tasks.claimNext('c-a', 'vc-1', at))!];
    expect(await a.tasks.takeSlot('import', 'us-east-1', onA[1]!.id, onA[1]!.id, 5, at)).toBe(true);
    // The last one waits in the queue, with a high priority and its window open: the lost peer's tasks still come first.
    await a.tasks.insert(migration('m-urgent', 'vm-urgent', { priority: 9 }));
    const first = await b.tasks.adoptOrClaim('c-b', 'vc-1', staleBefore, at);
    expect(first).toEqual({ adopted: true, task: expect.objectContaining({ id: onA[1]!.id, state: 'running', connectorId: 'c-b' }) });
    expect((await b.tasks.get('m-urgent'))?.state).toBe('queued');
    expect(await c.tasks.adoptOrClaim('c-c', 'vc-1', staleBefore, at)).toEqual({ adopted: true, task: expect.objectContaining({ id: onA[0]!.id, connectorId: 'c-c' }) });
    // Nothing lost any more: the queue, by priority; a live peer's running tasks are not taken.
    expect(await b.tasks.adoptOrClaim('c-b', 'vc-1', staleBefore, at)).toEqual({ adopted: false, task: expect.objectContaining({ id: 'm-urgent', state: 'running', connectorId: 'c-b' }) });
    expect((await c.tasks.get(onA[0]!.id))?.connectorId).toBe('c-c');

    // Connectors asking at once: each task goes to one of them (the handed-back one as a takeover), as stored.
    await b.tasks.release(onA[1]!.id, 'c-b');
    for (let i = 3; i < 9; i++) await a.tasks.insert(migration(`m-${i}`, `vm-${i}`));
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) => f[1 + (i % 2)]!.tasks.adoptOrClaim(`c-${i % 2 ? 'c' : 'b'}`, 'vc-1', staleBefore, at)));
    const taken = got.flatMap((g) => (g ? [g] : []));
    expect(taken.map((g) => g.task.id).sort()).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6', 'm-7', 'm-8']);
    expect(taken.filter((g) => g.adopted).map((g) => g.task.id)).toEqual(['m-1']);
    for (const g of taken) expect((await a.tasks.get(g.task.id))?.connectorId).toBe(g.task.connectorId);
    expect(await b.tasks.adoptOrClaim('c-b', 'vc-1', staleBefore, at)).toBeUndefined();
  });

  it('a cancel asked on a peer waits for the task\'s owner, and ends once the owner records it', async () => {
    const f = await fleet(2);
    await f[0]!.tasks.insert(migration('m-1', 'vm-1'));
    const t = (await f[0]!.tasks.claimNext('c-a', 'vc-1', at))!;
    expect(await f[1]!.tasks.requestCancel('m-1', 'operator@vsphere.local', at)).toBe(true);
    expect(await f[1]!.tasks.cancelRequests('c-b')).toEqual([]);
    expect(await f[0]!.tasks.cancelRequests('c-a')).toEqual([{ id: 'm-1', by: 'operator@vsphere.local', at }]);
    expect(await f[0]!.tasks.save({ ...t, state: 'cancelling' })).toBe(true);
    expect(await f[0]!.tasks.cancelRequests('c-a')).toEqual([]);
    expect(await f[0]!.tasks.save({ ...t, state: 'cancelled' })).toBe(true);
    expect(await f[1]!.tasks.requestCancel('m-1', 'operator@vsphere.local', at)).toBe(false);
    // A queued task's cancel (its requester stopped before recording it) goes to whoever claims it.
    await f[0]!.tasks.insert(migration('m-2', 'vm-2'));
    await f[1]!.tasks.requestCancel('m-2', 'operator@vsphere.local', at);
    expect((await f[0]!.tasks.claimNext('c-a', 'vc-1', at))?.id).toBe('m-2');
    expect(await f[0]!.tasks.cancelRequests('c-a')).toEqual([{ id: 'm-2', by: 'operator@vsphere.local', at }]);
  });

  it('import slots: at most 5 per region across connectors taking them at once; a task keeps its slot when taken over', async () => {
    const f = await fleet(3);
    for (let i = 0; i < 12; i++) await f[0]!.tasks.insert(migration(`m-${i}`, `vm-${i}`, { state: 'running', phase: 'importing', connectorId: `c${i % 3}` }));
    const took = await Promise.all(Array.from({ length: 12 }, (_, i) => f[i % 3]!.tasks.takeSlot('import', 'us-east-1', `m-${i}`, `m-${i}`, 5, at)));
    expect(took.filter(Boolean)).toHaveLength(5);
    expect(await f[1]!.tasks.slotsHeld('import', 'us-east-1')).toBe(5);
    const holder = took.indexOf(true);
    // Whoever runs the task now (a peer after a takeover) finds its slot held; another region is counted apart.
    expect(await f[(holder + 1) % 3]!.tasks.takeSlot('import', 'us-east-1', `m-${holder}`, `m-${holder}`, 5, at)).toBe(true);
    const waiting = took.indexOf(false);
    expect(await f[2]!.tasks.takeSlot('import', 'us-east-1', `m-${waiting}`, `m-${waiting}`, 5, at)).toBe(false);
    expect(await f[2]!.tasks.takeSlot('import', 'eu-west-1', `m-${waiting}`, `m-${waiting}`, 5, at)).toBe(true);
    await f[2]!.tasks.releaseSlot('import', `m-${waiting}`);
    // A released slot, or one whose task ended without releasing it, is free for the next import.
    await f[0]!.tasks.releaseSlot('import', `m-${holder}`);
    expect(await f[2]!.tasks.takeSlot('import', 'us-east-1', `m-${waiting}`, `m-${waiting}`, 5, at)).toBe(true);
    const other = took.findIndex((t, i) => t && i !== holder);
    expect(await f[0]!.tasks.save({ ...(await f[0]!.tasks.get(`m-${other}`))!, state: 'failed' })).toBe(true);
    const next = took.findIndex((t, i) => !t && i !== waiting);
    expect(await f[1]!.tasks.takeSlot('import', 'us-east-1', `m-${next}`, `m-${next}`, 5, at)).toBe(true);
    expect(await f[1]!.tasks.slotsHeld('import', 'us-east-1')).toBe(5);
  });

  it('Resume replication marks: one of three connectors claims a resume; a release only of an unmarked point; a claim undone restores it', async () => {
    const f = await fleet(3);
    const marks = f.map((c) => resumeMarks(c.tasks)!);
    await f[0]!.tasks.insert(migration('mig-r', 'vm-r', { state: 'completed', phase: 'done', mode: 'warm' }));
    await f[0]!.tasks.insert(migration('mig-run', 'vm-s', { state: 'running', phase: 'replicating', mode: 'warm' }));
    const claims = await Promise.all(marks.map((m, i) => m.markResume('mig-r', { state: 'resuming', by: `u${i}`, at }, [null, 'released'])));
    expect(claims.filter(Boolean)).toHaveLength(1);
    const by = (await f[1]!.tasks.get('mig-r'))!.resume!.by;
    expect(by).toBe(`u${claims.indexOf(true)}`);
    // A release needs an unmarked point; a second resume is refused.
    expect(await marks[1]!.markResume('mig-r', { state: 'released', at }, [null])).toBe(false);
    expect(await marks[2]!.markResume('mig-r', { state: 'resuming', by: 'late', at }, [null, 'released'])).toBe(false);
    // The new task could not be recorded: the claim is undone (null removes the mark), then the point is released once.
    expect(await marks[0]!.markResume('mig-r', null, ['resuming'])).toBe(true);
    expect((await f[2]!.tasks.get('mig-r'))!.resume).toBeUndefined();
    const releases = await Promise.all(marks.map((m) => m.markResume('mig-r', { state: 'released', at }, [null])));
    expect(releases.filter(Boolean)).toHaveLength(1);
    // A released point can still be resumed (with a full sync), then recorded as resumed.
    expect(await marks[1]!.markResume('mig-r', { state: 'resuming', by: 'u1', at }, [null, 'released'])).toBe(true);
    expect(await marks[1]!.markResume('mig-r', { state: 'resumed', by: 'u1', at, migrationId: 'mig-new' }, ['resuming'])).toBe(true);
    expect((await f[0]!.tasks.get('mig-r'))!.resume).toEqual({ state: 'resumed', by: 'u1', at, migrationId: 'mig-new' });
    // Only completed migrations carry marks.
    expect(await marks[0]!.markResume('mig-run', { state: 'released', at }, [null])).toBe(false);
  });

  it('the release sweep reads only kept, unmarked warm points whose window closed', async () => {
    const f = await fleet(2);
    const marks = resumeMarks(f[1]!.tasks)!;
    const kept: WarmRecord = { intervalMinutes: 60, shutdown: 'guest', disks: [], cycles: 3, supersededSnapshots: [], pointKept: true };
    const done = (over: Partial<MigrationRecord>): Partial<MigrationRecord> => ({ state: 'completed', phase: 'done', finishedAt: at, ...over });
    await f[0]!.tasks.insert(migration('due', 'vm-1', done({ mode: 'warm', warm: kept })));
    await f[0]!.tasks.insert(migration('cold', 'vm-2', done({})));
    await f[0]!.tasks.insert(migration('released', 'vm-3', done({ mode: 'warm', warm: kept, resume: { state: 'released', at } })));
    await f[0]!.tasks.insert(migration('resumed', 'vm-4', done({ mode: 'warm', warm: kept, resume: { state: 'resumed', at, migrationId: 'x' } })));
    await f[0]!.tasks.insert(migration('not-kept', 'vm-5', done({ mode: 'warm', warm: { ...kept, pointKept: false } })));
    await f[0]!.tasks.insert(migration('window-open', 'vm-6', done({ mode: 'warm', warm: kept, finishedAt: '2026-01-01T00:00:00.001Z' })));
    await f[0]!.tasks.insert(migration('running', 'vm-7', { state: 'running', phase: 'replicating', mode: 'warm', warm: kept }));
    expect((await marks.keptPointsDue(at)).map((t) => t.id)).toEqual(['due']);
    expect((await marks.keptPointsDue('2026-01-01T00:00:00.001Z')).map((t) => t.id)).toEqual(['due', 'window-open']);
    // A claim undone (the row rewritten by the database's own JSON functions) leaves the point due.
    expect(await marks.markResume('due', { state: 'resuming', by: 'u', at }, [null])).toBe(true);
    expect(await marks.keptPointsDue(at)).toEqual([]);
    expect(await marks.markResume('due', null, ['resuming'])).toBe(true);
    expect((await marks.keptPointsDue(at)).map((t) => t.id)).toEqual(['due']);
    // Once released, a point is not read again.
    expect(await marks.markResume('due', { state: 'released', at }, [null])).toBe(true);
    expect((await marks.keptPointsDue('2027-01-01T00:00:00.000Z')).map((t) => t.id)).toEqual(['window-open']);
  });
});
