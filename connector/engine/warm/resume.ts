// Resume replication after a rolled-back warm cutover (issue 16). The cutover keeps its last replicated point (the
// chain heads' EBS snapshots and the VM's Changed Block Tracking) while the rollback window is open; a resume starts a
// NEW warm migration of the VM seeded with that point, so its first cycle sends only the blocks changed since the
// cutover. A new task rather than the completed one re-entering `replicating`: the completed migration, its rollback,
// its instance, its vCenter task and its notifications stay what they were (history), and the new task gets its own
// vCenter task, Stop replication and cutover like any other, under the one-active-migration-per-VM rule.
// When the window closes without a resume, the connector releases the point: it deletes the kept EBS snapshots (not
// an AMI's own) and turns CBT off if the migration had turned it on.
import { DescribeSnapshotsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { MigrationResume } from '../../contract/index.ts';
import { changeTrackingEnabled, setChangeTracking, vmDisks } from '../../vsphere/cbt.ts';
import type { Vim25Client } from '../../vsphere/vim25.ts';
import { rollbackUntil, rollbackWindowMs } from '../rollback.ts';
import type { MigrationRecord, MigrationSubmission } from '../types.ts';
import type { MigrationTaskRepository } from '../task-store.ts';
import { deleteEbsSnapshots } from './ebs.ts';
import type { WarmDisk, WarmRecord } from './types.ts';

/** What the store keeps of a resume (or of the point's release), on the rolled-back migration. */
export interface ResumeRecord {
  /** resuming: claimed, the new task is being recorded; resumed: it is; released: the point was given up (window closed). */
  state: 'resuming' | 'resumed' | 'released';
  at: string;
  by?: string;
  /** The new migration (resumed). */
  migrationId?: string;
  /** Release: what could not be tidied (e.g. CBT left on), for the log and the row. */
  note?: string;
}

/** What a resumed migration starts from (MigrationSubmission.resumeOf). */
export interface WarmResumeSeed {
  migrationId: string;
  lastSyncAt?: string | undefined;
  /** The disks with their last change ids and chain heads (without heads when falling back to a full sync). */
  disks: WarmDisk[];
  cbtEnabledByUs?: boolean | undefined;
  firmware?: string | undefined;
  /** Set when the point is not usable: the first cycle copies the disks whole, and the task says why. */
  fullSyncReason?: string | undefined;
  /** Snapshots the seed refers to that the new task must never delete (the rolled-back migration's AMI's own). */
  notOurs: string[];
  /** A full sync's fallback: the old point's heads, for the new task to delete once its first cycle is done. */
  superseded: string[];
}

/** The repository's resume marks (SQLite and PostgreSQL have them; wrappers may not). */
export interface ResumeMarks {
  /**
   * Sets (or, with null, removes) `resume` on a completed migration in one statement, only while its current resume
   * state is one of `from` (null: none). false: another request or connector changed it first.
   */
  markResume(id: string, mark: ResumeRecord | null, from: readonly (ResumeRecord['state'] | null)[]): Promise<boolean>;
  /**
   * The release sweep's candidates, filtered by the store so a sweep reads only them: completed warm migrations that
   * kept their point, carry no resume mark and finished at or before `finishedBy` (ISO; their window has closed).
   */
  keptPointsDue(finishedBy: string): Promise<MigrationRecord[]>;
}

export function resumeMarks(repo: object): ResumeMarks | undefined {
  const r = repo as Partial<ResumeMarks>;
  return typeof r.markResume === 'function' && typeof r.keptPointsDue === 'function' ? (repo as ResumeMarks) : undefined;
}

const whenText = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');

export const CBT_OFF_REASON = 'Changed Block Tracking was turned off on the VM after the cutover, so replication starts with a full sync of the whole disk.';
export const NOT_KEPT_REASON = 'This migration did not keep its last replicated point at cutover, so replication starts with a full sync of the whole disk.';
export const disksChangedReason = (vm: string) => `The virtual disks of ${vm} changed since the cutover (added, removed or resized), so replication starts with a full sync of the whole disk.`;
export const parentMissingReason = (label: string, id: string) =>
  `The last replicated EBS snapshot of ${label} (${id}) no longer exists (deleted with the instance's image, or outside the connector), so replication starts with a full sync of the whole disk.`;
export const windowClosedResumeReason = (until: string) =>
  `The rollback window closed at ${whenText(until)}, so the connector released the last replicated point (its EBS snapshots and Changed Block Tracking); replication starts with a full sync of the whole disk.`;

/**
 * A claim older than this was left by a request whose connector stopped before it recorded the new task (a claim
 * becomes `resumed` within seconds): the next request finds out what became of it (resume route) and may resume.
 */
export const RESUME_CLAIM_STALE_MS = 5 * 60_000;

/** A `resuming` claim its request never finished. */
export function staleResumeClaim(r: ResumeRecord | undefined, now: number): boolean {
  return r?.state === 'resuming' && now - Date.parse(r.at) > RESUME_CLAIM_STALE_MS;
}

/** Why this completed warm migration's replication cannot be resumed now; undefined when it can. */
export function resumeRefusal(t: MigrationRecord, now: number = Date.now()): string | undefined {
  if (t.mode !== 'warm' || !t.warm) return 'It is a Migrate now migration: only a Replicate, then cut over migration can resume replication. Start a new migration instead (Migrate VM to EC2).';
  if (t.state !== 'completed') return `It is ${t.state}: replication can be resumed only after a completed migration was rolled back.`;
  const r = t.resume;
  if (r?.state === 'resumed') return `Replication was resumed by ${r.by ?? 'someone'} at ${whenText(r.at)} as migration ${r.migrationId ?? ''}. Follow that migration instead.`;
  if (r?.state === 'resuming' && !staleResumeClaim(r, now)) return `${r.by ?? 'Someone'} is resuming replication (since ${whenText(r.at)}).`;
  const rb = t.rollback;
  if (!rb) return 'It was not rolled back: the instance is still the migrated VM. Roll back first (Actions → Roll back), which powers the source VM on again, then resume replication.';
  if (rb.state === 'rolling-back') return `${rb.by} is rolling it back. Wait until the rollback has finished, then resume replication.`;
  if (rb.state === 'failed') return 'Its rollback did not finish. Roll back again (Actions → Roll back), then resume replication.';
  return undefined;
}

/** Why a resume now would copy the disks whole, as far as the record tells (the route checks EBS and vCenter too). */
export function recordedFallback(t: MigrationRecord, now: number): string | undefined {
  const w = t.warm;
  if (!w?.pointKept || !w.disks.every((d) => d.changeId && d.ebsSnapshotId)) return NOT_KEPT_REASON;
  const until = rollbackUntil(t);
  if (t.resume?.state === 'released' || (until !== undefined && now >= until)) return windowClosedResumeReason(new Date(until ?? now).toISOString());
  return undefined;
}

/** The task view's `resume`: completed warm migrations only. */
export function resumeView(t: MigrationRecord, now: Date): MigrationResume | undefined {
  if (t.mode !== 'warm' || !t.warm || t.state !== 'completed') return undefined;
  const reason = resumeRefusal(t, now.getTime());
  const fallback = recordedFallback(t, now.getTime());
  const r = t.resume?.state === 'resumed' || (t.resume?.state === 'resuming' && !staleResumeClaim(t.resume, now.getTime())) ? t.resume : undefined;
  return {
    possible: reason === undefined,
    ...(reason ? { reason } : {}),
    fromLastPoint: fallback === undefined,
    ...(fallback ? { fullSyncReason: fallback } : {}),
    ...(t.warm.lastSyncAt ? { lastSyncAt: t.warm.lastSyncAt } : {}),
    ...(r?.state === 'resumed' && r.migrationId ? { migrationId: r.migrationId } : {}),
    ...(r?.by ? { resumedBy: r.by } : {}),
    ...(r ? { resumedAt: r.at } : {}),
  };
}

/**
 * Whether the kept point is still usable, checked where it lives: the heads in EBS (DescribeSnapshots) and the VM's
 * CBT and disks in vCenter (the caller's own session). undefined: usable; else why the resume copies the disks whole.
 */
export async function liveFallback(t: MigrationRecord, ec2: EC2Client, vc: Vim25Client, now: number): Promise<string | undefined> {
  const recorded = recordedFallback(t, now);
  if (recorded) return recorded;
  const w = t.warm!;
  const vm = t.vmName ? `"${t.vmName}"` : t.vmId;
  const disks = await vmDisks(vc, t.vmId);
  const same = disks.length === w.disks.length && w.disks.every((d) => disks.some((x) => x.deviceKey === d.deviceKey && x.capacityBytes === d.capacityBytes));
  if (!same) return disksChangedReason(vm);
  if (!(await changeTrackingEnabled(vc, t.vmId))) return CBT_OFF_REASON;
  for (const d of w.disks) {
    const id = d.ebsSnapshotId!;
    const found = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] })).then(
      (out) => out.Snapshots?.find((s) => s.SnapshotId === id && s.State === 'completed'),
      (err: unknown) => {
        const name = (err as { name?: string }).name ?? '';
        if (name === 'InvalidSnapshot.NotFound' || name === 'InvalidSnapshotID.NotFound') return undefined;
        throw err;
      },
    );
    if (!found) return parentMissingReason(d.label, id);
  }
  return undefined;
}

/** The new warm migration: the rolled-back one's choices, requested by `by`, from its point (or a full sync, and why). */
export function resumeSubmission(t: MigrationRecord, by: string, fullSyncReason: string | undefined): MigrationSubmission {
  const w = t.warm!;
  const finals = w.imagePath === 'register-image' ? (w.cutover?.finalSnapshotIds ?? []) : [];
  const disks: WarmDisk[] = w.disks.map((d) => ({
    deviceKey: d.deviceKey,
    label: d.label,
    capacityBytes: d.capacityBytes,
    ...(fullSyncReason === undefined && d.changeId ? { changeId: d.changeId } : {}),
    ...(fullSyncReason === undefined && d.ebsSnapshotId ? { ebsSnapshotId: d.ebsSnapshotId } : {}),
  }));
  return {
    environmentId: t.environmentId,
    region: t.region,
    vmId: t.vmId,
    vmName: t.vmName,
    platform: t.platform,
    subnetId: t.subnetId,
    instanceType: t.instanceType,
    securityGroupIds: t.securityGroupIds,
    privateIpAddress: t.privateIpAddress,
    leaveRunning: t.leaveRunning,
    requestedBy: by,
    mode: 'warm',
    replicationIntervalMinutes: w.intervalMinutes,
    cutoverShutdown: w.shutdown,
    imagePath: w.requestedImagePath,
    importOptions: t.importOptions,
    kmsKeyArn: t.kmsKeyArn,
    resumeOf: {
      migrationId: t.id,
      lastSyncAt: w.lastSyncAt,
      disks,
      // Whoever turned CBT on turns it off: the new task takes that over (and the old point's snapshots) either way.
      cbtEnabledByUs: w.cbtEnabledByUs,
      firmware: w.firmware,
      fullSyncReason,
      notOurs: finals,
      superseded: fullSyncReason === undefined ? [] : w.disks.map((d) => d.ebsSnapshotId).filter((id): id is string => !!id && !finals.includes(id)),
    },
  };
}

/** Completed warm migrations whose kept point is due for release at `now` (window closed, not resumed, not released). */
export function pointDue(t: MigrationRecord, now: number): boolean {
  if (t.state !== 'completed' || t.mode !== 'warm' || !t.warm?.pointKept || t.resume) return false;
  const until = rollbackUntil(t);
  return until !== undefined && now >= until;
}

/**
 * Gives the point up: the kept heads are deleted (an AMI's own are left to it) and CBT is turned off when the
 * migration turned it on and no other migration of the VM runs now (`othersActive`). Returns what was left, if anything.
 */
export async function releasePoint(
  t: MigrationRecord,
  deps: { ec2: EC2Client; vcenter: <T>(use: (vc: Vim25Client) => Promise<T>) => Promise<T>; othersActive: boolean },
): Promise<string | undefined> {
  const w = t.warm!;
  const keep = new Set([...(w.imagePath === 'register-image' ? (w.cutover?.finalSnapshotIds ?? []) : []), ...(w.notOurs ?? [])]);
  const notes: string[] = [];
  const heads = w.disks.map((d) => d.ebsSnapshotId).filter((id): id is string => !!id && !keep.has(id));
  await deleteEbsSnapshots(deps.ec2, heads).catch((err: unknown) => notes.push((err as Error).message));
  if (w.cbtEnabledByUs) {
    if (deps.othersActive) notes.push('Changed Block Tracking was left on: another migration of the VM is running and uses it.');
    else {
      await deps.vcenter((vc) => setChangeTracking(vc, t.vmId, false)).catch((err: unknown) =>
        notes.push(`Changed Block Tracking could not be turned off (${(err as Error).message}); turn it off in the VM's settings if nothing else uses it.`),
      );
    }
  }
  return notes.length ? notes.join(' ') : undefined;
}

/** A resumed migration's warm record: `base` (the form's choices) with the seeded point. */
export function resumedRecord(base: WarmRecord, seed: WarmResumeSeed): WarmRecord {
  return {
    ...base,
    disks: seed.disks.map((d) => ({ ...d })),
    supersededSnapshots: [...seed.superseded],
    resumedFrom: { migrationId: seed.migrationId, ...(seed.lastSyncAt ? { lastSyncAt: seed.lastSyncAt } : {}) },
    resumeCheck: true,
    ...(seed.cbtEnabledByUs !== undefined ? { cbtEnabledByUs: seed.cbtEnabledByUs } : {}),
    ...(seed.firmware ? { firmware: seed.firmware } : {}),
    ...(seed.fullSyncReason ? { fullSyncReason: seed.fullSyncReason } : {}),
    ...(seed.notOurs.length ? { notOurs: [...seed.notOurs] } : {}),
  };
}

/**
 * A resumed migration's first cycle (the engine's own session): the seeded point is used only if CBT is still on and
 * the disks are the same; otherwise CBT is turned on (this task then turns it off when it ends) and the cycle copies
 * the disks whole, saying why. A reset CBT (refused change ids) and a deleted parent snapshot are caught by cycle.ts.
 */
export async function checkResumePoint(t: MigrationRecord, vc: Vim25Client, save: () => void): Promise<void> {
  const w = t.warm!;
  t.vmName = (await vc.getVirtualMachine(t.vmId)).name;
  const disks = await vmDisks(vc, t.vmId);
  const same = disks.length === w.disks.length && w.disks.every((d) => disks.some((x) => x.deviceKey === d.deviceKey && x.capacityBytes === d.capacityBytes));
  let reason: string | undefined;
  if (!(await changeTrackingEnabled(vc, t.vmId))) {
    reason = CBT_OFF_REASON;
    // Recorded before CBT is touched, so a crash in between cannot forget to turn it off again.
    w.cbtEnabledByUs = true;
    save();
    await setChangeTracking(vc, t.vmId, true);
  }
  if (!same) reason ??= disksChangedReason(`"${t.vmName}"`);
  if (reason && !w.fullSyncReason) {
    // The old heads are deleted once this full sync has replaced them.
    for (const d of w.disks) if (d.ebsSnapshotId && !w.supersededSnapshots.includes(d.ebsSnapshotId)) w.supersededSnapshots.push(d.ebsSnapshotId);
    w.fullSyncReason = reason;
  }
  if (!same) w.disks = disks.map((d) => ({ deviceKey: d.deviceKey, label: d.label, capacityBytes: d.capacityBytes }));
  delete w.resumeCheck;
  save();
}

/** How often a connector looks for kept points whose rollback window closed. */
export const RELEASE_EVERY_MS = 10 * 60_000;

/** Releases kept points whose window closed; each release claimed in the store first, so one connector does it. */
export class ResumePoints {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      tasks: MigrationTaskRepository;
      ec2(region: string): EC2Client;
      vcenter<T>(t: MigrationRecord, use: (vc: Vim25Client) => Promise<T>): Promise<T>;
      /** The VM's active migration, if any (CBT stays on for it). */
      activeFor(vmId: string): Promise<unknown>;
      /** Tasks of other vCenters of a fleet are left to their connectors. */
      ours(t: MigrationRecord): boolean;
      now(): Date;
      log(line: string): void;
    },
  ) {}

  start(): void {
    const sweep = () => void this.releaseDue().catch((err: unknown) => this.deps.log(`warm: releasing kept replication points failed: ${String(err)}`));
    this.timer = setInterval(sweep, RELEASE_EVERY_MS);
    this.timer.unref?.();
    sweep();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Releases every due point now; returns the migrations whose point it released. */
  async releaseDue(): Promise<string[]> {
    const marks = resumeMarks(this.deps.tasks);
    if (!marks) return [];
    const done: string[] = [];
    const cutoff = new Date(this.deps.now().getTime() - rollbackWindowMs()).toISOString();
    for (const t of await marks.keptPointsDue(cutoff)) {
      const now = this.deps.now();
      if (!pointDue(t, now.getTime()) || !this.deps.ours(t)) continue;
      const at = now.toISOString();
      if (!(await marks.markResume(t.id, { state: 'released', at }, [null]))) continue;
      const note = await releasePoint(t, {
        ec2: this.deps.ec2(t.region),
        vcenter: (use) => this.deps.vcenter(t, use),
        othersActive: (await this.deps.activeFor(t.vmId)) !== undefined,
      }).catch((err: unknown) => String(err));
      if (note) {
        this.deps.log(`migration ${t.id}: releasing its last replicated point: ${note}`);
        await marks.markResume(t.id, { state: 'released', at, note }, ['released']);
      }
      done.push(t.id);
    }
    return done;
  }
}
