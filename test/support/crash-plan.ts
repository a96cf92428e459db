// The crash suite's plan (test/faults/crash.test.ts), kept apart from its run: the VMs it migrates, the seeded PRNG
// that draws kill points, the kill plan itself, and the polling it waits with. Nothing here touches the lab.
import type { MigrationPhase } from '../../connector/contract/index.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';

export const PHASES: MigrationPhase[] = ['exporting', 'uploading', 'importing', 'launching', 'cleaning-up'];
export type Target = MigrationPhase | 'blind' | 'snapshot-created' | 'snapshot-removed';

// Small disks (over S3's 5 MiB part size, so uploads are multipart) on VMs powered on (snapshot export) and off.
const KINDS: { name: string; powerState: 'poweredOn' | 'poweredOff'; disks: number[] }[] = [
  { name: 'crash-off-a', powerState: 'poweredOff', disks: [8] },
  { name: 'crash-on-a', powerState: 'poweredOn', disks: [7] },
  { name: 'crash-multi', powerState: 'poweredOff', disks: [6, 2] },
  { name: 'crash-on-b', powerState: 'poweredOn', disks: [6, 3] },
  { name: 'crash-off-b', powerState: 'poweredOff', disks: [7] },
];

/** One VM per migration: a VM has one active migration at a time (the connector refuses a second with 409). */
export function crashVms(migrations: number): { name: string; powerState: 'poweredOn' | 'poweredOff'; disks: number[] }[] {
  return Array.from({ length: migrations }, (_, i) => {
    const kind = KINDS[i % KINDS.length]!;
    return { ...kind, name: `${kind.name}-${String(Math.floor(i / KINDS.length) + 1).padStart(2, '0')}` };
  });
}

/** mulberry32: a seeded PRNG in five lines, so kill points are reproducible (Math.random cannot be seeded). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The kill plan, shuffled by the seed (`between` draws from the seeded PRNG): one kill per phase; one at a blind delay
 * right after a restart; one between vCenter creating an export snapshot and the connector recording it; one between
 * vCenter removing it and the connector recording that. Extra kills follow while a phase was never interrupted.
 */
export function killPlan(between: (lo: number, hi: number) => number): Target[] {
  const shuffled: Target[] = [...PHASES, 'blind', 'snapshot-created', 'snapshot-removed'];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = between(0, i);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  // Exports happen only while queued migrations still start: those kills go first (in the seed's order), or a fast
  // run ends before the plan reaches them (CI, seed 894765576: all 20 done after 5 kills, none while exporting).
  const early = (t: Target) => t === 'exporting' || t === 'snapshot-created';
  return [...shuffled.filter(early), ...shuffled.filter((t) => !early(t))];
}

export function phaseCounts(live: MigrationRecord[]): Partial<Record<MigrationPhase, number>> {
  const out: Partial<Record<MigrationPhase, number>> = {};
  for (const t of live) out[t.phase] = (out[t.phase] ?? 0) + 1;
  return out;
}

/** Polls `check` (every `everyMs`: kill points need a fine grain) until it returns a value; no timing is asserted. */
export async function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 240_000, everyMs = 5): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
