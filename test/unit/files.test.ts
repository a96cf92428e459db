// Files in the data directory: a concurrent reader never sees an empty or partial file (the CI failure of stop 24
// was a second connector start reading the signing key between another's create and its write).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorIdentity } from '../../connector/fleet/identity.ts';
import { createOnce, replaceFile } from '../../connector/files.ts';
import { loadOrCreateTls } from '../../connector/tls.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-files-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** Reads `file` in a loop until `done` resolves; returns every distinct content seen (ENOENT skipped). */
async function watch(file: string, done: Promise<unknown>): Promise<Set<string>> {
  const seen = new Set<string>();
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (text !== undefined) seen.add(text);
    await new Promise((r) => setImmediate(r));
  }
  return seen;
}

describe('createOnce', () => {
  it('lets exactly one of many concurrent writers publish, and readers only ever see that whole file', async () => {
    for (let round = 0; round < 5; round++) {
      const file = join(dir, `once-${round}`);
      const payloads = Array.from({ length: 6 }, (_, i) => String(i).repeat(512 * 1024));
      const writers = Promise.all(payloads.map((p) => createOnce(file, p, 0o600)));
      const [won, seen] = await Promise.all([writers, watch(file, writers)]);
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = payloads[won.indexOf(true)]!;
      expect(await readFile(file, 'utf8')).toBe(winner);
      expect([...seen].every((s) => s === winner)).toBe(true);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps a file already there', async () => {
    const file = join(dir, 'kept');
    await writeFile(file, 'first');
    expect(await createOnce(file, 'second', 0o600)).toBe(false);
    expect(await readFile(file, 'utf8')).toBe('first');
  });
});

describe('replaceFile', () => {
  it('swaps the whole content in one step and keeps the permissions', async () => {
    const file = join(dir, 'config.yaml');
    const before = 'a'.repeat(2 * 1024 * 1024);
    const after = 'b'.repeat(2 * 1024 * 1024);
    await writeFile(file, before);
    await chmod(file, 0o640);
    const replacing = replaceFile(file, after);
    const seen = await watch(file, replacing);
    await replacing;
    expect([...seen].every((s) => s === before || s === after)).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(after);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a file that is not there rather than creating one', async () => {
    await expect(replaceFile(join(dir, 'missing.yaml'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('connector identity', () => {
  it('is one id for concurrent first starts on one data dir', async () => {
    for (let round = 0; round < 10; round++) {
      const dataDir = join(dir, `identity-${round}`);
      const ids = await Promise.all([1, 2, 3, 4].map(() => connectorIdentity({ dataDir })));
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).toMatch(/-[0-9a-f]{6}$/);
    }
  });
});

describe('generated connector certificate', () => {
  it('is one whole pair for concurrent first starts, kept private, and reused', async () => {
    const dataDir = join(dir, 'tls-race');
    const starts = await Promise.all([1, 2, 3].map(() => loadOrCreateTls(dataDir, ['localhost'])));
    expect(new Set(starts.map((s) => s.thumbprintSha256)).size).toBe(1);
    expect(starts.filter((s) => s.generated)).toHaveLength(1);
    const certPem = await readFile(join(dataDir, 'tls', 'connector.crt'), 'utf8');
    const keyPem = await readFile(join(dataDir, 'tls', 'connector.key'), 'utf8');
    expect(new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect((await stat(join(dataDir, 'tls'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'tls', 'connector.key'))).mode & 0o777).toBe(0o600);
    expect((await readdir(dataDir)).filter((n) => n.startsWith('.tls-'))).toEqual([]);
    const again = await loadOrCreateTls(dataDir, ['localhost']);
    expect(again).toMatchObject({ generated: false, thumbprintSha256: starts[0]!.thumbprintSha256 });
  });

  it('takes an empty tls directory, and names what to do with half a pair instead of replacing it', async () => {
    const empty = join(dir, 'tls-empty');
    await mkdir(join(empty, 'tls'), { recursive: true });
    expect((await loadOrCreateTls(empty, ['localhost'])).generated).toBe(true);
    const half = join(dir, 'tls-half');
    await mkdir(join(half, 'tls'), { recursive: true });
    await writeFile(join(half, 'tls', 'connector.key'), 'kept');
    await expect(loadOrCreateTls(half, ['localhost'])).rejects.toThrow(/holds only part .* Delete that directory and restart/);
    expect(await readFile(join(half, 'tls', 'connector.key'), 'utf8')).toBe('kept');
  });
});
