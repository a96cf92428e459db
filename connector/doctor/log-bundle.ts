// The seed's "Generate log bundle": one .tar.gz with logs, configuration (secrets removed), versions and
// recent task history, for a support case.
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { redactConfig } from '../config-file.ts';
import type { ConnectorConfig } from '../config.ts';
import type { Store } from '../store/index.ts';
import { CONNECTOR_VERSION } from './version.ts';

/** Values that must never leave the machine, whatever log line they appear in. */
const SECRET_PATTERNS: RegExp[] = [
  /("?(?:vmware-api-session-id|authorization|cookie|set-cookie|x-amz-security-token)"?\s*[:=]\s*)"[^"]*"/gi,
  /("?(?:password|secretAccessKey|sessionToken|sessionCookie|token|ticket|keyPem)"?\s*[:=]\s*)"[^"]*"/gi,
  /vmware_soap_session=[^;"\s]*/gi,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
];

export function scrubSecrets(text: string, knownSecrets: readonly string[] = []): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, (_m, prefix?: string) => (prefix ? `${prefix}"[redacted]"` : '[redacted]'));
  for (const s of knownSecrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** One ustar entry (hand-written: a tar header is one 512-byte block, and no tar package is a dependency). */
function tarEntry(name: string, data: Buffer, mtime: Date): Buffer {
  const header = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number): void => void header.write(value.slice(0, length), offset, length, 'utf8');
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(data.length, 12), 124, 12);
  put(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad]);
}

export function tarGz(files: { name: string; data: string | Buffer }[], mtime = new Date()): Buffer {
  const blocks = files.map((f) => tarEntry(f.name, Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data, 'utf8'), mtime));
  return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

export interface LogBundleOptions {
  config: ConnectorConfig;
  /** Log files to include (e.g. `journalctl -u vm2ec2-connector > connector.log`). */
  logFiles?: string[];
  store?: Store;
  out: string;
  now?: Date;
}

/** Writes the bundle; returns the names of the files in it. */
export async function writeLogBundle(opts: LogBundleOptions): Promise<string[]> {
  const now = opts.now ?? new Date();
  const c = opts.config;
  const secrets = [c.aws.credentials?.secretAccessKey, c.aws.credentials?.accessKeyId, c.tls?.keyPem, c.engine.s3Credentials?.secretAccessKey, c.engine.vcenterAccount?.password].filter(
    (s): s is string => !!s,
  );
  const files: { name: string; data: string }[] = [];
  files.push({ name: 'vm2ec2/config.json', data: JSON.stringify(redactConfig(opts.config), null, 2) + '\n' });
  files.push({
    name: 'vm2ec2/versions.json',
    data: JSON.stringify({ connector: CONNECTOR_VERSION, node: process.version, platform: `${process.platform} ${process.arch}`, openssl: process.versions.openssl, createdAt: now.toISOString() }, null, 2) + '\n',
  });
  for (const file of opts.logFiles ?? []) {
    const text = await readFile(file, 'utf8').catch((err: Error) => `(could not read ${file}: ${err.message})\n`);
    files.push({ name: `vm2ec2/logs/${basename(file)}`, data: scrubSecrets(text, secrets) });
  }
  if (opts.store) {
    const audit = await opts.store.audit.query({ limit: 500 }).catch((err: Error) => [{ error: err.message }]);
    files.push({ name: 'vm2ec2/history/audit.json', data: scrubSecrets(JSON.stringify(audit, null, 2), secrets) + '\n' });
  }
  await writeFile(opts.out, tarGz(files, now), { mode: 0o600 });
  return files.map((f) => f.name);
}
