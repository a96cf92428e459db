// The lab's generated disk content (lab/inventory.json "diskContent"), computed independently of the lab's own
// generator so tests can check what vcsim serves and what comes back, grain by grain or as one SHA-256.
import { createHash } from 'node:crypto';

export const GRAIN_BYTES = 64 * 1024;
const patterns = new Map<number, Buffer>();

/** Pattern k: concatenation for j = 0..2047 of SHA-256("vcsim-pattern-<k>-<j>"), 64 KiB. */
function pattern(k: number): Buffer {
  let p = patterns.get(k);
  if (!p) {
    p = Buffer.alloc(GRAIN_BYTES);
    for (let j = 0; j < 2048; j++) createHash('sha256').update(`vcsim-pattern-${k}-${j}`, 'ascii').digest().copy(p, j * 32);
    patterns.set(k, p);
  }
  return p;
}

/** Raw bytes of grain g (64 KiB) of a lab disk with the given seed. Shared buffer: do not modify. */
export function expectedRawGrain(seed: number, g: number): Buffer {
  return pattern((((g + seed) % 8) + 8) % 8);
}

/** SHA-256 (hex) of a whole lab disk of `capacityBytes` (a multiple of 64 KiB), computed grain by grain. */
export function expectedRawSha256(seed: number, capacityBytes: number): string {
  const h = createHash('sha256');
  const grains = Math.ceil(capacityBytes / GRAIN_BYTES);
  for (let g = 0; g < grains; g++) {
    const last = Math.min(GRAIN_BYTES, capacityBytes - g * GRAIN_BYTES);
    h.update(last === GRAIN_BYTES ? expectedRawGrain(seed, g) : expectedRawGrain(seed, g).subarray(0, last));
  }
  return h.digest('hex');
}
