import { readFileSync, statSync } from 'node:fs';

/**
 * The PostgreSQL password: `store.passwordFile` (readable by the connector's user only, like libpq's .pgpass), else
 * VM2EC2_STORE_PASSWORD, else none (trust, peer or certificate authentication). Read when the store is created and
 * kept only in the pool's settings: never in the configuration object, a URL, a command line or a log line.
 */
export function readStorePassword(opts: { passwordFile?: string | undefined; env?: NodeJS.ProcessEnv }): string | undefined {
  const env = opts.env ?? process.env;
  if (opts.passwordFile) {
    const file = opts.passwordFile;
    let mode: number;
    let text: string;
    try {
      mode = statSync(file).mode;
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`store.passwordFile: cannot read ${file} (${(err as { code?: string }).code ?? (err as Error).message}); give a file holding the PostgreSQL password, readable by the connector's user`);
    }
    if (mode & 0o077) {
      throw new Error(`store.passwordFile: ${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); restrict it with chmod 600 ${file}`);
    }
    const password = text.replace(/\r?\n$/, '');
    if (!password) throw new Error(`store.passwordFile: ${file} is empty; write the PostgreSQL password in it`);
    return password;
  }
  const fromEnv = env.VM2EC2_STORE_PASSWORD;
  return fromEnv ? fromEnv : undefined;
}
