import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { createOnce } from '../files.ts';

export const IMPORT_TOKEN_ALG = 'ES256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Where the import-token signing key lives inside the data directory. */
export const signingKeyPath = (dataDir: string) => join(dataDir, 'keys', 'import-token.jwk.json');

/**
 * The import-token signing key: generated on first start and kept in the data directory, readable by the
 * connector's user only (0600). ES256, so a verifier elsewhere would need only the public half.
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const file = signingKeyPath(dataDir);
  await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = await generateKeyPair(IMPORT_TOKEN_ALG, { extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk);
    jwk.alg = IMPORT_TOKEN_ALG;
    // Two processes starting at once: the first key published wins and both read it whole.
    await createOnce(file, JSON.stringify(jwk), 0o600);
    text = await readFile(file, 'utf8');
  }
  // A key file someone made readable to others is tightened again.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  return importSigningKey(JSON.parse(text) as JWK, file);
}

async function importSigningKey(jwk: JWK, file: string): Promise<SigningKey> {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d || !jwk.x || !jwk.y) {
    throw new Error(`The import-token key ${file} is not a P-256 private key. Delete it and restart the connector to generate a new one.`);
  }
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
  const privateKey = (await importJWK(jwk, IMPORT_TOKEN_ALG)) as CryptoKey;
  const publicKey = (await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, IMPORT_TOKEN_ALG)) as CryptoKey;
  return { kid, privateKey, publicKey };
}
