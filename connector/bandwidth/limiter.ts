// This connector's bandwidth cap in force: one token bucket that every running disk copy draws from, its rate from the
// stored setting (re-read every few seconds, so a change made through any connector of the fleet applies) and the
// schedule in the connector's time zone; and which tasks waited on it recently (the Migrations row's "Throttled").
import { setTimeout as sleep } from 'node:timers/promises';
import type { SettingsRepository } from '../store/index.ts';
import { MB, effectiveCap } from './schedule.ts';
import { UNLIMITED, readBandwidth, type StoredBandwidth } from './setting.ts';
import { TokenBucket } from './token-bucket.ts';

/** What a disk copy asks of the cap (disk-copy.ts). */
export interface ByteThrottle {
  take(want: number): number;
  giveBack(n: number): void;
  waitMs(want: number): number;
  /** The copy is waiting for the bucket. */
  waited(): void;
}

/** Waits until the cap grants `n` bytes: for copies that move whole blocks (warm migration's 512 KiB EBS blocks). */
export async function acquire(th: ByteThrottle, n: number, signal?: AbortSignal): Promise<void> {
  let left = n;
  for (;;) {
    left -= th.take(left);
    if (left <= 0) return;
    th.waited();
    await sleep(Math.max(5, th.waitMs(left)), undefined, signal ? { signal } : {});
  }
}

/** A task counts as throttled while it waited on the bucket within this many ms. */
export const THROTTLED_RECENT_MS = 5_000;

export class BandwidthLimiter {
  private setting: StoredBandwidth = UNLIMITED;
  private readonly bucket: TokenBucket;
  private readonly lastWait = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The cap of one wall-clock second for one setting: asked for every copied chunk, it changes at most each minute. */
  private capMemo: { setting: StoredBandwidth; second: number; cap: number | null } | undefined;

  constructor(
    private readonly opts: {
      settings: SettingsRepository;
      connectorId: () => Promise<string>;
      timeZone: string;
      refreshMs?: number;
      now?: () => Date;
      log?: (msg: string) => void;
    },
  ) {
    this.bucket = new TokenBucket(() => {
      const cap = this.capMBps();
      return cap === null ? null : cap * MB;
    });
  }

  /** The cap in MB/s in force now (null: unlimited). */
  capMBps(at: Date = this.now()): number | null {
    // Windows are whole minutes and zone offsets whole minutes, so one second never spans two caps.
    const second = Math.floor(at.getTime() / 1000);
    const memo = this.capMemo;
    if (memo && memo.setting === this.setting && memo.second === second) return memo.cap;
    const cap = effectiveCap(this.setting, at, this.opts.timeZone);
    this.capMemo = { setting: this.setting, second, cap };
    return cap;
  }

  current(): StoredBandwidth {
    return this.setting;
  }

  /** Applies a setting at once (the one just saved through this connector). */
  use(setting: StoredBandwidth): void {
    this.setting = setting;
  }

  async refresh(): Promise<void> {
    try {
      this.setting = await readBandwidth(this.opts.settings, await this.opts.connectorId());
    } catch (err) {
      // Keep the last good setting: a store hiccup must not lift or change the cap.
      this.opts.log?.(`bandwidth: reading this connector's cap failed, keeping the last one: ${String(err)}`);
    }
  }

  /** Reads the setting now and every refreshMs until stop(). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), this.opts.refreshMs ?? 5_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The throttle one task's copies draw through; `onThrottled` hears the cap it waits on, at most once a second. */
  forTask(taskId: string, onThrottled?: (capMBps: number) => void): ByteThrottle {
    let told = 0;
    return {
      take: (n) => this.bucket.take(n),
      giveBack: (n) => this.bucket.giveBack(n),
      waitMs: (n) => this.bucket.waitMs(n),
      waited: () => {
        const now = Date.now();
        this.lastWait.set(taskId, now);
        const cap = this.capMBps();
        if (onThrottled && cap !== null && now - told >= 1_000) {
          told = now;
          onThrottled(cap);
        }
      },
    };
  }

  /** The cap (MB/s) a task is held to when it waited on the bucket recently; undefined otherwise. */
  throttledCap(taskId: string): number | undefined {
    const at = this.lastWait.get(taskId);
    if (at === undefined) return undefined;
    if (Date.now() - at > THROTTLED_RECENT_MS) {
      this.lastWait.delete(taskId);
      return undefined;
    }
    return this.capMBps() ?? undefined;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }
}
