import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface ServerTls {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint, colon hex: what vCenter registration pins. */
  thumbprintSha256: string;
}

export function thumbprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** A self-signed certificate for the given host names / IPs (lab and first start). */
export async function generateSelfSigned(hosts: string[], days = 825): Promise<ServerTls> {
  const altNames = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h }));
  const pems = await selfsigned.generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + days * 86_400_000),
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private, thumbprintSha256: thumbprintOf(pems.cert) };
}

async function readPair(dir: string): Promise<ServerTls | undefined> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(join(dir, 'connector.crt'), 'utf8'), readFile(join(dir, 'connector.key'), 'utf8')]);
    return { certPem, keyPem, thumbprintSha256: thumbprintOf(certPem) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The connector's certificate: the configured one, or one generated on first start and kept in the data directory.
 * The pair is written into a private temp directory and renamed into place whole, so two first starts on one data
 * directory agree on one certificate and a crash never leaves a certificate without its key.
 */
export async function loadOrCreateTls(dataDir: string, hosts: string[]): Promise<ServerTls & { generated: boolean }> {
  const dir = join(dataDir, 'tls');
  const kept = await readPair(dir);
  if (kept) return { ...kept, generated: false };
  const tls = await generateSelfSigned(hosts);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const temp = await mkdtemp(join(dataDir, '.tls-'));
  try {
    await writeFile(join(temp, 'connector.crt'), tls.certPem, { mode: 0o644 });
    await writeFile(join(temp, 'connector.key'), tls.keyPem, { mode: 0o600 });
    // Replaces nothing but an empty directory: another start's whole pair stays (ENOTEMPTY/EEXIST).
    await rename(temp, dir);
    return { ...tls, generated: true };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  const theirs = await readPair(dir);
  if (!theirs) {
    throw new Error(
      `${dir} holds only part of the connector's generated certificate (connector.crt and connector.key belong together). Delete that directory and restart the connector to generate a new pair (vCenter must then be registered again, since it pins the thumbprint), or set tls.certFile and tls.keyFile.`,
    );
  }
  return { ...theirs, generated: false };
}
