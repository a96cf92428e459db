// The bandwidth cap's parts: the token bucket's arithmetic on a controlled clock, the schedule in a connector's time
// zone (windows past midnight included), the setting's validation messages, and the limiter following the stored setting.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthSetting } from '../../connector/contract/index.ts';
import { TokenBucket } from '../../connector/bandwidth/token-bucket.ts';
import { effectiveCap, MB, minutesOfDay, utcOffsetMinutes } from '../../connector/bandwidth/schedule.ts';
import { acquire, BandwidthLimiter } from '../../connector/bandwidth/limiter.ts';
import { readBandwidth, writeBandwidth } from '../../connector/bandwidth/setting.ts';
import { SqliteStore } from '../../connector/store/index.ts';

describe('token bucket', () => {
  it('grants the rate over time, in part when a chunk is larger than what has accrued', () => {
    let t = 0;
    const b = new TokenBucket(() => 1_000_000, () => t);
    expect(b.take(100_000)).toBe(0); // starts empty: no burst at the start of a copy
    expect(b.waitMs(100_000)).toBe(100);
    t = 50;
    expect(b.take(100_000)).toBe(50_000);
    t = 150;
    expect(b.take(30_000)).toBe(30_000);
    b.giveBack(10_000);
    expect(b.take(1_000_000)).toBe(80_000);
  });

  it('caps what accrues while idle to a short burst', () => {
    let t = 0;
    const b = new TokenBucket(() => 10 * MB, () => t, 0.1);
    b.take(1);
    t = 60_000; // a minute idle
    expect(b.take(100 * MB)).toBe(Math.floor(MB)); // 0.1 s of 10 MB/s
  });

  it('grants everything when unlimited, and follows a rate that changes', () => {
    let t = 0;
    let rate: number | null = null;
    const b = new TokenBucket(() => rate, () => t);
    expect(b.take(5 * MB)).toBe(5 * MB);
    expect(b.waitMs(5 * MB)).toBe(0);
    rate = 1_000_000;
    t = 10;
    expect(b.take(MB)).toBe(10_000); // accrues from the moment the cap applies, not before
    t = 110;
    expect(b.take(MB)).toBe(100_000);
  });
});

describe('schedule', () => {
  const day = { capMBps: null, schedule: [{ from: '08:00', to: '18:00', capMBps: 50 }] };
  const night = { capMBps: 100, schedule: [{ from: '22:00', to: '06:00', capMBps: null }] };

  it('applies the window covering the local time of day, else the cap', () => {
    expect(effectiveCap(day, new Date('2026-12-03T07:59:00Z'), 'UTC')).toBeNull();
    expect(effectiveCap(day, new Date('2026-12-03T08:00:00Z'), 'UTC')).toBe(50);
    expect(effectiveCap(day, new Date('2026-12-03T17:59:00Z'), 'UTC')).toBe(50);
    expect(effectiveCap(day, new Date('2026-12-03T18:00:00Z'), 'UTC')).toBeNull();
    expect(effectiveCap(night, new Date('2026-12-03T23:30:00Z'), 'UTC')).toBeNull();
    expect(effectiveCap(night, new Date('2026-12-03T05:59:00Z'), 'UTC')).toBeNull();
    expect(effectiveCap(night, new Date('2026-12-03T12:00:00Z'), 'UTC')).toBe(100);
  });

  it("reads the windows in the connector's time zone", () => {
    // 07:30 UTC is 08:30 in Berlin (CET, winter) and 02:30 in New York.
    const at = new Date('2026-12-03T07:30:00Z');
    expect(minutesOfDay(at, 'Europe/Berlin')).toBe(8 * 60 + 30);
    // Formatters are kept per zone: each zone keeps its own answer, and a zone that does not exist stays refused.
    expect(minutesOfDay(at, 'America/New_York')).toBe(2 * 60 + 30);
    expect(minutesOfDay(at, 'Europe/Berlin')).toBe(8 * 60 + 30);
    for (let i = 0; i < 2; i++) expect(() => minutesOfDay(at, 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(effectiveCap(day, at, 'Europe/Berlin')).toBe(50);
    expect(effectiveCap(day, at, 'America/New_York')).toBeNull();
    expect(utcOffsetMinutes(at, 'Europe/Berlin')).toBe(60);
    expect(utcOffsetMinutes(at, 'America/New_York')).toBe(-300);
    expect(utcOffsetMinutes(at, 'Asia/Kolkata')).toBe(330);
  });
});

describe('bandwidth setting', () => {
  const issues = (v: unknown) => {
    const r = BandwidthSetting.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => i.message);
  };
  it('says what to fix', () => {
    expect(issues({ capMBps: 0 })).toEqual(['capMBps must be at least 1 MB/s; use null for unlimited']);
    expect(issues({ capMBps: 2.5 })[0]).toMatch(/whole number of MB\/s/);
    expect(issues({ capMBps: null, schedule: [{ from: '8:00', to: '18:00', capMBps: 5 }] })[0]).toMatch(/24-hour HH:MM/);
    expect(issues({ capMBps: null, schedule: [{ from: '08:00', to: '08:00', capMBps: 5 }] })[0]).toMatch(/must not start and end at the same time/);
    expect(
      issues({
        capMBps: null,
        schedule: [
          { from: '22:00', to: '06:00', capMBps: 5 },
          { from: '05:00', to: '07:00', capMBps: 9 },
        ],
      }),
    ).toEqual(['the window 05:00–07:00 overlaps 22:00–06:00; windows must not overlap']);
    expect(issues({ capMBps: 50, schedule: [{ from: '18:00', to: '08:00', capMBps: null }] })).toEqual([]);
  });
});

describe('limiter', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vm2ec2-bw-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('follows the setting stored for its connector id, and names the tasks that waited', async () => {
    const store = new SqliteStore(join(dir, 's.sqlite'), { defaultRegion: 'us-east-1' });
    const limiter = new BandwidthLimiter({ settings: store.settings, connectorId: async () => 'conn-a', timeZone: 'UTC', refreshMs: 20 });
    await limiter.start();
    expect(limiter.capMBps()).toBeNull();
    await writeBandwidth(store.settings, 'conn-b', { capMBps: 7, schedule: [] }, 'admin', new Date());
    await writeBandwidth(store.settings, 'conn-a', { capMBps: 3, schedule: [] }, 'admin', new Date());
    for (const end = Date.now() + 2_000; limiter.capMBps() === null && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
    expect(limiter.capMBps()).toBe(3);
    expect(await readBandwidth(store.settings, 'conn-a')).toMatchObject({ capMBps: 3, updatedBy: 'admin' });

    const th = limiter.forTask('mig-1');
    expect(limiter.throttledCap('mig-1')).toBeUndefined();
    th.waited();
    expect(limiter.throttledCap('mig-1')).toBe(3);
    expect(limiter.throttledCap('mig-2')).toBeUndefined();
    limiter.stop();
    await store.close();
  });

  it("switches to a window's cap in its first second, and to a setting just used at once", async () => {
    const store = new SqliteStore(join(dir, 'm.sqlite'), { defaultRegion: 'us-east-1' });
    let now = new Date('2026-12-03T07:59:59.000Z');
    const limiter = new BandwidthLimiter({ settings: store.settings, connectorId: async () => 'conn-m', timeZone: 'UTC', now: () => now });
    limiter.use({ capMBps: null, schedule: [{ from: '08:00', to: '18:00', capMBps: 50 }] });
    expect(limiter.capMBps()).toBeNull();
    now = new Date('2026-12-03T07:59:59.999Z');
    expect(limiter.capMBps()).toBeNull();
    now = new Date('2026-12-03T08:00:00.000Z');
    expect(limiter.capMBps()).toBe(50);
    limiter.use({ capMBps: null, schedule: [{ from: '08:00', to: '18:00', capMBps: 20 }] });
    expect(limiter.capMBps()).toBe(20);
    now = new Date('2026-12-03T18:00:00.000Z');
    expect(limiter.capMBps()).toBeNull();
    await store.close();
  });

  it('acquire waits until whole blocks fit the cap (the warm copy reads 512 KiB blocks), and stops on abort', async () => {
    const store = new SqliteStore(join(dir, 'a.sqlite'), { defaultRegion: 'us-east-1' });
    await writeBandwidth(store.settings, 'conn-w', { capMBps: 4, schedule: [] }, 'admin', new Date());
    const limiter = new BandwidthLimiter({ settings: store.settings, connectorId: async () => 'conn-w', timeZone: 'UTC' });
    await limiter.start();
    const th = limiter.forTask('mig-w');
    const started = performance.now();
    for (let i = 0; i < 4; i++) await acquire(th, 512 * 1024);
    const ms = performance.now() - started;
    // 2 MiB at 4 MB/s: half a second.
    expect(ms).toBeGreaterThan(400);
    expect(ms).toBeLessThan(1_000);
    expect(limiter.throttledCap('mig-w')).toBe(4);
    const ac = new AbortController();
    const waiting = acquire(th, 64 * MB, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    limiter.stop();
    await store.close();
  });
});
