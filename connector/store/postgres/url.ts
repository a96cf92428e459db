import type { PoolConfig } from 'pg';

/** What is wrong with a `store.url`, or undefined when it is usable. */
export function storeUrlProblem(url: string): string | undefined {
  try {
    pgConfigFromUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^store\.url:? /, '');
  }
}

/**
 * `store.url` (postgres://user@host:port/database) as pg settings. A password in the URL is refused: URLs end up in
 * logs, process lists and support bundles; it comes from `store.passwordFile` or VM2EC2_STORE_PASSWORD instead.
 */
export function pgConfigFromUrl(url: string, password?: string): PoolConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('store.url must be a URL such as postgres://vm2ec2@db.example.com:5432/vm2ec2');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`store.url must start with postgres:// (it starts with ${u.protocol}//)`);
  }
  if (u.password) {
    throw new Error(
      'store.url must not contain a password (it would show in logs and process lists): remove it from the URL and put it in the file named by store.passwordFile, or in the environment variable VM2EC2_STORE_PASSWORD',
    );
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname || !u.username || !database) {
    throw new Error('store.url must name the user, the host and the database: postgres://user@host:port/database');
  }
  const sslmode = u.searchParams.get('sslmode');
  const unknown = [...u.searchParams.keys()].filter((k) => k !== 'sslmode');
  if (unknown.length) throw new Error(`store.url: unsupported parameter ${unknown.join(', ')} (only sslmode is read)`);
  if (sslmode !== null && !['disable', 'require', 'verify-full'].includes(sslmode)) {
    throw new Error('store.url: sslmode must be disable, require or verify-full');
  }
  // Built field by field: pg lets a connectionString override explicit fields (the password among them).
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username),
    database,
    ...(password !== undefined ? { password } : {}),
    ...(sslmode === 'require' ? { ssl: { rejectUnauthorized: false } } : sslmode === 'verify-full' ? { ssl: { rejectUnauthorized: true } } : {}),
  };
}

/** The URL with its database swapped (tests, the lab). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.href;
}
