// Roll back a cutover (issue 16): a completed migration's EC2 instance is stopped (or terminated) and its source VM
// powered back on, once, within the connector's rollback window.
import { z } from 'zod';

/** What happens to the migrated instance: stopped (it can be started again) or terminated (deleted). */
export const RollbackInstanceAction = z.enum(['stop', 'terminate']);
export type RollbackInstanceAction = z.infer<typeof RollbackInstanceAction>;

export const RollbackRequest = z
  .strictObject({
    /** Terminate the instance instead of stopping it (it cannot be started again). Default false. */
    terminateInstance: z.boolean().default(false),
  })
  .meta({ id: 'RollbackRequest' });
export type RollbackRequest = z.infer<typeof RollbackRequest>;

/** A completed migration's rollback: whether it can be rolled back now (the server decides), and what was done. */
export const MigrationRollback = z
  .object({
    /** The server allows POST /migrations/{id}/rollback now (it still checks that the source VM exists). */
    possible: z.boolean(),
    /** Why it cannot be rolled back (set when possible is false). */
    reason: z.string().optional(),
    /** When the rollback window closes (completion + the connector's window). */
    until: z.string().optional(),
    /** rolling-back while the instance is stopped and the VM powered on; failed: it may be tried again. */
    state: z.enum(['rolling-back', 'rolled-back', 'failed']).optional(),
    rolledBackBy: z.string().optional(),
    /** When the rollback was asked for. */
    rolledBackAt: z.string().optional(),
    instanceAction: RollbackInstanceAction.optional(),
    /** What was found: the instance was already terminated, or the VM was already powered on. */
    note: z.string().optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'MigrationRollback' });
export type MigrationRollback = z.infer<typeof MigrationRollback>;

/**
 * Resume replication of a rolled-back warm migration: a new warm migration of the same VM with the same choices
 * whose first cycle starts from the last replicated point (the last cycle's change ids, its EBS snapshots as
 * parents) when that point is still usable, else a full sync (fromLastPoint false, fullSyncReason says why).
 */
export const MigrationResume = z
  .object({
    /** The server allows POST /migrations/{id}/resume-replication now (it still checks the caller's rights and the VM). */
    possible: z.boolean(),
    /** Why replication cannot be resumed (set when possible is false). */
    reason: z.string().optional(),
    /** A resume now sends only the blocks changed since the last replicated point; false: it copies the disks whole. */
    fromLastPoint: z.boolean(),
    /** Why a resume would copy the disks whole (set when fromLastPoint is false). */
    fullSyncReason: z.string().optional(),
    /** When the last replicated point was frozen (the cutover's final cycle). */
    lastSyncAt: z.string().optional(),
    /** The migration that resumed this one's replication, who asked and when. */
    migrationId: z.string().optional(),
    resumedBy: z.string().optional(),
    resumedAt: z.string().optional(),
  })
  .meta({ id: 'MigrationResume' });
export type MigrationResume = z.infer<typeof MigrationResume>;
