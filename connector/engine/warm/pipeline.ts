// The warm pipeline: replicate the running VM's changed blocks into EBS snapshots every interval (warm/cycle.ts),
// launch and finish test instances on request, and cut over: power the source off, one final cycle, ImportImage from
// the final snapshots, launch as the cold path does, annotate the source. The scheduler runs one "work unit" at a
// time in a running slot (whatever is due now) and parks the task between units (see engine.ts).
import type { EBSClient } from '@aws-sdk/client-ebs';
import { DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import type { CutoverShutdown, WarmImagePath } from '../../contract/index.ts';
import { changeTrackingEnabled, objectProps, powerState, setChangeTracking, shutdownGuest } from '../../vsphere/cbt.ts';
import { el, text, toMoRef, wrap } from '../../vsphere/soap.ts';
import { VimFault, type Vim25Client } from '../../vsphere/vim25.ts';
import { ENVIRONMENT_TAG, launchInstance, registerImage, SOURCE_VM_TAG, TASK_TAG } from '../aws-launch.ts';
import type { AwsSteps } from '../aws-steps.ts';
import { errorText, MigrationError } from '../failures.ts';
import { retryDelay, sleep, SHUTDOWN, withVcenter, type EngineContext } from '../runtime.ts';
import type { MigrationRecord } from '../types.ts';
import { resourceTags } from '../import-options.ts';
import { abandonCycle, ensureChangeTracking, runCycle, type CycleDeps } from './cycle.ts';
import { deleteEbsSnapshots } from './ebs.ts';
import { registeredName, registerSpec } from './register.ts';
import { TestInstances } from './test-instance.ts';
import { checkResumePoint, resumedRecord, type WarmResumeSeed } from './resume.ts';
import type { WarmRecord } from './types.ts';

export const DEFAULT_INTERVAL_MINUTES = 15;

/** A cutover that cannot proceed now; replication goes on and the message says what to do. */
class CutoverRefused extends Error {}

export class WarmPipeline {
  readonly tests: TestInstances;

  constructor(
    private readonly ctx: EngineContext,
    private readonly aws: AwsSteps,
  ) {
    this.tests = new TestInstances(ctx, aws, (t, ids) => this.deleteSnapshots(t, ids));
  }

  static initial(intervalMinutes: number | undefined, shutdown: CutoverShutdown | undefined, imagePath?: WarmImagePath): WarmRecord {
    return {
      intervalMinutes: intervalMinutes ?? DEFAULT_INTERVAL_MINUTES,
      shutdown: shutdown ?? 'guest',
      disks: [],
      cycles: 0,
      supersededSnapshots: [],
      ...(imagePath === 'register-image' ? { requestedImagePath: imagePath } : {}),
    };
  }

  /** A resumed migration's record: the rolled-back one's point as its replicated state, checked by its first cycle. */
  static resumed(intervalMinutes: number | undefined, shutdown: CutoverShutdown | undefined, imagePath: WarmImagePath | undefined, seed: WarmResumeSeed): WarmRecord {
    return resumedRecord(WarmPipeline.initial(intervalMinutes, shutdown, imagePath), seed);
  }

  /** When the parked task should run next (ms since the epoch): now when a request or a cycle in flight waits. */
  dueAt(t: MigrationRecord): number {
    const w = t.warm!;
    if (w.cycle || this.requestPending(t)) return 0;
    return w.nextCycleAt ? Date.parse(w.nextCycleAt) : 0;
  }

  private requestPending(t: MigrationRecord): boolean {
    return !!t.warm!.cutover && t.phase !== 'cutting-over';
  }

  /** A test launch or finish to run beside replication (engine.ts runs it outside the slots). */
  testWork(t: MigrationRecord): ((signal: AbortSignal) => Promise<void>) | undefined {
    const state = t.state === 'running' && !t.warm?.cutover ? t.warm?.test?.state : undefined;
    if (state === 'launching') return (signal) => this.tests.launch(t, signal);
    if (state === 'finishing') return (signal) => this.tests.finish(t, signal);
    return undefined;
  }

  /** One work unit: a due cycle, then the cutover to the end. Returns to be parked or done. */
  async run(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const w = t.warm!;
    if (t.phase === 'queued') t.phase = 'initial-sync';
    if (t.phase === 'initial-sync' || t.phase === 'replicating') {
      if (w.cycle || Date.parse(w.nextCycleAt ?? '') <= this.ctx.opts.now().getTime() || !w.nextCycleAt) await this.cycle(t, signal);
      if (w.cutover && w.cycles > 0) {
        t.phase = 'cutting-over';
        this.ctx.save(t);
      }
    }
    if (t.phase === 'cutting-over') {
      try {
        await this.powerOffSource(t, signal);
      } catch (err) {
        if (!(err instanceof CutoverRefused)) throw err;
        // Replication goes on; the task says why the cutover stopped.
        t.warning = err.message;
        delete w.cutover;
        t.phase = 'replicating';
        this.ctx.save(t);
        return;
      }
      await this.finalSync(t, signal);
    }
    if (t.phase === 'importing' && w.requestedImagePath === 'register-image') {
      // The final snapshots become the AMI's own (finishCutover keeps them); no import slot.
      w.imagePath = 'register-image';
      t.imageId ??= await registerImage(this.aws, t, signal, registerSpec(t, 'cutover', w.cutover?.finalSnapshotIds ?? []));
      t.phase = 'launching';
      this.ctx.save(t);
    }
    if (t.phase === 'importing') {
      const ids = w.cutover?.finalSnapshotIds ?? [];
      w.imagePath = 'import-image';
      await this.aws.importImage(t, t, signal, {
        slotKey: t.id,
        clientToken: t.id,
        description: `vm2ec2 ${t.id} (${t.vmName ?? t.vmId})`,
        containers: ids.map((id, i) => ({ Description: `disk ${i + 1}`, SnapshotId: id })),
        onCompleted: () => (t.phase = 'launching'),
      });
    }
    if (t.phase === 'launching') {
      await launchInstance(this.aws, t, signal);
      if (w.cutover && !w.cutover.instanceLaunchedAt) w.cutover.instanceLaunchedAt = this.ctx.iso();
      this.ctx.save(t);
    }
    if (t.phase === 'cleaning-up') {
      await this.finishCutover(t).catch((err: unknown) => {
        if (signal.reason === SHUTDOWN) throw err;
        t.warning = `The instance is ready, but the connector could not tidy up after the cutover: ${errorText(err)}`;
        this.ctx.opts.log(`migration ${t.id}: ${t.warning}`);
      });
      t.phase = 'done';
    }
  }

  // ---------- replication ----------

  private ebs(t: MigrationRecord): EBSClient {
    const factory = this.ctx.opts.ebs;
    if (!factory) throw new MigrationError('This connector has no EBS direct API client configured, so it cannot replicate. Stop replication and use Migrate now.');
    return factory(t.region);
  }

  private deps(t: MigrationRecord, vc: Vim25Client, signal: AbortSignal): CycleDeps {
    return {
      vc,
      ebs: this.ebs(t),
      ec2: this.ctx.opts.ec2(t.region),
      vmId: t.vmId,
      snapshotName: snapshotName(t),
      tags: resourceTags(
        [
          { Key: TASK_TAG, Value: t.id },
          { Key: ENVIRONMENT_TAG, Value: t.environmentId },
          { Key: SOURCE_VM_TAG, Value: t.vmId },
        ],
        t,
      ),
      ...(t.importOptions?.encrypted ? { encryption: { kmsKeyArn: t.kmsKeyArn } } : {}),
      signal,
      now: () => this.ctx.opts.now(),
      checkpoint: () => this.ctx.save(t),
      ...(this.ctx.opts.bandwidth
        ? {
            throttle: this.ctx.opts.bandwidth.forTask(t.id, (capMBps) => {
              t.throttle = { capMBps, at: this.ctx.iso() };
              this.ctx.saveThrottled(t);
            }),
          }
        : {}),
    };
  }

  /** One replication cycle; a failed one is retried later (the task fails after maxExportAttempts in a row). */
  private async cycle(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const w = t.warm!;
    try {
      await withVcenter(this.ctx, t, async (vc) => {
        if (!w.disks.length) {
          // Decided and saved before CBT is touched, so a crash in between cannot forget to turn it off again.
          // The VM's name as vCenter has it now (messages and the instance's Name tag use it).
          t.vmName = (await vc.getVirtualMachine(t.vmId)).name;
          // RegisterImage's boot mode follows the VM's firmware.
          if (w.requestedImagePath === 'register-image') w.firmware = text((await objectProps(vc, { type: 'VirtualMachine', value: t.vmId }, ['config.firmware'])).get('config.firmware')) ?? 'bios';
          w.cbtEnabledByUs ??= !(await changeTrackingEnabled(vc, t.vmId));
          this.ctx.save(t);
          const { disks } = await ensureChangeTracking(vc, t.vmId);
          w.disks = disks;
          this.ctx.save(t);
        } else if (w.resumeCheck) {
          await checkResumePoint(t, vc, () => this.ctx.save(t));
        }
        await runCycle(w, this.deps(t, vc, signal));
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const n = (w.cycleFailures ?? 0) + 1;
      if (n >= this.ctx.opts.maxExportAttempts) throw new MigrationError(`Replication of ${t.vmName ?? t.vmId} failed ${n} times in a row; the last time: ${errorText(err)}`, { cause: err });
      w.cycleFailures = n;
      t.warning = `The last replication cycle failed (${errorText(err)}); the connector tries again shortly.`;
      w.nextCycleAt = new Date(this.ctx.opts.now().getTime() + retryDelay(n, this.ctx.opts.retryDelayMs, this.ctx.opts.retryMaxDelayMs)).toISOString();
      this.ctx.opts.log(`migration ${t.id}: ${t.warning}`);
      this.ctx.save(t);
      return;
    }
    if (w.cycleFailures) {
      delete w.cycleFailures;
      delete t.warning;
    }
    if (t.phase === 'initial-sync') t.phase = 'replicating';
    w.nextCycleAt = new Date(this.ctx.opts.now().getTime() + w.intervalMinutes * this.ctx.opts.minuteMs).toISOString();
    this.ctx.save(t);
    await this.deleteSuperseded(t);
  }

  /** Deletes replaced EBS snapshots that no test import reads any more. */
  private async deleteSuperseded(t: MigrationRecord): Promise<void> {
    const w = t.warm!;
    const pinned = new Set(w.test?.snapshotIds ?? []);
    const heads = new Set(w.disks.map((d) => d.ebsSnapshotId));
    const gone = w.supersededSnapshots.filter((id) => !pinned.has(id) && !heads.has(id));
    if (!gone.length) return;
    await this.deleteSnapshots(t, gone).catch((err: unknown) => this.ctx.opts.log(`migration ${t.id}: deleting replaced EBS snapshots failed: ${errorText(err)}`));
  }

  /** Deletes EBS snapshots and forgets them (superseded list). */
  private async deleteSnapshots(t: MigrationRecord, ids: string[]): Promise<void> {
    const w = t.warm!;
    // A resumed migration never deletes the snapshots the rolled-back migration's AMI uses.
    const notOurs = new Set(w.notOurs ?? []);
    await deleteEbsSnapshots(this.ctx.opts.ec2(t.region), ids.filter((id) => !notOurs.has(id)));
    w.supersededSnapshots = w.supersededSnapshots.filter((id) => !ids.includes(id));
    this.ctx.save(t);
  }

  // ---------- cutover ----------

  /** The source is powered off: by a guest shutdown (VMware Tools), or by the user (we wait). */
  private async powerOffSource(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const w = t.warm!;
    const c = w.cutover!;
    if (c.sourcePoweredOffAt) return;
    // A running test instance is finished first: cutover ends the test (the UI's confirmation says so).
    if (w.test) {
      w.test.state = 'finishing';
      this.ctx.save(t);
      await this.tests.finish(t, signal);
    }
    await withVcenter(this.ctx, t, async (vc) => {
      const vm = t.vmName ?? t.vmId;
      let state = await powerState(vc, t.vmId);
      if (state !== 'poweredOff' && w.shutdown === 'guest' && !c.shutdownRequestedAt) {
        const tools = text((await objectProps(vc, { type: 'VirtualMachine', value: t.vmId }, ['guest.toolsRunningStatus'])).get('guest.toolsRunningStatus'));
        if (tools !== 'guestToolsRunning') {
          throw new CutoverRefused(
            `Cut over did not start: VMware Tools is not running in ${vm}, so the connector cannot shut down the guest OS. Start VMware Tools in the guest, or power off ${vm} yourself (Actions → Power → Power Off), then cut over again. Replication continues.`,
          );
        }
        try {
          await shutdownGuest(vc, t.vmId);
        } catch (err) {
          if (err instanceof VimFault) throw new CutoverRefused(`Cut over did not start: vCenter refused to shut down the guest OS of ${vm} (${err.message}). Power off ${vm} yourself, then cut over again. Replication continues.`);
          throw err;
        }
        c.shutdownRequestedAt = this.ctx.iso();
        this.ctx.save(t);
      }
      const deadline = Date.now() + this.ctx.opts.guestShutdownTimeoutMs;
      while (state !== 'poweredOff') {
        if (w.shutdown === 'guest' && Date.now() > deadline) {
          delete c.shutdownRequestedAt;
          throw new CutoverRefused(
            `Cut over stopped: the guest OS of ${vm} did not shut down within ${Math.round(this.ctx.opts.guestShutdownTimeoutMs / 1000)} s. Check the VM's console, power it off yourself, then cut over again. Replication continues.`,
          );
        }
        await sleep(this.ctx.opts.powerOffPollMs, signal);
        state = await powerState(vc, t.vmId);
      }
    });
    c.sourcePoweredOffAt = this.ctx.iso();
    this.ctx.save(t);
  }

  /** Cycles until one froze the disks after the power-off, then hands its snapshots to the import. */
  private async finalSync(t: MigrationRecord, signal: AbortSignal): Promise<void> {
    const w = t.warm!;
    const c = w.cutover!;
    const off = c.sourcePoweredOffAt!;
    await withVcenter(this.ctx, t, async (vc) => {
      // A cycle frozen before the power-off (in flight when cutover began) completes first, then the final one runs.
      while (!(w.lastSyncAt && w.lastSyncAt >= off) || w.cycle) await runCycle(w, this.deps(t, vc, signal));
    });
    c.finalSnapshotIds = w.disks.map((d) => d.ebsSnapshotId!);
    t.phase = 'importing';
    this.ctx.save(t);
    await this.deleteSuperseded(t);
  }

  /**
   * After launch: note the instance on the source VM and delete the replaced snapshots. The last replicated point (the
   * chain heads and CBT) is kept: Resume replication after a rollback starts from it, and warm/resume.ts releases it
   * when the rollback window closes without one.
   */
  private async finishCutover(t: MigrationRecord): Promise<void> {
    const w = t.warm!;
    await withVcenter(this.ctx, t, async (vc) => {
      await annotate(vc, t.vmId, `Migrated to Amazon EC2 by vm2ec2: instance ${t.instanceId} in ${t.region} (migration task ${t.id}).`);
    });
    w.pointKept = true;
    this.ctx.save(t);
    // A registered AMI uses the final snapshots themselves: they are the AMI's now (and the kept heads too).
    const keep = new Set([...w.disks.map((d) => d.ebsSnapshotId), ...(w.imagePath === 'register-image' ? (w.cutover?.finalSnapshotIds ?? []) : [])]);
    await this.deleteSnapshots(t, w.supersededSnapshots.filter((id) => !keep.has(id)));
  }

  // ---------- Stop replication and failure ----------

  /** Removes everything the task made, on both sides; every step best effort so one failure does not hide the others. */
  async undo(t: MigrationRecord, cancelled: boolean): Promise<void> {
    const w = t.warm!;
    const warn = (what: string) => (err: unknown) => this.ctx.opts.log(`migration ${t.id}: ${what} failed: ${errorText(err)}`);
    const noSignal = new AbortController().signal;
    await withVcenter(this.ctx, t, async (vc) => {
      // Removes the task's vCenter snapshots (by name, recorded or not) and completes then deletes pending EBS snapshots.
      await abandonCycle(w, this.deps(t, vc, noSignal)).catch(warn('abandoning the replication cycle'));
      if (w.cbtEnabledByUs) {
        await setChangeTracking(vc, t.vmId, false).then(() => (w.cbtEnabledByUs = false), warn('turning Changed Block Tracking off'));
      }
    }).catch(warn('opening vCenter for cleanup'));
    if (w.test) await this.tests.remove(t).catch(warn('removing the test instance'));
    if (w.requestedImagePath === 'register-image' && !t.imageId && t.phase === 'importing') {
      // Registered, but the answer was lost: found by its name so undo deregisters it (its snapshots cannot go before).
      const found = await this.aws.findRegisteredImage(t, registeredName(t, 'cutover')).catch((err: unknown) => void warn('looking up the registered AMI')(err));
      if (found) t.imageId = found;
    }
    await this.aws.undoImportAndLaunch(t, cancelled || t.phase === 'importing');
    // Every snapshot the task recorded, and any it made but could not record (found by its task tag).
    const ids = new Set([...w.disks.map((d) => d.ebsSnapshotId), ...w.supersededSnapshots, ...(w.test?.snapshotIds ?? [])].filter((id): id is string => !!id));
    const tagged = await this.aws
      .call(t, 'EC2', 'DescribeSnapshots', undefined, () =>
        this.ctx.opts.ec2(t.region).send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:${TASK_TAG}`, Values: [t.id] }] })),
      )
      .catch((err: unknown) => void warn('listing the task\'s EBS snapshots')(err));
    for (const s of tagged?.Snapshots ?? []) if (s.SnapshotId) ids.add(s.SnapshotId);
    await this.deleteSnapshots(t, [...ids]).then(() => {
      for (const d of w.disks) delete d.ebsSnapshotId;
    }, warn('deleting EBS snapshots'));
    this.ctx.save(t);
  }
}

/** The name of the task's replication snapshots in vCenter (strays with it are the task's own). */
export function snapshotName(t: MigrationRecord): string {
  return `vm2ec2-warm-${t.id}`;
}

/** Appends a line to the VM's Notes (config.annotation), once. */
async function annotate(vc: Vim25Client, vmId: string, line: string): Promise<void> {
  const ref = { type: 'VirtualMachine', value: vmId };
  const current = text((await objectProps(vc, ref, ['config.annotation'])).get('config.annotation')) ?? '';
  if (current.includes(line)) return;
  const task = toMoRef(await vc.invoke('ReconfigVM_Task', ref, wrap('spec', el('annotation', current ? `${current}\n${line}` : line))));
  if (task) await vc.waitForTask(task);
}
