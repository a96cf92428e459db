// The EBS side of a replication cycle that needs no cycle state: which 512 KiB EBS blocks vCenter's changed areas
// touch, how many of them lie below a resume point, and deleting the EBS snapshots a task no longer needs.
import { DeleteSnapshotCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { ChangedArea } from '../../vsphere/cbt.ts';
import { EBS_BLOCK_BYTES } from './types.ts';

/** Changed areas → sorted, merged runs [first, last] of 512 KiB block indexes within the disk. */
export function blockRuns(areas: ChangedArea[], capacityBytes: number): [number, number][] {
  const lastBlock = Math.ceil(capacityBytes / EBS_BLOCK_BYTES) - 1;
  const runs: [number, number][] = [];
  for (const a of [...areas].sort((x, y) => x.start - y.start)) {
    if (a.length <= 0) continue;
    const first = Math.floor(a.start / EBS_BLOCK_BYTES);
    const last = Math.min(lastBlock, Math.floor((a.start + a.length - 1) / EBS_BLOCK_BYTES));
    if (first > last) continue;
    const prev = runs[runs.length - 1];
    if (prev && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else runs.push([first, last]);
  }
  return runs;
}

/** Blocks of `runs` below `block`. */
export function countBelow(runs: [number, number][], block: number): number {
  let n = 0;
  for (const [a, b] of runs) {
    if (a >= block) break;
    n += Math.min(b, block - 1) - a + 1;
  }
  return n;
}

/** Deletes EBS snapshots; one already gone is fine. A snapshot still sealing is retried for a while. */
export async function deleteEbsSnapshots(ec2: EC2Client, ids: string[]): Promise<void> {
  for (const id of new Set(ids)) {
    for (let attempt = 1; ; attempt++) {
      try {
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
        break;
      } catch (err) {
        const name = (err as { name?: string; Code?: string }).name ?? '';
        if (name === 'InvalidSnapshot.NotFound' || name === 'InvalidSnapshotID.NotFound') break;
        if ((name === 'IncorrectState' || name === 'InvalidSnapshot.InUse') && attempt < 10) {
          await new Promise((r) => setTimeout(r, 500 * attempt));
          continue;
        }
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(`The connector could not delete the EBS snapshot ${id}: ${why}. Delete it in the EC2 console (Snapshots) once nothing uses it.`, {
          cause: err,
        });
      }
    }
  }
}
