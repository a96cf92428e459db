// Scheduling: at most 4 migrations running per connector, FIFO queue with visible positions, and a per-region cap
// on active EC2 imports; a queued migration can be cancelled before it starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

let lab: EngineLab;
// A VM has one active migration at a time: ten small VMs for ten at once.
const VMS = Array.from({ length: 10 }, (_, i) => `sched-${String(i + 1).padStart(2, '0')}`);

beforeAll(async () => {
  lab = await startEngineLab({
    stageMs: 40,
    engine: { maxRunning: 4, maxImportsPerRegion: 2 },
    vms: VMS.map((name, i) => ({ name, disks: [{ capacityMiB: 64, seed: 40 + i }] })),
  });
});
afterAll(async () => {
  await lab?.stop();
});

describe('scheduler', { timeout: 300_000 }, () => {
  it('runs at most 4 at once, queues the rest in FIFO order with moving positions, and keeps 2 imports per region', async () => {
    const accepted: Awaited<ReturnType<typeof lab.engine.submit>>[] = [];
    for (const vm of VMS) accepted.push(await lab.engine.submit(lab.request(vm)));
    expect(accepted.slice(0, 4).map((a) => a.idKind)).toEqual(['import', 'import', 'import', 'import']);
    expect(accepted.slice(4).map((a) => a.idKind)).toEqual(Array(6).fill('queued'));
    expect(accepted.slice(4).map((a) => a.queuePosition)).toEqual([1, 2, 3, 4, 5, 6]);

    let maxRunning = 0;
    let maxActiveImports = 0;
    const positionsOfLast = new Set<number>();
    const startOrder: string[] = [];
    const region = lab.ec2.emulator.region('us-east-1')!;
    await waitFor(async () => {
      const { items } = await lab.engine.list({ limit: 50, offset: 0 });
      maxRunning = Math.max(maxRunning, items.filter((t) => t.state === 'running').length);
      const active = [...region.imports.values()].filter((i) => i.status === 'active').length;
      maxActiveImports = Math.max(maxActiveImports, active);
      const last = items.find((t) => t.id === accepted[9]!.id)!;
      if (last.queuePosition) positionsOfLast.add(last.queuePosition);
      for (const t of [...items].reverse()) if (t.startedAt && !startOrder.includes(t.id)) startOrder.push(t.id);
      return items.every((t) => t.state === 'completed' || t.state === 'failed') ? true : undefined;
    }, 'all ten migrations', 240_000);

    const done = (await lab.engine.list({ limit: 50, offset: 0 })).items;
    expect(done.map((t) => t.error).filter(Boolean)).toEqual([]);
    expect(done.every((t) => t.state === 'completed')).toBe(true);
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(4);
    expect(maxActiveImports).toBeGreaterThan(0);
    expect(maxActiveImports).toBeLessThanOrEqual(2);
    // The last task's position moved down from 6 while it waited.
    expect(positionsOfLast.has(6)).toBe(true);
    expect(Math.min(...positionsOfLast)).toBeLessThan(6);
    // FIFO: queued tasks started in submission order.
    const queuedIds = accepted.slice(4).map((a) => a.id);
    expect(startOrder.filter((id) => queuedIds.includes(id))).toEqual(queuedIds);
    // Exactly one import and one instance per task.
    const byToken = [...region.imports.values()].filter((i) => accepted.some((a) => a.id === i.clientToken));
    expect(byToken).toHaveLength(10);
  });

  it('starts higher-priority waves first, FIFO within a priority, and holds a task until its start window opens', async () => {
    // Four fill the slots; then a priority-0 task, a priority-50 task whose window opens in 3 s, and two priority-50 tasks.
    const fillers: Awaited<ReturnType<typeof lab.engine.submit>>[] = [];
    for (const vm of VMS.slice(0, 4)) fillers.push(await lab.engine.submit(lab.request(vm)));
    const opensAt = new Date(Date.now() + 3_000).toISOString();
    const low = await lab.engine.submit(lab.request(VMS[4]!));
    const later = await lab.engine.submit({ ...lab.request(VMS[5]!), priority: 50, notBefore: opensAt });
    const highA = await lab.engine.submit({ ...lab.request(VMS[6]!), priority: 50 });
    const highB = await lab.engine.submit({ ...lab.request(VMS[7]!), priority: 50 });
    expect(fillers.map((f) => f.idKind)).toEqual(['import', 'import', 'import', 'import']);
    await waitFor(async () => (await Promise.all(fillers.map((f) => lab.engine.get(f.id)))).every((t) => t?.state === 'running'), 'the four to start');
    // Positions follow the start order: priority first, then FIFO.
    expect(await Promise.all([later, highA, highB, low].map(async (t) => (await lab.engine.get(t.id))!.queuePosition))).toEqual([1, 2, 3, 4]);

    await lab.engine.idle();
    const after = new Map((await Promise.all([low, later, highA, highB].map((t) => lab.engine.get(t.id)))).map((t) => [t!.id, t!]));
    const started = (id: string): number => Date.parse(after.get(id)!.startedAt!);
    expect([...after.values()].every((t) => t.state === 'completed')).toBe(true);
    expect(started(highA.id)).toBeLessThanOrEqual(started(highB.id));
    expect(started(highB.id)).toBeLessThanOrEqual(started(low.id));
    // Never before its window, whatever slots were free.
    expect(started(later.id)).toBeGreaterThanOrEqual(Date.parse(opensAt));
  });

  it('cancels a queued migration before it starts', async () => {
    const first: Awaited<ReturnType<typeof lab.engine.submit>>[] = [];
    for (const vm of VMS.slice(0, 5)) first.push(await lab.engine.submit(lab.request(vm)));
    const queued = first[4]!;
    expect(queued.state).toBe('queued');
    const cancelled = (await lab.engine.cancel(queued.id, 'administrator@vsphere.local'))!;
    expect(cancelled.state).toBe('cancelled');
    await lab.engine.idle();
    const after = (await lab.engine.get(queued.id))!;
    expect(after.state).toBe('cancelled');
    expect(after.startedAt).toBeUndefined();
    expect([...lab.ec2.emulator.region('us-east-1')!.imports.values()].some((i) => i.clientToken === queued.id)).toBe(false);
  });
});
