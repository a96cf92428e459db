import { describe, expect, it } from 'vitest';
import { SessionCache } from '../../connector/vcenter/session-cache.ts';

function harness(max = 2, idleMs = 1000) {
  let now = 0;
  let created = 0;
  const disposed: string[] = [];
  const cache = new SessionCache<string>({
    max,
    idleMs,
    now: () => now,
    create: async (token) => {
      created++;
      if (token === 'bad') throw new Error('clone failed');
      return `session-for-${token}`;
    },
    dispose: async (s) => {
      disposed.push(s);
    },
  });
  return { cache, disposed, created: () => created, advance: (ms: number) => (now += ms) };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('SessionCache', () => {
  it('clones once per token, also for concurrent requests', async () => {
    const h = harness();
    const [a, b] = await Promise.all([h.cache.get('t1'), h.cache.get('t1')]);
    expect(a).toBe('session-for-t1');
    expect(b).toBe(a);
    expect(h.created()).toBe(1);
  });

  it('evicts the least recently used session and logs it out', async () => {
    const h = harness(2);
    await h.cache.get('t1');
    await h.cache.get('t2');
    await h.cache.get('t1'); // t2 is now the oldest
    await h.cache.get('t3');
    await settle();
    expect(h.disposed).toEqual(['session-for-t2']);
    expect(h.cache.size).toBe(2);
  });

  it('expires idle sessions', async () => {
    const h = harness(10, 1000);
    await h.cache.get('t1');
    h.advance(1001);
    await h.cache.get('t2');
    await settle();
    expect(h.disposed).toEqual(['session-for-t1']);
    await h.cache.get('t1');
    expect(h.created()).toBe(3);
  });

  it('does not keep a failed clone', async () => {
    const h = harness();
    await expect(h.cache.get('bad')).rejects.toThrow('clone failed');
    await settle();
    expect(h.cache.size).toBe(0);
    await expect(h.cache.get('bad')).rejects.toThrow('clone failed');
    expect(h.created()).toBe(2);
  });

  it('logs every session out on close', async () => {
    const h = harness(5);
    await h.cache.get('t1');
    await h.cache.get('t2');
    await h.cache.close();
    expect(h.disposed.sort()).toEqual(['session-for-t1', 'session-for-t2']);
    expect(h.cache.size).toBe(0);
  });
});
