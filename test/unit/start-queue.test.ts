// The engine's waiting queue on its own: which migration starts next, the positions users see, and the wake-up when
// the earliest start window opens.
import { describe, expect, it } from 'vitest';
import { StartQueue } from '../../connector/engine/start-queue.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';

const task = (id: string, over: Partial<MigrationRecord> = {}): MigrationRecord => ({ id, ...over }) as MigrationRecord;

describe('StartQueue', () => {
  it('starts the highest priority first, FIFO within a priority, and skips a task whose window is not open', async () => {
    let now = Date.parse('2026-12-03T10:00:00Z');
    const q = await new StartQueue({
      load: async () => [task('a'), task('b', { priority: 5 })],
      now: () => new Date(now),
      wake: () => {},
    }).ready();
    q.add(task('c', { priority: 5, notBefore: '2026-12-03T10:05:00Z' }));
    q.add(task('d', { priority: 5 }));
    // Positions after the one free slot (b takes it): c and d by priority and FIFO (windows aside), then a.
    expect(Object.fromEntries(q.positions(1))).toEqual({ c: 1, d: 2, a: 3 });
    expect([q.take(), q.take(), q.take()]).toEqual(['b', 'd', 'a']);
    expect(q.take()).toBeUndefined();
    now = Date.parse('2026-12-03T10:05:00Z');
    expect(q.take()).toBe('c');
    expect(q.size).toBe(0);
    q.stop();
  });

  it('wakes the engine when the earliest start window opens', async () => {
    let woke = 0;
    const q = await new StartQueue({ load: async () => [], now: () => new Date(), wake: () => woke++ }).ready();
    q.add(task('later', { notBefore: new Date(Date.now() + 150).toISOString() }));
    expect(q.take()).toBeUndefined();
    await new Promise((r) => setTimeout(r, 400));
    expect(woke).toBe(1);
    expect(q.take()).toBe('later');
    q.stop();
  });

  it('reads the store once, and a removed task is neither started nor counted', async () => {
    let loads = 0;
    const q = new StartQueue({ load: async () => (loads++, [task('x'), task('y')]), now: () => new Date(), wake: () => {} });
    await Promise.all([q.ready(), q.ready()]);
    (await q.ready()).remove('x');
    expect(loads).toBe(1);
    expect(Object.fromEntries(q.positions(0))).toEqual({ y: 1 });
    expect(q.take()).toBe('y');
  });
});
