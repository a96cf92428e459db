import { z } from 'zod';
import { InstanceTypeName, PrivateIpv4, SecurityGroupId, SubnetId, uniqueList } from './aws-ids.ts';
import { EnvironmentId } from './environments.ts';
import { ApiErrorBody, ErrorCode } from './errors.ts';
import { ImportOptions } from './import-options.ts';
import { MigrationRequest } from './migrations.ts';
import { GuestPlatform, PreflightCode } from './preflight.ts';
import { CutoverShutdown, MigrationMode, MigrationState, WarmImagePath } from './tasks.ts';
import { singleLine } from './text.ts';
import { VmId } from './vms.ts';

/** Issue 14: a wave is many VMs migrated as one planned unit (name, priority, optional start window). */

export const WAVE_MAX_VMS = 500;
export const WAVE_PRIORITY_MIN = 0;
export const WAVE_PRIORITY_MAX = 100;

export const WaveId = z.string().regex(/^wav-[0-9a-z-]{6,64}$/, 'Not a wave id.');
export const WaveParams = z.strictObject({ id: WaveId });

/** ISO 8601 date-time with its offset (e.g. 2026-12-04T22:00:00+01:00 or …Z). */
const Instant = z.iso.datetime({ offset: true, error: 'Use an ISO 8601 date-time with its offset, e.g. 2026-12-04T22:00:00+01:00.' });

/** When the wave's migrations may start. Not before: they wait. Not after: those not started by then are cancelled. */
export const WaveWindow = z
  .strictObject({
    notBefore: Instant.optional(),
    notAfter: Instant.optional(),
  })
  .refine((w) => w.notBefore !== undefined || w.notAfter !== undefined, { message: 'A start window needs a not-before time, a not-after time, or both.' })
  .refine((w) => w.notBefore === undefined || w.notAfter === undefined || Date.parse(w.notBefore) < Date.parse(w.notAfter), {
    message: 'The start window ends before it begins: the not-after time must be later than the not-before time.',
    path: ['notAfter'],
  })
  .meta({ id: 'WaveWindow' });
export type WaveWindow = z.infer<typeof WaveWindow>;

/** What one VM may choose differently from the wave's common choices. */
export const WaveVmOverrides = z
  .strictObject({
    platform: GuestPlatform.optional(),
    instanceType: InstanceTypeName.optional(),
    privateIpAddress: PrivateIpv4.optional(),
  })
  .meta({ id: 'WaveVmOverrides' });
export type WaveVmOverrides = z.infer<typeof WaveVmOverrides>;

/** One VM of the wave with its own import authorization (POST /import-authorizations for this VM and environment). */
export const WaveVmRow = z
  .strictObject({
    vmId: VmId,
    token: MigrationRequest.shape.token,
    overrides: WaveVmOverrides.optional(),
  })
  .meta({ id: 'WaveVmRow' });
export type WaveVmRow = z.infer<typeof WaveVmRow>;

/** POST /waves: the common choices (what POST /migrations takes) and one row per VM. */
export const WaveCreate = z
  .strictObject({
    name: singleLine(80).trim().min(1, 'Name the wave.'),
    /** Higher first (0–100, default 0, the priority of a single migration); first come, first served within a priority. */
    priority: z.number().int('Use a whole number.').min(WAVE_PRIORITY_MIN, 'The lowest priority is 0.').max(WAVE_PRIORITY_MAX, 'The highest priority is 100.').default(0),
    window: WaveWindow.optional(),
    environmentId: EnvironmentId,
    platform: GuestPlatform,
    subnetId: SubnetId,
    instanceType: InstanceTypeName,
    securityGroupIds: uniqueList(SecurityGroupId, 5).min(1, 'Choose a security group.'),
    mode: MigrationMode.default('cold'),
    replicationIntervalMinutes: MigrationRequest.shape.replicationIntervalMinutes,
    cutoverShutdown: CutoverShutdown.optional(),
    imagePath: WarmImagePath.optional(),
    importOptions: ImportOptions.optional(),
    vms: z.array(WaveVmRow).min(1, 'Add at least one VM to the wave.').max(WAVE_MAX_VMS, `A wave has at most ${WAVE_MAX_VMS} VMs; split the list into several waves.`),
  })
  .superRefine((w, ctx) => {
    if (w.mode !== 'warm' && (w.replicationIntervalMinutes !== undefined || w.cutoverShutdown !== undefined || w.imagePath !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: 'The replication interval, the cutover shutdown and the image path apply only to "Replicate, then cut over" (mode warm).' });
    }
    const seen = new Map<string, number>();
    w.vms.forEach((row, i) => {
      const first = seen.get(row.vmId);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'vmId'], message: `The VM ${row.vmId} is in the wave twice (rows ${first + 1} and ${i + 1}); a VM can be in a wave once.` });
      } else seen.set(row.vmId, i);
    });
  })
  .meta({ id: 'WaveCreate' });
export type WaveCreateInput = z.input<typeof WaveCreate>;
export type WaveCreate = z.infer<typeof WaveCreate>;

/**
 * scheduled: no migration of the wave has started yet (waiting for its start window or a free slot); running: at least
 * one started and some have not ended; cancelling: Cancel wave was asked and some are still undoing; completed: every
 * migration completed; completed-with-failures: all ended, some failed or were cancelled; cancelled: the wave was cancelled, or every one of its
 * migrations was (e.g. its start window closed before any could start).
 */
export const WaveState = z.enum(['scheduled', 'running', 'cancelling', 'completed', 'completed-with-failures', 'cancelled']);
export type WaveState = z.infer<typeof WaveState>;

const Count = z.number().int().nonnegative();
/** How many of the wave's migrations are in each state. */
export const WaveCounts = z
  .object({ queued: Count, running: Count, cancelling: Count, completed: Count, failed: Count, cancelled: Count } satisfies Record<MigrationState, typeof Count>)
  .meta({ id: 'WaveCounts' });
export type WaveCounts = z.infer<typeof WaveCounts>;

export const Wave = z
  .object({
    id: WaveId,
    name: z.string(),
    priority: z.number().int().min(WAVE_PRIORITY_MIN).max(WAVE_PRIORITY_MAX),
    window: WaveWindow.optional(),
    environmentId: z.string(),
    mode: MigrationMode,
    createdBy: z.string(),
    createdAt: z.string(),
    state: WaveState,
    /** Number of VMs (= migrations) in the wave. */
    total: z.number().int().nonnegative(),
    counts: WaveCounts,
    /** Disk bytes still to copy to AWS across the wave's migrations that have not ended. */
    bytesLeft: z.number().int().nonnegative(),
    /** Seconds until the running migrations finish copying at their current rates; absent while none is copying. */
    etaSeconds: z.number().nonnegative().optional(),
    /** The wave's migration task ids, in the order of its rows. */
    taskIds: z.array(z.string()),
    cancelledBy: z.string().optional(),
    cancelledAt: z.string().optional(),
    /** The start window's not-after time passed: the wave's migrations that had not started by then were cancelled, each saying so. */
    windowClosedAt: z.string().optional(),
    /** When the last migration of the wave ended. */
    finishedAt: z.string().optional(),
  })
  .meta({ id: 'Wave' });
export type Wave = z.infer<typeof Wave>;

export const WaveListQuery = z.strictObject({
  environmentId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export type WaveListQuery = z.infer<typeof WaveListQuery>;

export const WaveList = z.object({ items: z.array(Wave), total: z.number().int().nonnegative() }).meta({ id: 'WaveList' });
export type WaveList = z.infer<typeof WaveList>;

/** One reason a row cannot migrate: a pre-flight blocker, or a refusal of its authorization (token, VM access). */
export const WaveRowBlocker = z
  .object({
    code: z.union([PreflightCode, ErrorCode]),
    message: z.string(),
    fix: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'WaveRowBlocker' });
export type WaveRowBlocker = z.infer<typeof WaveRowBlocker>;

/** The details of 422 PREFLIGHT_BLOCKED from POST /waves: every blocked row (index in `vms`, 0-based) and why. */
export const WaveRowBlockers = z
  .object({
    rows: z.array(
      z.object({
        index: z.number().int().nonnegative(),
        vmId: z.string(),
        vmName: z.string().optional(),
        blockers: z.array(WaveRowBlocker).min(1),
      }),
    ),
  })
  .meta({ id: 'WaveRowBlockers' });
export type WaveRowBlockers = z.infer<typeof WaveRowBlockers>;

/** 422 from POST /waves: code PREFLIGHT_BLOCKED, nothing was created; details name every blocked row. */
export const WaveBlocked = ApiErrorBody.extend({ details: WaveRowBlockers }).meta({ id: 'WaveBlocked' });
export type WaveBlocked = z.infer<typeof WaveBlocked>;
