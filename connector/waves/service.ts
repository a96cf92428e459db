// Waves (issue 14): many VMs migrated as one planned unit. Creating one admits every row exactly as POST /migrations
// admits one VM (routes/migration-admission.ts) and creates nothing unless every row may start; its migrations are
// ordinary engine tasks carrying waveId, priority and the start window, which the engine's claim orders and filters by.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { MigrationTask, Wave, WaveCreate, WaveList, WaveRowBlocker, WaveRowBlockers } from '../contract/index.ts';
import type { Caller } from '../auth/plugin.ts';
import { AppError } from '../errors.ts';
import { audit } from '../routes/access-helpers.ts';
import { admitVm, environmentForMigration, handOverSession, submissionFor, type AdmittedVm, type MigrationChoices } from '../routes/migration-admission.ts';
import type { ImportTokenClaims } from '../auth/import-token.ts';
import type { WaveFilter, WaveRecord, WaveRepository, WaveTaskRef } from './store.ts';
import { waveView } from './view.ts';
import { WINDOW_SWEEPER, windowClosedReason } from './window.ts';

/** Rows pre-flighted at once: each reads the VM in vCenter and asks AWS, so a 500-VM wave must not fire 500 at a time. */
const PREFLIGHT_CONCURRENCY = 4;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const blockerOf = (err: AppError): WaveRowBlocker => ({ code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });

interface RowResult {
  choices: MigrationChoices;
  claims?: ImportTokenClaims;
  admitted?: AdmittedVm;
  blockers: WaveRowBlocker[];
}

export class WaveService {
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly app: FastifyInstance,
    readonly repo: WaveRepository,
    private readonly now: () => Date,
  ) {}

  static newId(): string {
    return `wav-${randomUUID()}`;
  }

  /** POST /waves. Refusals are audited (wave.create denied); every admitted VM is audited like POST /migrations. */
  async create(caller: Caller, body: WaveCreate): Promise<Wave> {
    const app = this.app;
    const base = { action: 'wave.create' as const, environmentId: body.environmentId };
    try {
      return await this.admitAndCreate(caller, body);
    } catch (err) {
      if (err instanceof AppError && err.statusCode < 500) {
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message, details: { name: body.name, vms: body.vms.length, ...err.details } });
      }
      throw err;
    }
  }

  private async admitAndCreate(caller: Caller, body: WaveCreate): Promise<Wave> {
    const app = this.app;
    // Checked before any token is looked at, so the same tokens work once the update has finished.
    if (app.engine.updating) {
      throw new AppError(503, 'CONNECTOR_UPDATING', 'The connector is being updated and accepts no new waves right now. Running migrations continue; try again in a few minutes.');
    }
    const window = this.window(body);
    const { environment, role } = await environmentForMigration(app, caller, body.environmentId);

    const { vms, name: _name, priority: _priority, window: _window, environmentId: _env, ...common } = body;
    const results = await mapLimit(vms, PREFLIGHT_CONCURRENCY, async (row): Promise<RowResult> => {
      const choices: MigrationChoices = { ...common, vmId: row.vmId, ...row.overrides };
      const result: RowResult = { choices, blockers: [] };
      const collect = async (step: () => Promise<void>) => {
        try {
          await step();
        } catch (err) {
          if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
          result.blockers.push(blockerOf(err));
        }
      };
      await collect(async () => {
        result.claims = await app.importTokens.check(row.token, { user: caller.principal, environmentId: environment.id, vmId: row.vmId });
      });
      await collect(async () => {
        result.admitted = await admitVm(app, caller, environment, role, choices);
        result.blockers.push(...result.admitted.blockers);
      });
      const active = await app.engine.activeFor(row.vmId);
      if (active) {
        result.blockers.push({
          code: 'MIGRATION_ALREADY_RUNNING',
          message: `This VM is already being migrated: migration task ${active.id}, requested by ${active.requestedBy}, is ${active.state}. A VM can have one migration at a time.`,
          fix: 'Wait for that migration to end, or cancel it in VM-to-EC2 Migrations, or remove the VM from the wave.',
          details: { migrationId: active.id, requestedBy: active.requestedBy, state: active.state },
        });
      }
      return result;
    });
    // Two rows asking for the same private IP address: the second could never launch.
    const ipOwner = new Map<string, number>();
    results.forEach((r, i) => {
      const ip = r.choices.privateIpAddress;
      if (!ip) return;
      const first = ipOwner.get(ip);
      if (first === undefined) return void ipOwner.set(ip, i);
      const other = results[first]?.admitted?.vmName ?? vms[first]?.vmId;
      r.blockers.push({ code: 'PRIVATE_IP_IN_USE', message: `The private IP address ${ip} is also chosen for ${other} in this wave.`, fix: 'Choose another address for one of them, or leave it empty so AWS chooses one.' });
    });
    this.refuseBlocked(vms.map((v) => v.vmId), results);

    // Every row may start: use up the authorizations (a token presented twice at once is refused here, row named).
    for (const [i, r] of results.entries()) {
      try {
        await app.importTokens.consume(r.claims!);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        r.blockers.push(blockerOf(err));
        this.refuseBlocked(vms.map((v) => v.vmId), results, i);
      }
    }

    const now = this.now().toISOString();
    const tasks: WaveTaskRef[] = results.map((r) => ({ id: `mig-${randomUUID()}`, vmId: r.choices.vmId, vmName: r.admitted!.vmName, diskBytes: r.admitted!.diskBytes }));
    const wave: WaveRecord = {
      id: WaveService.newId(),
      name: body.name,
      priority: body.priority,
      ...window,
      environmentId: environment.id,
      mode: body.mode,
      createdBy: caller.principal,
      createdAt: now,
      tasks,
    };
    // The wave first: a task never names a wave that does not exist.
    await this.repo.insert(wave);
    const submitted: MigrationTask[] = [];
    let handedOver: string | undefined;
    try {
      for (const [i, r] of results.entries()) {
        const ref = tasks[i]!;
        await handOverSession(app, caller, (handedOver = ref.id));
        const sub = { ...submissionFor(r.choices, r.admitted!, environment, caller.principal), waveId: wave.id, priority: body.priority, ...window };
        submitted.push(await app.engine.submit(sub, ref.id));
        handedOver = undefined;
      }
    } catch (err) {
      // A VM that got a migration since its pre-flight (the engine refuses it atomically): undo the wave, name the VM.
      // The refused task's session is ended here; the cancelled ones' end with their tasks.
      if (handedOver) await app.engineSessions.end(handedOver);
      for (const t of submitted) await app.engine.cancel(t.id, caller.principal);
      await this.repo.delete(wave.id);
      throw err;
    }
    for (const [i, t] of submitted.entries()) {
      const what = body.mode === 'warm' ? 'warm migration (replicate, then cut over)' : 'migration';
      await audit(app, caller, {
        action: 'migration.request',
        outcome: 'granted',
        environmentId: environment.id,
        vmId: t.vmId,
        vmName: tasks[i]!.vmName,
        message: `Import authorized; ${what} ${t.id} queued in the wave "${wave.name}" (${wave.id}).`,
        details: { waveId: wave.id, importOptions: results[i]!.admitted!.importOptions },
      });
    }
    await audit(app, caller, {
      action: 'wave.create',
      outcome: 'granted',
      environmentId: environment.id,
      message: `Created the wave "${wave.name}" (${wave.id}): ${tasks.length} VM${tasks.length === 1 ? '' : 's'}, priority ${wave.priority}${wave.notBefore ? `, not before ${wave.notBefore}` : ''}${wave.notAfter ? `, not after ${wave.notAfter}` : ''}.`,
      details: { waveId: wave.id, priority: wave.priority, ...window, migrations: tasks.map((t) => ({ id: t.id, vmId: t.vmId, vmName: t.vmName })) },
    });
    return this.view(wave);
  }

  /** The start window as stored (UTC); a window already over is refused, since none of the wave could ever start. */
  private window(body: WaveCreate): { notBefore?: string; notAfter?: string } {
    const w = body.window;
    if (!w) return {};
    const notBefore = w.notBefore ? new Date(w.notBefore).toISOString() : undefined;
    const notAfter = w.notAfter ? new Date(w.notAfter).toISOString() : undefined;
    const now = this.now();
    if (notAfter && Date.parse(notAfter) <= now.getTime()) {
      throw new AppError(400, 'VALIDATION_FAILED', `The start window closed at ${notAfter} (it is ${now.toISOString()} on the connector): no migration of this wave could start. Choose a later not-after time, or none.`);
    }
    return { ...(notBefore ? { notBefore } : {}), ...(notAfter ? { notAfter } : {}) };
  }

  /** 422 PREFLIGHT_BLOCKED naming every blocked row, when any is. */
  private refuseBlocked(vmIds: string[], results: RowResult[], only?: number): void {
    const rows: WaveRowBlockers['rows'] = results.flatMap((r, index) =>
      r.blockers.length > 0 && (only === undefined || only === index)
        ? [{ index, vmId: vmIds[index]!, ...(r.admitted ? { vmName: r.admitted.vmName } : {}), blockers: r.blockers as [WaveRowBlocker, ...WaveRowBlocker[]] }]
        : [],
    );
    if (rows.length === 0) return;
    const named = rows.slice(0, 3).map((r) => `${r.vmName ?? r.vmId}: ${r.blockers[0]!.message}`).join('; ');
    throw new AppError(
      422,
      'PREFLIGHT_BLOCKED',
      `The wave cannot begin: ${rows.length} of ${results.length} VM${results.length === 1 ? ' is' : 's are'} blocked (${named}${rows.length > 3 ? '; …' : ''}). Nothing was created. Fix what each row says or remove those VMs, then begin the wave again.`,
      { rows },
    );
  }

  async view(w: WaveRecord): Promise<Wave> {
    const tasks = await Promise.all(w.tasks.map(async (t) => (await this.app.engine.get(t.id)) as MigrationTask | undefined));
    return waveView(w, tasks);
  }

  async list(filter: WaveFilter): Promise<WaveList> {
    const page = await this.repo.list(filter);
    return { items: await Promise.all(page.items.map((w) => this.view(w))), total: page.total };
  }

  /**
   * Cancels every migration of the wave that has not ended, through the engine's cancel (each records who asked).
   * Idempotent: a second cancel changes nothing and keeps the first canceller. Returns the ids it cancelled now.
   */
  async cancel(w: WaveRecord, by: string): Promise<{ wave: Wave; cancelled: string[] }> {
    const marked = (await this.repo.markCancelled(w.id, by, this.now().toISOString())) ?? w;
    const cancelled: string[] = [];
    for (const ref of marked.tasks) {
      const before = (await this.app.engine.get(ref.id)) as MigrationTask | undefined;
      if (!before || before.state === 'completed' || before.state === 'failed' || before.state === 'cancelled' || before.state === 'cancelling') continue;
      await this.app.engine.cancel(ref.id, by);
      cancelled.push(ref.id);
    }
    return { wave: await this.view(marked), cancelled };
  }

  /**
   * The start window's end: every wave whose not-after time has passed (on the engine's clock) has its still-queued
   * migrations cancelled, each saying why. One connector of a fleet does it per wave (markWindowClosed).
   */
  async sweep(): Promise<number> {
    const at = this.now().toISOString();
    let n = 0;
    for (const w of await this.repo.windowsClosedBy(at)) {
      if (!(await this.repo.markWindowClosed(w.id, at))) continue;
      const cancelled: string[] = [];
      for (const ref of w.tasks) {
        const t = (await this.app.engine.get(ref.id)) as MigrationTask | undefined;
        if (t?.state !== 'queued') continue;
        await this.app.engine.cancel(ref.id, WINDOW_SWEEPER);
        cancelled.push(ref.id);
      }
      n += cancelled.length;
      await this.app.store.audit.append({
        actor: WINDOW_SWEEPER,
        action: 'wave.cancel',
        outcome: 'granted',
        environmentId: w.environmentId,
        message: `${windowClosedReason(w.notAfter!)} Cancelled ${cancelled.length} migration${cancelled.length === 1 ? '' : 's'} of the wave "${w.name}" (${w.id}) that had not started.`,
        details: { waveId: w.id, notAfter: w.notAfter, cancelled },
      });
    }
    return n;
  }

  /** Sweeps every `everyMs` until stop(). A failure is logged when it starts or changes, not every round, and its end too. */
  start(everyMs: number): void {
    if (this.sweeper) return;
    let failing: string | undefined;
    this.sweeper = setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(
          () => {
            if (failing !== undefined) this.app.log.info('waves: the start-window sweep works again');
            failing = undefined;
          },
          (err: unknown) => {
            if (String(err) !== failing) this.app.log.warn(`waves: the start-window sweep failed (retried every ${everyMs / 1000} s): ${String(err)}`);
            failing = String(err);
          },
        )
        .finally(() => (this.sweeping = undefined));
    }, everyMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.sweeping;
  }
}
