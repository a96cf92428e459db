// The task store with its fleet claims and region slots, as the scheduler benchmark watches it: unchanged, reporting
// every write (a claim is one: it starts the task) and every takeover as they happen. A proxy rather than a wrapper
// class: every other method of the repository (claims, slots, and whatever the store gains) passes through untouched,
// so the engine finds the same capabilities on it (fleetClaims, regionSlots) and schedules exactly as the connector does.
import type { FleetTaskClaims, MigrationTaskRepository } from '../connector/engine/task-store.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';

export interface FleetTaskEvents {
  write(t: MigrationRecord): void;
  /** Running tasks of a lost connector this connector took over (owner swapped in the store). */
  adopted(ts: MigrationRecord[]): void;
  /** A running task this connector handed back to the fleet (owner cleared, no write). */
  released?(id: string): void;
  /** A queued task this connector claimed from the store (also reported as a write). */
  claimed?(t: MigrationRecord): void;
}

export function observeFleetTasks<T extends MigrationTaskRepository & FleetTaskClaims>(inner: T, events: FleetTaskEvents): T {
  const observed: Record<string, unknown> = {
    insert: async (task: MigrationRecord) => {
      const rec = await inner.insert(task);
      events.write(rec);
      return rec;
    },
    save: async (task: MigrationRecord) => {
      const ok = await inner.save(task);
      events.write(task);
      return ok;
    },
    claimNext: async (me: string, vcenterId: string, now: string) => {
      const t = await inner.claimNext(me, vcenterId, now);
      if (t) {
        events.write(t);
        events.claimed?.(t);
      }
      return t;
    },
    // Every argument passed on as given (this proxy once dropped adopt's limit: the engine resumed one task of the
    // several the store gave it, and the rest stayed owned by a live connector and run by none).
    adopt: async (...args: Parameters<FleetTaskClaims['adopt']>) => {
      const ts = await (inner as FleetTaskClaims).adopt(...args);
      if (ts.length > 0) events.adopted(ts);
      return ts;
    },
    // The engine's fill(): a takeover or a claim, reported as adopt and claimNext report theirs.
    adoptOrClaim: async (...args: Parameters<FleetTaskClaims['adoptOrClaim']>) => {
      const next = await (inner as FleetTaskClaims).adoptOrClaim(...args);
      if (next?.adopted) events.adopted([next.task]);
      else if (next) {
        events.write(next.task);
        events.claimed?.(next.task);
      }
      return next;
    },
    release: async (id: string, me: string) => {
      const ok = await inner.release(id, me);
      if (ok) events.released?.(id);
      return ok;
    },
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in observed) return observed[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
