import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImportTokenService, IMPORT_TOKEN_TYPE } from '../../connector/auth/import-token.ts';
import { loadOrCreateSigningKey, signingKeyPath } from '../../connector/auth/signing-key.ts';
import { AppError } from '../../connector/errors.ts';
import type { Store } from '../../connector/store/index.ts';
import { BACKENDS } from '../support/backends.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-token-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const binding = { user: 'operator@vsphere.local', environmentId: 'env-abc', vmId: 'vm-42' };

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('import-token signing key', () => {
  it('is generated once, kept private (0600) and reused', async () => {
    const dataDir = join(dir, 'key-once');
    const a = await loadOrCreateSigningKey(dataDir);
    const b = await loadOrCreateSigningKey(dataDir);
    expect(b.kid).toBe(a.kid);
    expect((await stat(signingKeyPath(dataDir))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700);
    await chmod(signingKeyPath(dataDir), 0o644);
    await loadOrCreateSigningKey(dataDir);
    expect((await stat(signingKeyPath(dataDir))).mode & 0o777).toBe(0o600);
  });

  it('is the same for concurrent first starts', async () => {
    for (let round = 0; round < 10; round++) {
      const dataDir = join(dir, `key-race-${round}`);
      const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateSigningKey(dataDir)));
      expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    }
  });
});

describe.each(BACKENDS)('ImportTokenService ($name store)', (backend) => {
  let store: Store;
  let now: Date;
  let service: ImportTokenService;
  const dataDir = () => join(dir, 'service');
  beforeEach(async () => {
    store = await backend.openStore();
    now = new Date('2030-01-01T12:00:00Z');
    service = new ImportTokenService({ dataDir: dataDir(), ttlSeconds: 300, store, now: () => now });
  });
  afterEach(async () => store.close());

  it('issues a token for exactly one user, environment and VM, redeemable once', async () => {
    const { token, expiresAt } = await service.issue(binding);
    expect(expiresAt.toISOString()).toBe('2030-01-01T12:05:00.000Z');
    await expect(service.redeem(token, binding)).resolves.toMatchObject(binding);
    expect((await rejection(service.redeem(token, binding))).code).toBe('TOKEN_ALREADY_USED');
  });

  it('rejects a token presented for another user, environment or VM without using it up', async () => {
    const { token } = await service.issue(binding);
    for (const [field, value] of [
      ['user', 'readonly@vsphere.local'],
      ['environmentId', 'env-other'],
      ['vmId', 'vm-43'],
    ] as const) {
      const err = await rejection(service.redeem(token, { ...binding, [field]: value }));
      expect(err.code).toBe('TOKEN_MISMATCH');
      expect(err.details).toEqual({ mismatched: [field] });
    }
    await expect(service.redeem(token, binding)).resolves.toMatchObject(binding);
  });

  it('rejects an expired token', async () => {
    const { token } = await service.issue(binding);
    now = new Date(now.getTime() + 306_000);
    const err = await rejection(service.redeem(token, binding));
    expect(err.code).toBe('TOKEN_EXPIRED');
    expect(err.message).toMatch(/Start the migration again/);
  });

  it('is accepted until the expiresAt it was issued with and refused from that instant on (no clock leeway)', async () => {
    const issued = await service.issue(binding);
    now = new Date(issued.expiresAt.getTime() - 1);
    await expect(service.redeem(issued.token, binding)).resolves.toMatchObject(binding);
    for (const late of [0, 1_000, 59_000]) {
      const { token, expiresAt } = await service.issue(binding);
      now = new Date(expiresAt.getTime() + late);
      expect((await rejection(service.redeem(token, binding))).code).toBe('TOKEN_EXPIRED');
      now = new Date(expiresAt.getTime() - 300_000);
    }
  });

  it('rejects tokens it did not sign, altered tokens and tokens for another connector', async () => {
    const { token } = await service.issue(binding);
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...payload, vm: 'vm-99' })).toString('base64url')}.${s}`;
    expect((await rejection(service.redeem(altered, { ...binding, vmId: 'vm-99' }))).code).toBe('TOKEN_INVALID');

    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: IMPORT_TOKEN_TYPE }).sign(privateKey);
    expect((await rejection(service.redeem(forged, binding))).code).toBe('TOKEN_INVALID');

    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: IMPORT_TOKEN_TYPE })).toString('base64url')}.${p}.`;
    expect((await rejection(service.redeem(unsigned, binding))).code).toBe('TOKEN_INVALID');
    expect((await rejection(service.redeem('not a token', binding))).code).toBe('TOKEN_INVALID');

    // Same key, other connector: a connector's tokens are bound to it by audience.
    const otherStore = await backend.openStore();
    const other = new ImportTokenService({ dataDir: dataDir(), ttlSeconds: 300, store: otherStore, now: () => now });
    expect((await rejection(other.redeem((await service.issue(binding)).token, binding))).code).toBe('TOKEN_INVALID');
    await otherStore.close();

    // Signed with the right key but as another kind of token.
    const jwk = JSON.parse(await readFile(signingKeyPath(dataDir()), 'utf8')) as JWK;
    const key = await importJWK(jwk, 'ES256');
    const wrongType = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(key);
    expect((await rejection(service.redeem(wrongType, binding))).code).toBe('TOKEN_INVALID');
  });
});
