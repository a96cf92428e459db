import { describe, expect, it } from 'vitest';
import { SessionCache } from '../../connector/vcenter/session-cache.ts';
import { ConnectorConfig } from '../../connector/config.ts';

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

  it('invalidates a stale session only while it is still the one cached', async () => {
    let n = 0;
    const disposed: string[] = [];
    const cache = new SessionCache<string>({ max: 5, idleMs: 1000, create: async () => `clone-${++n}`, dispose: async (s) => void disposed.push(s) });
    const first = await cache.get('t1');
    cache.invalidate('t1', first);
    await settle();
    expect(disposed).toEqual(['clone-1']);
    expect(await cache.get('t1')).toBe('clone-2');
    cache.invalidate('t1', first); // a late request that used the old clone must not end the new one
    await settle();
    expect(disposed).toEqual(['clone-1']);
    expect(await cache.get('t1')).toBe('clone-2');
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

/** A cache with liveness checks: `alive` decides what the next check answers. */
function livenessHarness(livenessMs = 1000) {
  let now = 0;
  let created = 0;
  let checks = 0;
  let answer: 'alive' | 'ended' | 'unreachable' = 'alive';
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const disposed: string[] = [];
  const cache = new SessionCache<string>({
    max: 10,
    idleMs: 60_000,
    now: () => now,
    create: async (token) => {
      created++;
      if (answer === 'ended') throw new Error(`ended:${token}`);
      return `session-for-${token}`;
    },
    dispose: async (s) => {
      disposed.push(s);
    },
    liveness: {
      livenessMs,
      check: async () => {
        checks++;
        if (gate) await gate;
        if (answer === 'ended') throw new Error('ended');
        if (answer === 'unreachable') throw new Error('unreachable');
      },
      ended: (err) => err instanceof Error && err.message.startsWith('ended'),
    },
  });
  return {
    cache,
    disposed,
    created: () => created,
    checks: () => checks,
    advance: (ms: number) => (now += ms),
    answer: (a: typeof answer) => (answer = a),
    hold: () => {
      gate = new Promise((r) => (release = r));
    },
    release: () => {
      gate = undefined;
      release?.();
    },
  };
}

describe('SessionCache liveness', () => {
  it('serves from the cache inside the interval and checks once when it is due', async () => {
    const h = livenessHarness(1000);
    await h.cache.get('t1');
    h.advance(999);
    await h.cache.get('t1');
    expect(h.checks()).toBe(0);
    h.advance(1);
    await h.cache.get('t1');
    expect(h.checks()).toBe(1);
    h.advance(500);
    await h.cache.get('t1');
    expect(h.checks()).toBe(1);
    expect(h.created()).toBe(1);
  });

  it('coalesces the requests of one token into one check, and they all wait for it', async () => {
    const h = livenessHarness(1000);
    await h.cache.get('t1');
    h.advance(1000);
    h.hold();
    let settled = 0;
    const all = Array.from({ length: 50 }, () => h.cache.get('t1').then((s) => (settled++, s)));
    await settle();
    expect(settled).toBe(0);
    h.release();
    expect(new Set(await Promise.all(all))).toEqual(new Set(['session-for-t1']));
    expect(h.checks()).toBe(1);
  });

  it('refuses an ended session to every waiting request, logs its clone out first, and asks vCenter no more', async () => {
    const h = livenessHarness(1000);
    await h.cache.get('t1');
    h.advance(1000);
    h.answer('ended');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => h.cache.get('t1')));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(h.disposed).toEqual(['session-for-t1']);
    expect(h.cache.size).toBe(0);
    // Refused from memory for the rest of the interval: no new clone, no new check.
    await expect(h.cache.get('t1')).rejects.toThrow('ended');
    expect(h.checks()).toBe(1);
    expect(h.created()).toBe(1);
    h.advance(1000);
    await expect(h.cache.get('t1')).rejects.toThrow('ended:t1');
    expect(h.created()).toBe(2);
  });

  it('keeps the clone when the check cannot be made, and checks again on the next request', async () => {
    const h = livenessHarness(1000);
    await h.cache.get('t1');
    h.advance(1000);
    h.answer('unreachable');
    await expect(h.cache.get('t1')).rejects.toThrow('unreachable');
    expect(h.disposed).toEqual([]);
    h.answer('alive');
    await expect(h.cache.get('t1')).resolves.toBe('session-for-t1');
    expect(h.checks()).toBe(2);
    await h.cache.get('t1');
    expect(h.checks()).toBe(2);
  });
});

describe('sessions.livenessMs', () => {
  const base = { vcenter: { url: 'https://vc.example.com' } };
  it('defaults to 30 s and refuses more than a minute, saying why', () => {
    expect(ConnectorConfig.parse(base).sessions.livenessMs).toBe(30_000);
    const bad = ConnectorConfig.safeParse({ ...base, sessions: { livenessMs: 61_000 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/sessions\.livenessMs must be at most 60000/);
  });
});
