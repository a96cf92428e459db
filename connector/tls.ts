import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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

/** The connector's certificate: the configured one, or one generated on first start and kept in the data directory. */
export async function loadOrCreateTls(dataDir: string, hosts: string[]): Promise<ServerTls & { generated: boolean }> {
  const certFile = join(dataDir, 'tls', 'connector.crt');
  const keyFile = join(dataDir, 'tls', 'connector.key');
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { certPem, keyPem, thumbprintSha256: thumbprintOf(certPem), generated: false };
  } catch {
    const tls = await generateSelfSigned(hosts);
    await mkdir(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
    await writeFile(certFile, tls.certPem, { mode: 0o644 });
    await writeFile(keyFile, tls.keyPem, { mode: 0o600 });
    return { ...tls, generated: true };
  }
}
