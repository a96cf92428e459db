// One token bucket shared by every disk copy of this connector: a token is a byte. Written here rather than taken from
// npm because the maintained limiters (bottleneck, p-limit, limiter) count calls or jobs, not bytes of a pushed stream
// that must be granted in part and resumed later; this is a few lines.

/** Bytes per second, or null for unlimited; asked on every grant so a schedule or a new setting applies at once. */
export type RateSource = () => number | null;

export class TokenBucket {
  private tokens = 0;
  private last: number;

  constructor(
    private readonly rate: RateSource,
    private readonly clock: () => number = () => performance.now(),
    /** Burst allowance: at most this many seconds of the rate accumulate while nobody copies. */
    private readonly burstSeconds = 0.1,
  ) {
    this.last = clock();
  }

  private refill(rate: number): void {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.capacity(rate), this.tokens + elapsed * rate);
  }

  private capacity(rate: number): number {
    return Math.max(64 * 1024, rate * this.burstSeconds);
  }

  /** The current rate in bytes per second (null: unlimited). */
  currentRate(): number | null {
    return this.rate();
  }

  /** Grants up to `want` bytes now (all of them when unlimited); the caller waits `waitMs()` for the rest. */
  take(want: number): number {
    const rate = this.rate();
    if (rate === null) {
      this.last = this.clock();
      return want;
    }
    this.refill(rate);
    const grant = Math.max(0, Math.min(want, Math.floor(this.tokens)));
    this.tokens -= grant;
    return grant;
  }

  /** Returns bytes granted but not used. */
  giveBack(n: number): void {
    if (n > 0) this.tokens += n;
  }

  /** How long until `want` bytes (at most one burst) can be granted. */
  waitMs(want: number): number {
    const rate = this.rate();
    if (rate === null) return 0;
    this.refill(rate);
    const need = Math.min(want, this.capacity(rate)) - this.tokens;
    return need <= 0 ? 0 : Math.ceil((need / rate) * 1000);
  }
}
