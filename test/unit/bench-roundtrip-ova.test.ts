// The round-trip benchmark compares the connector with a raw lease upload: both must move the same VMDK, the one the
// OVA in S3 holds, and that VMDK must be dense (as large as the disk) for the rates to mean what the report says.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { benchOva, vmdkOnly } from '../../bench/roundtrip-ova.ts';
import { openOva } from '../../connector/roundtrip/ova-read.ts';
import { readStreamVmdk } from '../../lab/ec2/vmdk-stream.ts';

const SIZE_GIB = 1 / 64; // 16 MiB: 256 grains
const sha = () => createHash('sha256');

describe('round-trip bench OVA', () => {
  it('is the size it announces, and its raw VMDK is the OVA disk file byte for byte', async () => {
    const ova = benchOva(SIZE_GIB);
    let total = 0;
    for (const c of ova.chunks()) total += c.length;
    expect(total).toBe(ova.ovaBytes);

    const parsed = await openOva(Readable.from(ova.chunks(), { objectMode: false }));
    expect(parsed.descriptor).toBe(ova.descriptor);
    const inOva = sha();
    const names: [string, number][] = [];
    for await (const f of parsed.files) {
      names.push([f.name, f.size]);
      for await (const c of f.body) inOva.update(c);
    }
    expect(names).toEqual([[ova.diskName, ova.diskBytes]]);
    const raw = sha();
    let rawBytes = 0;
    for (const c of vmdkOnly(ova, ova.chunks())) {
      raw.update(c);
      rawBytes += c.length;
    }
    expect(rawBytes).toBe(ova.diskBytes);
    expect(raw.digest('hex')).toBe(inOva.digest('hex'));
  });

  it('holds a dense disk: every grain stored, none of them zeros, the same bytes on every build', async () => {
    const ova = benchOva(SIZE_GIB);
    let grains = 0;
    let zeroGrains = 0;
    const content = sha();
    const header = await readStreamVmdk(Readable.from(vmdkOnly(ova, ova.chunks()), { objectMode: false }), (_offset, raw) => {
      grains += 1;
      if (raw.equals(Buffer.alloc(raw.length))) zeroGrains += 1;
      content.update(raw);
    });
    expect(header?.capacityBytes).toBe(SIZE_GIB * 1024 ** 3);
    expect([grains, zeroGrains]).toEqual([256, 0]);
    expect(ova.diskBytes).toBeGreaterThan(SIZE_GIB * 1024 ** 3);
    const again = sha();
    for (const c of benchOva(SIZE_GIB).chunks()) again.update(c);
    const first = sha();
    for (const c of ova.chunks()) first.update(c);
    expect(again.digest('hex')).toBe(first.digest('hex'));
  });
});
