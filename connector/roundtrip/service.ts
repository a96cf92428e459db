// Runs "Bring back to vCenter" tasks: each in the requesting user's own (cloned) vCenter session, so vCenter applies
// that user's privileges; recorded durably before anything is created in vCenter. A task found running after a
// restart (its session died with the process) has its lease aborted and half-made VM removed with the connector's
// vCenter account, then fails with what to do: never two VMs, never an orphan lease.
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { AppError } from '../errors.ts';
import { ActiveTaskConflict } from '../engine/task-store.ts';
import type { Vim25Client } from '../vsphere/vim25.ts';
import { undoExport, waitForExport, type ExportsForReturn } from './instance-source.ts';
import { AbortRun, runReturn, undoRun, type StopReason } from './run.ts';
import type { ReturnFilter, ReturnRecord, ReturnTaskRepository } from './store.ts';

export interface ReturnServiceOptions {
  repo: ReturnTaskRepository;
  s3(region: string): S3Client;
  /** The connector's own vCenter session (engine.vcenterAccount), for undoing a task after a restart; undefined without one. */
  serviceSession(): Promise<Vim25Client | undefined>;
  connectorId(): Promise<string>;
  keepAliveMs: number;
  /** The connector's exports, for tasks started from an imported instance (they export it first). */
  exports?: () => ExportsForReturn;
  log(message: string): void;
  now?: () => Date;
}

interface Running {
  abort: AbortController;
  done: Promise<void>;
  /** The record the run writes: a cancel marks this one, so the run's next save cannot undo the mark. */
  rec: ReturnRecord;
}

const RESTART_TEXT =
  'The connector restarted while bringing the VM back; the user session the import ran in ended with it.';

export class ReturnService {
  private readonly now: () => Date;
  private readonly running = new Map<string, Running>();
  private stopped = false;

  constructor(private readonly opts: ReturnServiceOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Records the task and starts it on `client` (a session cloned from the requester's; logged out when the task ends). */
  async start(input: Omit<ReturnRecord, 'id' | 'seq' | 'state' | 'phase' | 'percent' | 'bytesUploaded' | 'createdAt' | 'updatedAt'>, client: Vim25Client): Promise<ReturnRecord> {
    const at = this.now().toISOString();
    let rec: ReturnRecord;
    try {
      rec = await this.opts.repo.insert({
        ...input,
        id: `ret-${randomUUID()}`,
        state: 'running',
        // From an imported instance: the export the route started comes first.
        phase: input.source === 'instance' ? 'exporting' : 'reading-ova',
        percent: 0,
        bytesUploaded: 0,
        connectorId: await this.opts.connectorId(),
        createdAt: at,
        startedAt: at,
        updatedAt: at,
      });
    } catch (err) {
      await client.logout().catch(() => undefined);
      if (err instanceof ActiveTaskConflict) {
        const holder = err.holder as ReturnRecord | undefined;
        throw new AppError(
          409,
          'RETURN_ALREADY_RUNNING',
          `A virtual machine named "${input.name}" is already being brought back into this folder${holder ? ` (task ${holder.id}, requested by ${holder.requestedBy})` : ''}. Wait for it to finish, or choose another name.`,
          holder ? { returnId: holder.id } : undefined,
        );
      }
      throw err;
    }
    this.launch(rec, client);
    return rec;
  }

  private launch(rec: ReturnRecord, client: Vim25Client): void {
    const abort = new AbortController();
    const done = this.execute(rec, client, abort.signal).finally(() => {
      this.running.delete(rec.id);
      return client.logout().catch(() => undefined);
    });
    this.running.set(rec.id, { abort, done, rec });
  }

  private async execute(rec: ReturnRecord, client: Vim25Client, signal: AbortSignal): Promise<void> {
    try {
      if (rec.phase === 'exporting') {
        await waitForExport(rec, this.exports(), signal, async (patch) => {
          Object.assign(rec, patch, { updatedAt: this.now().toISOString() });
          await this.opts.repo.save(rec);
        });
        if (signal.aborted) throw new AbortRun((signal.reason as StopReason) ?? 'cancel');
      }
      await runReturn(rec, {
        client,
        s3: this.opts.s3(rec.region),
        signal,
        keepAliveMs: this.opts.keepAliveMs,
        save: (r) => this.opts.repo.save(r),
        now: this.now,
      });
    } catch (err) {
      const reason: StopReason | undefined = signal.aborted ? ((signal.reason as StopReason) ?? 'cancel') : err instanceof AbortRun ? err.reason : undefined;
      await this.end(rec, client, reason, err);
    }
  }

  /** Undoes what the run made and records how it ended. */
  private async end(rec: ReturnRecord, client: Vim25Client | undefined, reason: StopReason | undefined, err: unknown): Promise<void> {
    const before = rec.phase;
    rec.phase = 'cleaning-up';
    rec.updatedAt = this.now().toISOString();
    await this.opts.repo.save(rec).catch(() => undefined);
    const why = reason === 'cancel' ? `Cancelled by ${rec.cancelledBy ?? 'the user'}` : reason === 'shutdown' ? 'The connector stopped' : `Failed: ${(err as Error)?.message ?? String(err)}`;
    const leftover = client
      ? await undoRun(client, { ...rec, phase: before }, why).catch((e: unknown) => `undoing the import: ${(e as Error).message}`)
      : `the connector has no vCenter account (engine.vcenterAccount) to undo the import with${rec.leaseId ? `: abort import lease ${rec.leaseId}` : ''}${rec.vmId || rec.leaseId ? ` and delete the VM "${rec.name}" if vCenter still lists it` : ''}`;
    let undone = leftover ? ` Not everything could be undone — ${leftover}. Remove it in the vSphere Client.` : rec.leaseId || rec.vmId ? ' The import was aborted and the half-made VM removed.' : '';
    if (rec.source === 'instance') undone += await this.endExport(rec, reason).catch((e: unknown) => ` The export to S3 could not be undone — ${(e as Error).message}.`);
    delete rec.leaseId;
    if (!leftover) delete rec.vmId;
    delete rec.etaSeconds;
    const at = this.now().toISOString();
    rec.phase = 'done';
    rec.finishedAt = at;
    rec.updatedAt = at;
    if (reason === 'cancel') {
      rec.state = 'cancelled';
      rec.message = `Cancelled by ${rec.cancelledBy ?? 'the user'}.${undone}`;
    } else if (reason === 'shutdown') {
      rec.state = 'failed';
      rec.message = `The connector stopped while bringing the VM back.${undone} Start Bring back to vCenter again.`;
    } else {
      rec.state = 'failed';
      rec.message = `${failureText(err)}${undone}`;
    }
    await this.opts.repo.save(rec);
  }

  private exports(): ExportsForReturn {
    const exports = this.opts.exports?.();
    if (!exports) throw new Error('This connector has no export service to export the instance with.');
    return exports;
  }

  /**
   * A task that exported the instance itself: a cancel removes the export (cancelled, or its OVA deleted); any other
   * end removes an export still running (nothing would use it) and keeps a completed one, saying where it is.
   */
  private async endExport(rec: ReturnRecord, reason: StopReason | undefined): Promise<string> {
    const exports = this.exports();
    const exp = await exports.get(rec.exportId).catch(() => undefined);
    if (!exp) return '';
    if (reason !== 'cancel' && exp.state === 'completed') {
      return ` The export's OVA file stays in S3 (s3://${exp.bucket}/${exp.s3Key ?? ''}): bring it back from EC2-to-S3 Migrations, or delete it there.`;
    }
    const by = rec.cancelledBy ?? `Bring back to vCenter task ${rec.id}`;
    const left = await undoExport(rec, exports, this.opts.s3(rec.region), by).catch((e: unknown) => `undoing the export: ${(e as Error).message}`);
    if (left) return ` The export to S3 could not be undone — ${left}.`;
    return exp.state === 'completed' ? ` The export's OVA file s3://${exp.bucket}/${exp.s3Key ?? ''} was deleted.` : ` The export ${exp.exportTaskId || exp.id} was cancelled and its files removed from S3.`;
  }

  get(id: string): Promise<ReturnRecord | undefined> {
    return this.opts.repo.get(id);
  }

  list(filter: ReturnFilter) {
    return this.opts.repo.list(filter);
  }

  /** Cancels a running task (its lease aborted, the half-made VM removed); an ended task is returned unchanged. */
  async cancel(id: string, by: string): Promise<ReturnRecord | undefined> {
    const rec = await this.opts.repo.get(id);
    if (!rec || (rec.state !== 'running' && rec.state !== 'cancelling')) return rec;
    const run = this.running.get(id);
    if (!run) {
      if (rec.connectorId && rec.connectorId !== (await this.opts.connectorId())) {
        throw new AppError(409, 'RETURN_ON_OTHER_CONNECTOR', `Task ${id} runs on connector ${rec.connectorId}: cancel it there (Connector status lists the connectors).`);
      }
      // Ours but not running here: left by a restart that has not been swept yet.
      await this.recover(rec);
      return this.opts.repo.get(id);
    }
    const live = run.rec;
    live.state = 'cancelling';
    live.cancelledBy = by;
    live.cancelledAt = this.now().toISOString();
    live.updatedAt = live.cancelledAt;
    await this.opts.repo.save(live);
    run.abort.abort('cancel' satisfies StopReason);
    await run.done;
    return this.opts.repo.get(id);
  }

  /** On start: this connector's tasks left running by a stopped process are undone and fail (or end cancelled). */
  async resume(): Promise<void> {
    const me = await this.opts.connectorId();
    for (const rec of await this.opts.repo.byStates(['running', 'cancelling'])) {
      if (this.running.has(rec.id) || (rec.connectorId && rec.connectorId !== me)) continue;
      await this.recover(rec).catch((err: unknown) => this.opts.log(`Bring back to vCenter: task ${rec.id} could not be recovered: ${(err as Error).message}`));
    }
  }

  private async recover(rec: ReturnRecord): Promise<void> {
    const client = await this.opts.serviceSession().catch(() => undefined);
    const cancelled = rec.state === 'cancelling';
    await this.end(rec, client, cancelled ? 'cancel' : undefined, new Error(RESTART_TEXT));
    if (!cancelled) {
      rec.message = `${rec.message} Start Bring back to vCenter again.`;
      await this.opts.repo.save(rec);
    }
  }

  /** Stops every run (each undoes what it made), waiting at most `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopped = true;
    const runs = [...this.running.values()];
    for (const r of runs) r.abort.abort('shutdown' satisfies StopReason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(runs.map((r) => r.done)), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

/** A failure in the user's words: vCenter's and S3's own reasons, with what to do. */
function failureText(err: unknown): string {
  const e = err as { name?: string; message?: string; faultType?: string; Code?: string };
  const text = (e.message ?? String(err)).replace(/[.\s]+$/, '');
  if (e.name === 'NoSuchKey' || e.Code === 'NoSuchKey') return 'The OVA is no longer in S3 (it was deleted or moved). Export the instance again, then bring it back.';
  if (e.name === 'OvaFormatError') return `The file in S3 cannot be imported: ${text}.`;
  if (e.faultType === 'NoPermission') return `vCenter refused the import: ${text}. Ask your vCenter administrator for the privilege, then start again.`;
  if (e.faultType) return `vCenter refused the import (${e.faultType}): ${text}.`;
  return `${text}.`;
}
