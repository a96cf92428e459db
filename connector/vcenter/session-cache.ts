import { createHash } from 'node:crypto';

export interface SessionCacheOptions<S> {
  max: number;
  idleMs: number;
  create(token: string): Promise<S>;
  dispose(session: S): Promise<void>;
  now?: () => number;
}

interface Entry<S> {
  session: Promise<S>;
  lastUsed: number;
}

/**
 * Cloned vCenter sessions per plugin session token: bounded (least recently used is evicted), expired after
 * idle time, disposed (logged out) on eviction. Concurrent requests with one token share one clone.
 * Tokens are kept only as SHA-256 digests.
 */
export class SessionCache<S> {
  private readonly entries = new Map<string, Entry<S>>();
  private readonly now: () => number;

  constructor(private readonly opts: SessionCacheOptions<S>) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(token: string): Promise<S> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.now();
    this.sweep(now);
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert to keep Map order = recency order.
      this.entries.delete(key);
      hit.lastUsed = now;
      this.entries.set(key, hit);
      return hit.session;
    }
    const session = this.opts.create(token);
    const entry: Entry<S> = { session, lastUsed: now };
    this.entries.set(key, entry);
    session.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.opts.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.evict(oldest.value);
    }
    return session;
  }

  /** Forget a token whose session vCenter no longer accepts. */
  invalidate(token: string): void {
    this.evict(createHash('sha256').update(token).digest('base64url'));
  }

  async close(): Promise<void> {
    const all = [...this.entries.keys()];
    await Promise.all(all.map((k) => this.evict(k)));
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.lastUsed > this.opts.idleMs) void this.evict(key);
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
