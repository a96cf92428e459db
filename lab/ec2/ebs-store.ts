// EBS snapshots written through the EBS direct APIs: content-addressed 512 KiB blocks shared by every snapshot,
// each snapshot holding only the blocks written to it plus a pointer to its parent (as EBS stores incrementals).
// Memory grows with distinct block contents, not with volume size × snapshots.
import { createHash } from 'node:crypto';
import type { Tag } from './query.ts';
import { newId } from './state.ts';

export const EBS_BLOCK_SIZE = 524_288;
export const BLOCKS_PER_GIB = (1024 * 1024 * 1024) / EBS_BLOCK_SIZE;
const ZERO_BLOCK = Buffer.alloc(EBS_BLOCK_SIZE);

export type EbsSnapshotStatus = 'pending' | 'completed' | 'error';

export interface EbsSnapshot {
  id: string;
  region: string;
  status: EbsSnapshotStatus;
  /** Why a snapshot is in `error` (wrong ChangedBlocksCount, write timeout…), for DescribeSnapshots' StateMessage. */
  statusMessage?: string;
  volumeSizeGiB: number;
  parentId?: string;
  description?: string;
  tags: Tag[];
  encrypted: boolean;
  kmsKeyArn?: string;
  clientToken?: string;
  /** StartSnapshot's parameters, to tell an idempotent retry from a conflicting reuse of its ClientToken. */
  fingerprint?: string;
  timeoutMinutes: number;
  startTime: number;
  /** Last write or start: a pending snapshot is cancelled (`error`) `timeoutMinutes` after it. */
  lastActivity: number;
  completedAt?: number;
  /** Block index → content key (SHA-256 hex) of the blocks written to this snapshot only. */
  own: Map<number, string>;
  /** PutSnapshotBlock calls accepted for this snapshot (rewrites of a block included). */
  putCalls: number;
  /** Deleted by the user but still read by a descendant: hidden, kept only for its blocks. */
  deleted: boolean;
  /** Live or hidden snapshots whose parent this is. */
  children: number;
}

interface StoredBlock {
  data: Buffer;
  /** Snapshot block maps that point at this content. */
  refs: number;
}

export class EbsStore {
  private readonly snapshots = new Map<string, EbsSnapshot>();
  private readonly blocks = new Map<string, StoredBlock>();
  /** `${region}/${clientToken}` → snapshot id. */
  private readonly tokens = new Map<string, string>();
  private putCount = 0;

  /** A visible (not deleted) snapshot. */
  get(id: string): EbsSnapshot | undefined {
    const s = this.snapshots.get(id);
    return s && !s.deleted ? s : undefined;
  }

  list(region: string): EbsSnapshot[] {
    return [...this.snapshots.values()].filter((s) => !s.deleted && s.region === region);
  }

  byToken(region: string, token: string): EbsSnapshot | undefined {
    const id = this.tokens.get(`${region}/${token}`);
    return id === undefined ? undefined : this.snapshots.get(id);
  }

  create(init: Omit<EbsSnapshot, 'id' | 'own' | 'putCalls' | 'deleted' | 'children' | 'lastActivity'>): EbsSnapshot {
    const snap: EbsSnapshot = { ...init, id: newId('snap'), own: new Map(), putCalls: 0, deleted: false, children: 0, lastActivity: init.startTime };
    this.snapshots.set(snap.id, snap);
    if (snap.parentId !== undefined) {
      const parent = this.snapshots.get(snap.parentId);
      if (parent) parent.children += 1;
    }
    if (snap.clientToken !== undefined) this.tokens.set(`${snap.region}/${snap.clientToken}`, snap.id);
    return snap;
  }

  /** Stores one block (deduplicated by content) in a pending snapshot. */
  putBlock(snap: EbsSnapshot, index: number, data: Buffer, sha256hex: string, at: number): void {
    let stored = this.blocks.get(sha256hex);
    if (!stored) {
      stored = { data, refs: 0 };
      this.blocks.set(sha256hex, stored);
    }
    // Reuse the map's own key string so 20,000 pointers to one content share one string.
    const key = this.internKey(sha256hex);
    const previous = snap.own.get(index);
    if (previous !== key) {
      stored.refs += 1;
      snap.own.set(index, key);
      if (previous !== undefined) this.release(previous);
    }
    snap.putCalls += 1;
    snap.lastActivity = at;
    this.putCount += 1;
  }

  /**
   * Holds one block's content for a block map built outside the EBS direct APIs (VM Import converting a disk image):
   * deduplicated like a written block, not counted as a PutSnapshotBlock call. The caller owns one reference and
   * hands it to createFromBlocks or gives it back with releaseBlock.
   */
  retainBlock(data: Buffer): string {
    const sha = createHash('sha256').update(data).digest('hex');
    let stored = this.blocks.get(sha);
    if (!stored) {
      stored = { data, refs: 0 };
      this.blocks.set(sha, stored);
    }
    stored.refs += 1;
    return this.internKey(sha);
  }

  releaseBlock(key: string): void {
    this.release(key);
  }

  /** A snapshot whose blocks are `blocks` (references from retainBlock, taken over by the snapshot). */
  createFromBlocks(
    init: Omit<EbsSnapshot, 'id' | 'own' | 'putCalls' | 'deleted' | 'children' | 'lastActivity'>,
    blocks: ReadonlyMap<number, string>,
  ): EbsSnapshot {
    const snap = this.create(init);
    for (const [i, key] of blocks) snap.own.set(i, key);
    return snap;
  }

  private readonly keys = new Map<string, string>();
  private internKey(k: string): string {
    const existing = this.keys.get(k);
    if (existing !== undefined) return existing;
    this.keys.set(k, k);
    return k;
  }

  private release(key: string): void {
    const stored = this.blocks.get(key);
    if (!stored) return;
    stored.refs -= 1;
    if (stored.refs <= 0) {
      this.blocks.delete(key);
      this.keys.delete(key);
    }
  }

  /** The content key of a block as the snapshot sees it (its own write, else the nearest ancestor's), or undefined (zeros). */
  resolve(snap: EbsSnapshot, index: number): string | undefined {
    for (let s: EbsSnapshot | undefined = snap; s; s = s.parentId === undefined ? undefined : this.snapshots.get(s.parentId)) {
      const key = s.own.get(index);
      if (key !== undefined) return key;
    }
    return undefined;
  }

  hasBlock(key: string): boolean {
    return this.blocks.has(key);
  }

  blockData(key: string): Buffer {
    return this.blocks.get(key)?.data ?? ZERO_BLOCK;
  }

  /** Every block index with data in the snapshot, parents applied, ascending. */
  populated(snap: EbsSnapshot): number[] {
    const seen = new Set<number>();
    for (const s of this.lineage(snap)) for (const i of s.own.keys()) seen.add(i);
    return [...seen].filter((i) => i < snap.volumeSizeGiB * BLOCKS_PER_GIB).sort((a, b) => a - b);
  }

  /** The snapshot and its ancestors, nearest first. */
  lineage(snap: EbsSnapshot): EbsSnapshot[] {
    const out: EbsSnapshot[] = [];
    for (let s: EbsSnapshot | undefined = snap; s; s = s.parentId === undefined ? undefined : this.snapshots.get(s.parentId)) out.push(s);
    return out;
  }

  /** The full block map of a snapshot (parents applied): what a copy of it holds. */
  flatten(snap: EbsSnapshot): Map<number, string> {
    const out = new Map<number, string>();
    for (const s of this.lineage(snap)) for (const [i, k] of s.own) if (!out.has(i)) out.set(i, k);
    return out;
  }

  /**
   * A completed snapshot with the same content as `source` (its block map copied, no bytes copied); `encrypted` and
   * `kmsKeyArn` encrypt the copy (a copy of an encrypted snapshot stays encrypted).
   */
  copy(source: EbsSnapshot, init: { region: string; description?: string; tags?: Tag[]; at: number; encrypted?: boolean; kmsKeyArn?: string }): EbsSnapshot {
    const snap = this.create({
      region: init.region,
      status: 'completed',
      volumeSizeGiB: source.volumeSizeGiB,
      description: init.description,
      tags: init.tags ?? [],
      encrypted: source.encrypted || (init.encrypted ?? false),
      kmsKeyArn: init.encrypted ? (init.kmsKeyArn ?? source.kmsKeyArn) : source.kmsKeyArn,
      timeoutMinutes: source.timeoutMinutes,
      startTime: init.at,
      completedAt: init.at,
    });
    for (const [i, key] of this.flatten(source)) {
      const stored = this.blocks.get(key);
      if (stored) stored.refs += 1;
      snap.own.set(i, key);
    }
    return snap;
  }

  /** Removes a snapshot from view; its blocks stay while a descendant still reads them. */
  delete(id: string): void {
    const snap = this.snapshots.get(id);
    if (!snap || snap.deleted) return;
    snap.deleted = true;
    if (snap.clientToken !== undefined) this.tokens.delete(`${snap.region}/${snap.clientToken}`);
    this.collect(snap);
  }

  /** Frees a deleted snapshot nobody reads any more, then its parent if that was its last reader. */
  private collect(snap: EbsSnapshot): void {
    if (!snap.deleted || snap.children > 0) return;
    this.snapshots.delete(snap.id);
    for (const key of snap.own.values()) this.release(key);
    snap.own.clear();
    if (snap.parentId === undefined) return;
    const parent = this.snapshots.get(snap.parentId);
    if (!parent) return;
    parent.children -= 1;
    this.collect(parent);
  }

  /** SHA-256 (hex) of the snapshot's whole content as a volume restored from it would read (zeros where unwritten). */
  sha256(snap: EbsSnapshot): string {
    const hash = createHash('sha256');
    const total = snap.volumeSizeGiB * BLOCKS_PER_GIB;
    const map = this.flatten(snap);
    for (let i = 0; i < total; i += 1) {
      const key = map.get(i);
      hash.update(key === undefined ? ZERO_BLOCK : this.blockData(key));
    }
    return hash.digest('hex');
  }

  /** Pending snapshots whose Timeout ran out since their last write are cancelled (`error`), as EBS does. */
  expire(now: number): void {
    for (const s of this.snapshots.values()) {
      if (s.status === 'pending' && s.lastActivity + s.timeoutMinutes * 60_000 <= now) {
        s.status = 'error';
        s.statusMessage = `No block was written and the snapshot was not completed within its Timeout of ${s.timeoutMinutes} minutes.`;
      }
    }
  }

  /** SHA-256 (hex) of a snapshot's reconstructed content, for tests. */
  snapshotSha256(id: string): string {
    return this.sha256(this.must(id));
  }

  /** Distinct blocks written to this snapshot itself (what its ChangedBlocksCount must be). */
  blocksWritten(id: string): number {
    return this.must(id).own.size;
  }

  /** PutSnapshotBlock calls accepted for this snapshot. */
  putCallsFor(id: string): number {
    return this.must(id).putCalls;
  }

  private must(id: string): EbsSnapshot {
    const s = this.get(id);
    if (!s) throw new Error(`No EBS snapshot ${id} in the lab EC2 emulator.`);
    return s;
  }

  /** Distinct block contents held in memory (each EBS_BLOCK_SIZE bytes). */
  get distinctBlocks(): number {
    return this.blocks.size;
  }

  /** Snapshots held, hidden ones (deleted but read by a descendant) included. */
  get heldSnapshots(): number {
    return this.snapshots.size;
  }

  /** PutSnapshotBlock calls accepted since start. */
  get putBlockCalls(): number {
    return this.putCount;
  }
}
