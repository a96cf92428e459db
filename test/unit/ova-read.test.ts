// The OVA stream reader against archives GNU tar writes (ustar and pax, long names), fed in small chunks like a
// network body: the descriptor comes first, each later file streams exactly its bytes, and what is not an OVA, or
// was cut short, is refused saying what is wrong.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOva, OvaFormatError } from '../../connector/roundtrip/ova-read.ts';

const dir = mkdtempSync(join(tmpdir(), 'ova-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ovf = '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>\n';
const longName = `${'disk-with-a-very-long-name-'.repeat(6)}1.vmdk`; // > 100 characters: a pax or GNU header
const disk = randomBytes(3 * 65536 + 123);
const manifest = 'SHA256(a.vmdk)= 00\n';

function archive(format: 'ustar' | 'pax' | 'gnu', files: string[]): Buffer {
  const out = join(dir, `${format}-${files.length}.tar`);
  execFileSync('tar', ['--format', format, '-cf', out, '-C', dir, ...files]);
  return readFileSync(out);
}

function chunked(b: Buffer, size = 1000): AsyncIterable<Buffer> {
  return (async function* () {
    for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
  })();
}

async function readAll(b: Buffer): Promise<{ descriptor: string; files: { name: string; size: number; data: Buffer }[] }> {
  const ova = await openOva(chunked(b));
  const files: { name: string; size: number; data: Buffer }[] = [];
  for await (const f of ova.files) {
    const parts: Buffer[] = [];
    for await (const c of f.body) parts.push(c);
    files.push({ name: f.name, size: f.size, data: Buffer.concat(parts) });
  }
  return { descriptor: ova.descriptor, files };
}

writeFileSync(join(dir, 'vm.ovf'), ovf);
writeFileSync(join(dir, 'vm.mf'), manifest);
writeFileSync(join(dir, 'a.vmdk'), disk);
writeFileSync(join(dir, longName), disk.subarray(0, 777));

describe('openOva', () => {
  it('reads the descriptor, then streams each file exactly (ustar)', async () => {
    const { descriptor, files } = await readAll(archive('ustar', ['vm.ovf', 'vm.mf', 'a.vmdk']));
    expect(descriptor).toBe(ovf);
    expect(files.map((f) => [f.name, f.size])).toEqual([['vm.mf', manifest.length], ['a.vmdk', disk.length]]);
    expect(files[1]!.data.equals(disk)).toBe(true);
  });

  it('takes long names from pax and GNU headers', async () => {
    for (const format of ['pax', 'gnu'] as const) {
      const { files } = await readAll(archive(format, ['vm.ovf', longName]));
      expect(files.map((f) => f.name)).toEqual([longName]);
      expect(files[0]!.data.equals(disk.subarray(0, 777))).toBe(true);
    }
  });

  it('skips a file the caller does not read, and the rest of one it stops reading', async () => {
    const ova = await openOva(chunked(archive('ustar', ['vm.ovf', 'a.vmdk', 'vm.mf'])));
    const names: string[] = [];
    let last = '';
    for await (const f of ova.files) {
      names.push(f.name);
      if (f.name === 'a.vmdk') {
        for await (const c of f.body) {
          expect(c.length).toBeGreaterThan(0);
          break; // stop after the first chunk
        }
      } else {
        for await (const c of f.body) last += c.toString();
      }
    }
    expect(names).toEqual(['a.vmdk', 'vm.mf']);
    expect(last).toBe(manifest);
  });

  it('refuses an archive whose first file is not the descriptor', async () => {
    await expect(openOva(chunked(archive('ustar', ['a.vmdk', 'vm.ovf'])))).rejects.toThrow(
      new OvaFormatError('this is not an OVA: its first file is a.vmdk, but an OVA starts with its .ovf descriptor'),
    );
  });

  it('refuses an OVA cut inside a disk, and one that is not a tar at all', async () => {
    const whole = archive('ustar', ['vm.ovf', 'a.vmdk']);
    await expect(readAll(whole.subarray(0, 3000))).rejects.toThrow(/the OVA ends inside a\.vmdk \(\d+ of 196731 bytes\)/);
    await expect(readAll(randomBytes(4096))).rejects.toThrow(/wrong checksum: the file is damaged or not an OVA/);
  });
});
