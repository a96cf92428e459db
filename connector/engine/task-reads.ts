// The engine's read side: the task views the API answers with (get, list, the polled JSON bodies, a VM's active
// migration, the 409 naming it). A running or parked task is read from its live record, newer than the stored one;
// a queued one carries its queue position. engine.ts changes tasks and delegates its reads here.
import type { MigrationState, MigrationTask } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { Slots } from './slots.ts';
import type { StartQueue } from './start-queue.ts';
import { pageJson, taskJson, type TaskJsonSource } from './task-json.ts';
import type { MigrationTaskRepository, TaskFilter } from './task-store.ts';
import { taskView } from './task-view.ts';
import type { MigrationRecord } from './types.ts';
import type { WarmScheduling } from './warm/scheduling.ts';

/** What the engine lends its read side. */
export interface TaskReadsHost {
  tasks: MigrationTaskRepository;
  queue: StartQueue;
  slots: Pick<Slots, 'running' | 'free'>;
  warmTasks: Pick<WarmScheduling, 'parkedTask'>;
  now(): Date;
  /** The fleet vCenter id when this connector takes its work from the store; undefined alone. */
  fleetVcenterId(): string | undefined;
}

export class TaskReads {
  constructor(private readonly host: TaskReadsHost) {}

  /** The VM's active migration, if any. Advisory (pre-flight): submit() is where one per VM is enforced. */
  async activeFor(vmId: string): Promise<MigrationTask | undefined> {
    for (const state of ['running', 'cancelling', 'queued'] as const) {
      const [t] = (await this.host.tasks.list(this.scoped({ vmId, state, limit: 1, offset: 0 }))).items;
      if (t) return this.view(this.live(t.id) ?? t, await this.queuePositions());
    }
    return undefined;
  }

  async get(id: string): Promise<MigrationTask | undefined> {
    const t = this.live(id) ?? (await this.host.tasks.get(id));
    return t ? this.view(t, await this.queuePositions()) : undefined;
  }

  async list(filter: TaskFilter): Promise<{ items: MigrationTask[]; total: number }> {
    const page = await this.host.tasks.list(this.scoped(filter));
    const positions = await this.queuePositions();
    return { items: page.items.map((t) => this.view(this.live(t.id) ?? t, positions)), total: page.total };
  }

  /** GET /migrations as sent: a page's JSON, most of it kept from earlier polls (task-json.ts). */
  async listJson(filter: TaskFilter): Promise<Buffer> {
    const page = await this.host.tasks.list(this.scoped(filter));
    return pageJson(page, await this.jsonSource());
  }

  /** GET /migrations/{id} as sent, with the task's environment for the caller's permission check. */
  async getJson(id: string): Promise<{ environmentId: string; json: string } | undefined> {
    const shared = await this.host.tasks.peek?.(id);
    const stored = shared ?? (await this.host.tasks.get(id));
    return stored ? { environmentId: stored.environmentId, json: taskJson(stored, await this.jsonSource(), shared !== undefined) } : undefined;
  }

  /** The 409 for a submission the store refused: `holder` is the VM's active task as the store had it. */
  async alreadyRunning(vmId: string, holder: MigrationRecord | undefined): Promise<AppError> {
    const live = holder ? (this.live(holder.id) ?? holder) : undefined;
    return migrationAlreadyRunning(vmId, live ? this.view(live, await this.queuePositions()) : undefined);
  }

  /** The in-memory record of a running or parked task (the one its pipeline writes). */
  live(id: string): MigrationRecord | undefined {
    return this.host.slots.running.get(id)?.task ?? this.host.warmTasks.parkedTask(id);
  }

  view(t: MigrationRecord, positions?: Map<string, number>): MigrationTask {
    const queuePosition = t.state === 'queued' ? positions?.get(t.id) : undefined;
    return taskView(t, this.host.now(), queuePosition);
  }

  async queuePositions(): Promise<Map<string, number>> {
    return (await this.host.queue.ready()).positions(this.host.slots.free());
  }

  /** A filter on a VM ID names this connector's vCenter's VM: other vCenters of the fleet number VMs alike. */
  private scoped(filter: TaskFilter): TaskFilter {
    const vcenterId = filter.vmId !== undefined ? this.host.fleetVcenterId() : undefined;
    return vcenterId !== undefined ? { ...filter, vcenterId } : filter;
  }

  private async jsonSource(): Promise<TaskJsonSource> {
    const queue = await this.host.queue.ready();
    let positions: Map<string, number> | undefined;
    return { live: (id) => this.live(id), view: (t) => this.view(t, t.state === 'queued' ? (positions ??= queue.positions(this.host.slots.free())) : undefined) };
  }
}

const STATE_WORDS: Partial<Record<MigrationState, string>> = { queued: 'queued', running: 'running', cancelling: 'being cancelled' };

/** 409 naming the migration that holds the VM; the refused request's import authorization is spent. */
export function migrationAlreadyRunning(vmId: string, holder: MigrationTask | undefined): AppError {
  const vm = holder?.vmName ? `${holder.vmName} (${vmId})` : vmId;
  const which = holder
    ? `migration task ${holder.id}, requested by ${holder.requestedBy} at ${holder.createdAt}, is ${STATE_WORDS[holder.state] ?? holder.state}${holder.state === 'running' ? ` (${holder.phase})` : ''}`
    : 'another migration is in progress';
  return new AppError(
    409,
    'MIGRATION_ALREADY_RUNNING',
    `The virtual machine ${vm} is already being migrated: ${which}. A VM can have one migration at a time: wait for that migration to end, or cancel it (VM-to-EC2 Migrations). ` +
      'This request used up its import authorization: once that migration has ended, begin the migration again from Migrate VM to EC2.',
    holder ? { migrationId: holder.id, requestedBy: holder.requestedBy, state: holder.state, phase: holder.phase } : undefined,
  );
}
