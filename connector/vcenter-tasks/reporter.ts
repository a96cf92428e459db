// Reports migrations and exports into vCenter as an administrator sees them there: one extension task per
// migration or export on the VM (Recent Tasks, started by the requesting user, progress, success / error with our
// message), events on the VM at the moments that matter, and the EC2 custom attributes and a notes line when a
// migration completes. It observes the engine's saves (engine/observer.ts): calls run in the background, one
// task's in order, and a vCenter failure is logged and retried, never passed to the migration.
import type { MigrationBefore, ExportBefore, TaskObserver } from '../engine/observer.ts';
import type { ExportRecord } from '../engine/task-store.ts';
import { taskView } from '../engine/task-view.ts';
import type { MigrationRecord } from '../engine/types.ts';
import { VimFault } from '../vsphere/soap.ts';
import { VcenterNetworkError } from '../vsphere/soap-transport.ts';
import { appendVmNote, createTask, ensureCustomField, postEvent, setCustomField, setTaskState, updateProgress } from '../vsphere/tasks-events.ts';
import type { MoRef, Vim25Client } from '../vsphere/vim25.ts';
import { CUSTOM_FIELD_TYPE, CUSTOM_FIELDS, EVENT_TYPES, formatEvent, TASK_TYPES, type EventTypeKey } from './catalog.ts';
import { migrationMoments } from './moments.ts';

export type ReportedKind = 'migration' | 'export';

export interface VcenterReporterOptions {
  /** A logged-in session to report with (undefined: none available for this task; see docs/vcenter-integration.md). */
  session(kind: ReportedKind, taskId: string): Promise<Vim25Client | undefined>;
  /** Keeps the task's own vCenter session open until `work` settles (a handed-over session ends with its task). */
  hold?(taskId: string, work: Promise<void>): void;
  /** Persists the vCenter task's moRef in the task record, so a restarted connector updates the same task. */
  remember(kind: ReportedKind, taskId: string, moRef: string): void | Promise<void>;
  /** The source VM of a migrated instance: exports are shown on it. */
  sourceVm(instanceId: string): { vmId: string; vmName?: string } | undefined | Promise<{ vmId: string; vmName?: string } | undefined>;
  log(msg: string): void;
  /** At most one UpdateProgress per task per this many ms (default 2,000). */
  progressMs?: number;
  /** Attempts per vCenter call when vCenter is unreachable (default 4; waits double from retryMs). */
  attempts?: number;
  retryMs?: number;
  now?: () => Date;
}

/** One unit of work for a task's vCenter view. */
type Step =
  | { kind: 'state'; state: 'queued' | 'running' | 'success' | 'error'; error?: { message: string; cancelled?: boolean } }
  | { kind: 'progress'; percent: number }
  | { kind: 'event'; type: EventTypeKey; args: Record<string, string>; environmentId?: string }
  | { kind: 'attributes'; values: Record<string, string> }
  | { kind: 'note'; line: string };

interface Tracked {
  kind: ReportedKind;
  id: string;
  vm: { ref: MoRef; name: string };
  requestedBy: string;
  taskTypeId: string;
  ref: MoRef | undefined;
  chain: Promise<void>;
  lastPercent: number;
  lastProgressAt: number;
  /** The session is missing: said once. */
  warnedNoSession: boolean;
  /** vCenter refused the task type (the plug-in registered without it): events only, said once. */
  noTaskType: boolean;
  /** The engine's live record: the vCenter task goes into it too, so the engine's next save keeps it. */
  record?: { vcenterTask?: string };
}

const vmRef = (vmId: string): MoRef => ({ type: 'VirtualMachine', value: vmId });
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export class VcenterReporter implements TaskObserver {
  private readonly tracked = new Map<string, Tracked>();
  /** Per export, its saves waiting for the source VM lookup. */
  private readonly exportLookups = new Map<string, Promise<void>>();
  private readonly fieldKeys = new Map<string, number>();
  private readonly progressMs: number;
  private readonly attempts: number;
  private readonly retryMs: number;
  private readonly now: () => Date;
  /** The environment's name for events (the portal's word for it); its id where unknown. */
  private environmentName: (id: string) => Promise<string | undefined> = async () => undefined;

  constructor(private readonly opts: VcenterReporterOptions) {
    this.progressMs = opts.progressMs ?? 2_000;
    this.attempts = opts.attempts ?? 4;
    this.retryMs = opts.retryMs ?? 1_000;
    this.now = opts.now ?? (() => new Date());
  }

  migrationSaved(t: Readonly<MigrationRecord>, before: MigrationBefore | undefined): void {
    const tr = this.track('migration', t.id, t.vmId, t.vmName ?? t.vmId, t.requestedBy, TASK_TYPES.migrate.id, t.vcenterTask);
    tr.record = t as { vcenterTask?: string };
    const steps: Step[] = [];
    if (!before) {
      const args = { migrationId: t.id, requestedBy: t.requestedBy, environment: t.environmentId, region: t.region };
      steps.push({ kind: 'event', type: 'requested', args, environmentId: t.environmentId });
    }
    if (t.state === 'running' && before?.state !== 'running') steps.push({ kind: 'state', state: 'running' });
    for (const m of migrationMoments(t, before, this.now())) steps.push({ kind: 'event', type: m.type, args: m.args });
    if (t.state === 'running') {
      const percent = taskView(t, this.now(), undefined).percent ?? 0;
      const due = Date.now() - tr.lastProgressAt >= this.progressMs;
      if (percent !== tr.lastPercent && (due || percent === 100)) {
        tr.lastPercent = percent;
        tr.lastProgressAt = Date.now();
        steps.push({ kind: 'progress', percent });
      }
    }
    if (TERMINAL.has(t.state) && before?.state !== t.state) steps.push(...this.migrationEnd(t));
    this.enqueue(tr, steps, TERMINAL.has(t.state));
  }

  private migrationEnd(t: Readonly<MigrationRecord>): Step[] {
    if (t.state === 'completed') {
      const at = t.finishedAt ?? this.now().toISOString();
      const steps: Step[] = [{ kind: 'state', state: 'success' }];
      if (t.instanceId) {
        steps.push({ kind: 'attributes', values: { [CUSTOM_FIELDS.instanceId]: t.instanceId, [CUSTOM_FIELDS.region]: t.region, [CUSTOM_FIELDS.migratedAt]: at } });
        steps.push({ kind: 'note', line: `${at.slice(0, 16).replace('T', ' ')} UTC: migrated to Amazon EC2 as ${t.instanceId} in ${t.region} (requested by ${t.requestedBy}, task ${t.id})` });
      }
      return steps;
    }
    if (t.state === 'cancelled') {
      const by = t.cancelledBy ?? 'a user';
      return [
        { kind: 'state', state: 'error', error: { message: `Cancelled by ${by}.`, cancelled: true } },
        { kind: 'event', type: 'cancelled', args: { migrationId: t.id, cancelledBy: by } },
      ];
    }
    const reason = t.error ?? 'The migration failed.';
    return [
      { kind: 'state', state: 'error', error: { message: reason } },
      { kind: 'event', type: 'failed', args: { migrationId: t.id, reason } },
    ];
  }

  exportSaved(e: Readonly<ExportRecord>, before: ExportBefore | undefined): void {
    // The source VM is looked up in the store first: each export's saves are reported in the order they came.
    const saved = { ...e };
    const next = (this.exportLookups.get(e.id) ?? Promise.resolve())
      .then(async () => this.reportExport(saved, before, await this.opts.sourceVm(saved.instanceId)))
      .catch((err: unknown) => this.opts.log(`vCenter: export ${saved.id} is not shown in vCenter: ${String(err)}`));
    this.exportLookups.set(e.id, next);
    void next.then(() => {
      if (this.exportLookups.get(e.id) === next) this.exportLookups.delete(e.id);
    });
  }

  private reportExport(e: Readonly<ExportRecord>, before: ExportBefore | undefined, vm: { vmId: string; vmName?: string } | undefined): void {
    if (!vm) {
      if (!before) this.opts.log(`vCenter: export ${e.id} of ${e.instanceId} is not shown in vCenter: no migration of this connector launched that instance`);
      return;
    }
    const tr = this.track('export', e.id, vm.vmId, vm.vmName ?? vm.vmId, e.requestedBy, TASK_TYPES.export.id, e.vcenterTask);
    const steps: Step[] = [];
    if (e.state === 'active' && before?.state !== 'active') steps.push({ kind: 'state', state: 'running' });
    if (TERMINAL.has(e.state) && before?.state !== e.state) {
      if (e.state === 'completed') {
        steps.push({ kind: 'state', state: 'success' }, { kind: 'event', type: 'exportCompleted', args: { exportId: e.id, instanceId: e.instanceId, bucket: e.bucket, key: e.s3Key ?? e.s3Prefix } });
      } else if (e.state === 'cancelled') {
        const by = e.cancelledBy ?? 'a user';
        steps.push({ kind: 'state', state: 'error', error: { message: `Cancelled by ${by}.`, cancelled: true } }, { kind: 'event', type: 'exportCancelled', args: { exportId: e.id, instanceId: e.instanceId, cancelledBy: by } });
      } else {
        const reason = e.statusMessage ?? 'The export failed.';
        steps.push({ kind: 'state', state: 'error', error: { message: reason } }, { kind: 'event', type: 'exportFailed', args: { exportId: e.id, instanceId: e.instanceId, reason } });
      }
    }
    this.enqueue(tr, steps, TERMINAL.has(e.state));
  }

  useEnvironmentNames(lookup: (id: string) => Promise<string | undefined>): void {
    this.environmentName = lookup;
  }

  /** Resolves when every queued report has been sent or given up (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.exportLookups.values()]);
    for (;;) {
      const chains = [...this.tracked.values()].map((t) => t.chain);
      if (chains.length === 0) return;
      await Promise.allSettled(chains);
      if ([...this.tracked.values()].every((t) => chains.includes(t.chain))) return;
    }
  }

  private track(kind: ReportedKind, id: string, vmId: string, vmName: string, requestedBy: string, taskTypeId: string, saved: string | undefined): Tracked {
    let tr = this.tracked.get(id);
    if (!tr) {
      tr = {
        kind, id, vm: { ref: vmRef(vmId), name: vmName }, requestedBy, taskTypeId,
        ref: saved ? { type: 'Task', value: saved } : undefined,
        chain: Promise.resolve(), lastPercent: -1, lastProgressAt: 0, warnedNoSession: false, noTaskType: false,
      };
      this.tracked.set(id, tr);
    }
    return tr;
  }

  private enqueue(tr: Tracked, steps: Step[], last: boolean): void {
    // A task seen for the first time gets its vCenter task even when nothing else changed (a restart, an old task).
    if (steps.length === 0 && (tr.ref || tr.noTaskType)) return;
    const work = tr.chain.then(() => this.run(tr, steps));
    tr.chain = work;
    if (last) {
      this.opts.hold?.(tr.id, work);
      void work.finally(() => {
        if (this.tracked.get(tr.id)?.chain === work) this.tracked.delete(tr.id);
      });
    }
  }

  private async run(tr: Tracked, steps: Step[]): Promise<void> {
    let vc: Vim25Client | undefined;
    try {
      vc = await this.opts.session(tr.kind, tr.id);
    } catch (err) {
      this.opts.log(`vCenter: no session to report ${tr.kind} ${tr.id}: ${errorText(err)}`);
      return;
    }
    if (!vc) {
      if (!tr.warnedNoSession) this.opts.log(`vCenter: ${tr.kind} ${tr.id} is not shown in vCenter: the connector has no vCenter session for it (configure engine.vcenterAccount)`);
      tr.warnedNoSession = true;
      return;
    }
    const client = vc;
    await this.attempt(tr, 'CreateTask', async () => void (await this.ensureTask(client, tr)));
    for (const s of steps) await this.attempt(tr, s.kind, () => this.apply(client, tr, s));
  }

  private async ensureTask(vc: Vim25Client, tr: Tracked): Promise<boolean> {
    if (tr.ref) return true;
    if (tr.noTaskType) return false;
    try {
      tr.ref = await createTask(vc, tr.vm.ref, tr.taskTypeId, tr.requestedBy, false);
    } catch (err) {
      if (!(err instanceof VimFault && err.faultType === 'InvalidArgument')) throw err;
      tr.noTaskType = true;
      this.opts.log(`vCenter: ${tr.kind} ${tr.id} is not shown in Recent Tasks: vCenter does not know the task type ${tr.taskTypeId} (${err.message}). Run vm2ec2 register again to declare it.`);
      return false;
    }
    if (tr.record) tr.record.vcenterTask = tr.ref.value;
    await this.opts.remember(tr.kind, tr.id, tr.ref.value);
    return true;
  }

  private async apply(vc: Vim25Client, tr: Tracked, s: Step): Promise<void> {
    switch (s.kind) {
      case 'state':
      case 'progress':
        return this.onTask(vc, tr, (ref) => (s.kind === 'state' ? setTaskState(vc, ref, s.state, s.error) : updateProgress(vc, ref, s.percent)));
      case 'event': {
        const t = EVENT_TYPES[s.type];
        const name = s.environmentId ? await this.environmentName(s.environmentId).catch(() => undefined) : undefined;
        const args = name ? { ...s.args, environment: name } : s.args;
        return postEvent(vc, { eventTypeId: t.id, severity: t.severity, message: formatEvent(s.type, args), vm: tr.vm, arguments: args });
      }
      case 'attributes':
        for (const [name, value] of Object.entries(s.values)) await setCustomField(vc, tr.vm.ref, await this.fieldKey(vc, name), value);
        return;
      case 'note':
        return appendVmNote(vc, tr.vm.ref, s.line);
    }
  }

  /** Runs a call on the task; a task vCenter no longer has (it keeps finished ones a while) is created again. */
  private async onTask(vc: Vim25Client, tr: Tracked, call: (ref: MoRef) => Promise<void>): Promise<void> {
    if (!(await this.ensureTask(vc, tr)) || !tr.ref) return;
    try {
      await call(tr.ref);
    } catch (err) {
      if (!(err instanceof VimFault && err.faultType === 'ManagedObjectNotFound')) throw err;
      tr.ref = undefined;
      if (!(await this.ensureTask(vc, tr)) || !tr.ref) return;
      await setTaskState(vc, tr.ref, 'running');
      await call(tr.ref);
    }
  }

  private async fieldKey(vc: Vim25Client, name: string): Promise<number> {
    let key = this.fieldKeys.get(name);
    if (key === undefined) {
      key = (await ensureCustomField(vc, name, CUSTOM_FIELD_TYPE)).def.key;
      this.fieldKeys.set(name, key);
    }
    return key;
  }

  /** Retries while vCenter is unreachable; any other failure is logged and the step skipped. */
  private async attempt(tr: Tracked, what: string, call: () => Promise<void>): Promise<void> {
    for (let n = 1; ; n++) {
      try {
        return await call();
      } catch (err) {
        if (err instanceof VcenterNetworkError && n < this.attempts) {
          await new Promise((r) => setTimeout(r, this.retryMs * 2 ** (n - 1)).unref?.());
          continue;
        }
        this.opts.log(`vCenter: ${what} for ${tr.kind} ${tr.id} failed: ${errorText(err)}`);
        return;
      }
    }
  }

  /** Clears the EC2 custom attributes of a VM whose instance is gone (terminated, or no longer found). */
  async instanceGone(vc: Vim25Client, vmId: string): Promise<void> {
    for (const name of Object.values(CUSTOM_FIELDS)) {
      try {
        await setCustomField(vc, vmRef(vmId), await this.fieldKey(vc, name), '');
      } catch (err) {
        this.opts.log(`vCenter: clearing ${name} on ${vmId} failed: ${errorText(err)}`);
      }
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
