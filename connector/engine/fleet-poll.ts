// This connector's part in a fleet that shares its tasks (issue 14). Every fleetPollMs it carries out the cancels and
// warm actions asked on peers for tasks it runs, then has the engine look for work: running tasks of lost connectors
// of its vCenter (taken over first, into free slots only) and queued work (peers' submissions, opened start windows).
// Each decision is one store statement (FleetTaskClaims).
//
// Written by hand rather than on pg-boss or graphile-worker: a migration runs for hours and must stay leased while its
// connector lives, then move to a peer within about two leases of its last heartbeat, resuming from its recorded step.
// pg-boss expires an active job after a fixed expireInSeconds (no heartbeat renewal: pg-boss issue #436) and
// graphile-worker (Node) treats a job as abandoned only after a fixed 4-hour lock; neither counts "5 active imports
// per account and region across all workers" (see import-slots.ts), and both would need their own job tables
// beside engine_tasks, which the portal, waves and the one-task-per-VM index already read.
import type { CancelRequest, FleetTaskClaims, WarmRequest } from './task-store.ts';

export interface FleetPollOptions {
  claims: FleetTaskClaims;
  me: string;
  vcenterId(): string;
  leaseMs: number;
  pollMs: number;
  now(): Date;
  log(line: string): void;
  /** A cancel asked on a peer for a task this connector owns. */
  cancel(req: CancelRequest): Promise<void>;
  /** A warm action (test instance, cutover) asked on a peer for a task this connector owns. */
  warm(req: WarmRequest): Promise<void>;
  /** Hands a slot waiting on a lost peer's import back to the fleet when every slot waits (see the engine). */
  makeRoom(): Promise<void>;
  /** Reads the queue again (queue positions) and looks for queued work. */
  pump(): Promise<void>;
}

export class FleetPoll {
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;

  constructor(private readonly opts: FleetPollOptions) {}

  /** Heartbeats older than this belong to lost connectors. */
  staleBefore(): string {
    return new Date(this.opts.now().getTime() - this.opts.leaseMs).toISOString();
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
  }

  /** One round (at most one at a time); never throws: a store that does not answer is tried again next round. */
  tick(): Promise<void> {
    this.busy ??= this.round()
      .catch((err: unknown) => this.opts.log(`fleet: looking for work of lost connectors failed: ${String(err)}`))
      .finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async round(): Promise<void> {
    const { claims, me } = this.opts;
    // Lost peers' tasks are taken over by the engine's fill(), before queued work and only into free slots, so a
    // takeover never runs more than maxRunning here; pump() below runs it.
    for (const req of await claims.cancelRequests(me)) await this.opts.cancel(req);
    for (const req of await claims.warmRequests(me)) await this.opts.warm(req);
    await this.opts.makeRoom();
    await this.opts.pump();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }
}
