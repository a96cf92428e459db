import { hash } from 'node:crypto';

export interface SessionCacheOptions<S> {
  max: number;
  idleMs: number;
  create(token: string): Promise<S>;
  dispose(session: S): Promise<void>;
  /**
   * Liveness: asks whether the user's own session behind the token is still alive, at most once per `livenessMs`
   * per token. Resolves when it is; rejects otherwise. Absent: a clone is trusted until it idles out.
   */
  liveness?: {
    livenessMs: number;
    check(token: string, session: S): Promise<void>;
    /** True when the rejection means the user's session has ended (not that the check could not be made). */
    ended(err: unknown): boolean;
  };
  now?: () => number;
}

interface Entry<S> {
  session: Promise<S>;
  /** The session once created. */
  value?: S;
  lastUsed: number;
  /** When the user's session was last known alive (the clone itself proves it at creation). */
  checkedAt: number;
  /** The liveness check in flight: every request of the token waits for this one. */
  checking?: Promise<S> | undefined;
}

/**
 * Cloned vCenter sessions per plugin session token: bounded (least recently used is evicted), expired after
 * idle time, disposed (logged out) on eviction. Concurrent requests with one token share one clone and one
 * liveness check. A token whose session has ended is evicted at once and refused without asking vCenter again
 * for one liveness interval. Tokens are kept only as SHA-256 digests.
 */
export class SessionCache<S> {
  private readonly entries = new Map<string, Entry<S>>();
  /** Tokens vCenter refused recently, with the refusal to repeat. */
  private readonly refused = new Map<string, { at: number; err: unknown }>();
  private readonly now: () => number;

  constructor(private readonly opts: SessionCacheOptions<S>) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(token: string): Promise<S> {
    const key = digest(token);
    const now = this.now();
    this.sweep(now);
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert to keep Map order = recency order.
      this.entries.delete(key);
      hit.lastUsed = now;
      this.entries.set(key, hit);
      if (hit.checking) return hit.checking;
      const live = this.opts.liveness;
      if (live && now - hit.checkedAt >= live.livenessMs) return this.recheck(key, hit, token);
      return hit.session;
    }
    const refusal = this.refused.get(key);
    if (refusal) throw refusal.err;
    const session = this.opts.create(token);
    const entry: Entry<S> = { session, lastUsed: now, checkedAt: now };
    this.entries.set(key, entry);
    session.then(
      (value) => (entry.value = value),
      () => undefined,
    );
    session.catch((err: unknown) => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      if (this.opts.liveness?.ended(err)) this.remember(key, err);
    });
    while (this.entries.size > this.opts.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      void this.evict(oldest.value);
    }
    return session;
  }

  /** Forget a token whose session vCenter no longer accepts; with `stale`, only if that session is still the one cached. */
  invalidate(token: string, stale?: S): void {
    const key = digest(token);
    const entry = this.entries.get(key);
    if (!entry || (stale !== undefined && entry.value !== stale)) return;
    void this.evict(key);
  }

  async close(): Promise<void> {
    const all = [...this.entries.keys()];
    this.refused.clear();
    await Promise.all(all.map((k) => this.evict(k)));
  }

  private recheck(key: string, entry: Entry<S>, token: string): Promise<S> {
    const live = this.opts.liveness!;
    const run = (async () => {
      const session = await entry.session;
      try {
        await live.check(token, session);
      } catch (err) {
        if (live.ended(err)) {
          this.remember(key, err);
          // Logged out before anyone hears the refusal: the clone is gone when the 401 arrives.
          if (this.entries.get(key) === entry) await this.evict(key);
        }
        throw err;
      }
      entry.checkedAt = this.now();
      return session;
    })();
    entry.checking = run;
    // A check that could not be made is tried again by the next request; the clone stays until then.
    run.then(
      () => (entry.checking = undefined),
      () => (entry.checking = undefined),
    );
    return run;
  }

  private remember(key: string, err: unknown): void {
    this.refused.delete(key);
    this.refused.set(key, { at: this.now(), err });
    while (this.refused.size > this.opts.max) {
      const oldest = this.refused.keys().next();
      if (oldest.done) break;
      this.refused.delete(oldest.value);
    }
  }

  private sweep(now: number): void {
    // Map order is recency order: the first entry still in use ends the sweep (every request ran over all of them).
    for (const [key, entry] of this.entries) {
      if (now - entry.lastUsed <= this.opts.idleMs) break;
      void this.evict(key);
    }
    const ttl = this.opts.liveness?.livenessMs ?? 0;
    // Insertion order is age order.
    for (const [key, r] of this.refused) {
      if (now - r.at < ttl) break;
      this.refused.delete(key);
    }
  }

  private async evict(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    try {
      await this.opts.dispose(await entry.session);
    } catch {
      // A session that failed to clone or to log out has nothing left to release.
    }
  }
}

/** One-shot hashing: a Hash object per request cost more than the digest itself. */
function digest(token: string): string {
  return hash('sha256', token, 'base64url');
}
