// The durable state of a warm migration, kept inside its MigrationRecord (JSON in the task store) and written at
// every step, so a connector killed at any point resumes without a full resync and without a second EBS snapshot,
// import or instance. The engine (warm/pipeline) owns the record; warm/cycle runs one replication cycle on it.
import type { CutoverShutdown, WarmImagePath, WarmTestInstance } from '../../contract/index.ts';

/** EBS direct API block size: every PutSnapshotBlock writes exactly one 512 KiB block. */
export const EBS_BLOCK_BYTES = 512 * 1024;

/** One virtual disk of the VM under replication. */
export interface WarmDisk {
  /** vim25 VirtualDevice.key of the disk (e.g. 2000). */
  deviceKey: number;
  /** vSphere label shown to the user ("Hard disk 1"). */
  label: string;
  capacityBytes: number;
  /** CBT change id of the last completed cycle's vCenter snapshot; absent before the first cycle completes. */
  changeId?: string;
  /** EBS snapshot holding the disk as of the last completed cycle (the head of its chain). */
  ebsSnapshotId?: string;
}

/** The cycle in flight, per disk. */
export interface WarmCycleDisk {
  deviceKey: number;
  /** The change id the areas are queried from ('*' for a full sync). */
  fromChangeId: string;
  /** The new snapshot's change id for this disk (becomes WarmDisk.changeId when the cycle completes). */
  toChangeId?: string;
  /** StartSnapshot's idempotency token for this disk in this cycle: a retry or resume never forks the chain. */
  clientToken: string;
  ebsSnapshotId?: string;
  /** Blocks (512 KiB indexes) below this index are acknowledged by EBS: a resume skips them. */
  nextBlock: number;
  /** Blocks at or above nextBlock that EBS acknowledged too (finished while a lower one was in flight): a resume skips them. */
  ackedAbove?: number[];
  /** Changed blocks in this cycle (known once the areas were queried) and how many were written so far. */
  changedBlocks?: number;
  blocksWritten: number;
  /** Bytes vCenter reported changed (sum of changed areas) and bytes sent (whole blocks). */
  changedBytes: number;
  sentBytes: number;
  done: boolean;
}

export interface WarmCycle {
  /** 1 = the initial sync. */
  n: number;
  /** Copies every allocated block ('*'), and why (first sync; CBT was reset). */
  full: boolean;
  fullReason?: string;
  startedAt: string;
  /** vCenter snapshot (moref value) that freezes the disks for this cycle, and when it was taken. */
  vcSnapshot?: string;
  frozenAt?: string;
  disks: WarmCycleDisk[];
}

export interface WarmRecord {
  intervalMinutes: number;
  shutdown: CutoverShutdown;
  /** CBT was off and this task enabled it (Stop replication turns it off again). */
  cbtEnabledByUs?: boolean;
  disks: WarmDisk[];
  /** Completed cycles (the initial sync included). */
  cycles: number;
  cycle?: WarmCycle;
  lastSyncAt?: string;
  lastCycleChangedBytes?: number;
  lastCycleSentBytes?: number;
  nextCycleAt?: string;
  /** The next cycle must be a full sync, and why (e.g. CBT was reset on the VM). */
  fullSyncReason?: string;
  /** EBS snapshots replaced by a newer cycle, to delete once nothing (a test import) still reads them. */
  supersededSnapshots: string[];
  test?: WarmTestInstance & {
    snapshotIds?: string[];
    /** The test import's progress as EC2 reports it (see MigrationRecord's import fields). */
    importStatus?: string;
    importProgress?: number;
    importFirstSeen?: { at: string; progress: number };
    importProgressAt?: string;
    importEtaSeconds?: number;
  };
  /** Cycles that failed in a row (the task fails after engine.maxExportAttempts of them). */
  cycleFailures?: number;
  cutover?: {
    requestedBy: string;
    requestedAt: string;
    /** ShutdownGuest was sent (cutoverShutdown guest): a resume waits for power-off instead of asking again. */
    shutdownRequestedAt?: string;
    sourcePoweredOffAt?: string;
    /** The final cycle is done: the snapshots to make the image from. */
    finalSnapshotIds?: string[];
    instanceLaunchedAt?: string;
  };
  /** The path the image was made by (set when the cutover's image is made; the view shows it). */
  imagePath?: WarmImagePath;
  /** The path asked for at submission (default import-image). */
  requestedImagePath?: WarmImagePath;
  /** The VM's config.firmware ('efi' or 'bios'), read at the first cycle: RegisterImage's boot mode. */
  firmware?: string;
  /**
   * After the cutover: the chain heads (disks[].ebsSnapshotId) and CBT were kept as the point Resume replication
   * starts from, until the rollback window closes (warm/resume.ts releases them) or a resume takes them over.
   */
  pointKept?: boolean;
  /** Resume replication: the migration this one continues and its last replicated point. */
  resumedFrom?: { migrationId: string; lastSyncAt?: string };
  /** Resume replication: the first cycle checks CBT and the disks against the seeded point before using it. */
  resumeCheck?: boolean;
  /** EBS snapshots in this record that are not the task's to delete (the resumed migration's AMI uses them). */
  notOurs?: string[];
}
