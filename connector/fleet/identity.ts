// Which connector of a fleet this process is: the id its tasks, heartbeats and settings are stored under.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createOnce } from '../files.ts';

const ID_FILE = 'connector-id';
const VALID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A host name made safe for an id (letters, digits, dots, dashes), at most 48 characters. */
function hostPart(): string {
  const h = hostname().replace(/[^A-Za-z0-9.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 48);
  return h || 'connector';
}

/**
 * The configured `fleet.connectorId`, else the id kept in `<dataDir>/connector-id`, created on first start as
 * `<host>-<6 hex>`: stable across restarts, distinct for two connectors on one machine (each has its own data dir).
 */
export async function connectorIdentity(opts: { dataDir: string; connectorId?: string | undefined }): Promise<string> {
  if (opts.connectorId) return opts.connectorId;
  const file = join(opts.dataDir, ID_FILE);
  const stored = await readFile(file, 'utf8').then(
    (s) => s.trim(),
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    },
  );
  if (stored !== undefined) {
    if (!VALID.test(stored)) throw new Error(`${file} holds no valid connector id; delete the file to have a new one made, or set fleet.connectorId.`);
    return stored;
  }
  const id = `${hostPart()}-${randomBytes(3).toString('hex')}`;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // Two processes starting on one data dir at once keep the first id, and both read it whole.
  await createOnce(file, `${id}\n`, 0o600);
  return (await readFile(file, 'utf8')).trim();
}
