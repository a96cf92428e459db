// A throwaway PostgreSQL cluster for the lab and the tests: initdb into a temporary directory, listen on 127.0.0.1
// only, unix socket inside that directory, stopped (and its directory removed) by stop().
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { reservePort } from '../ports.ts';

export interface PostgresCluster {
  /** Admin URL (superuser, database `postgres`); never carries the password. */
  url: string;
  port: number;
  /** The superuser's name. */
  user: string;
  /** The cluster's directory (data, socket, log). */
  dir: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Directory for the cluster; default a fresh temporary one, removed by stop(). */
  dir?: string;
  /** TCP port on 127.0.0.1; default a free one. */
  port?: number;
  /**
   * Superuser password: TCP logins must then give it (scram-sha-256), as a production server would ask. Without it
   * logins on 127.0.0.1 are trusted (tests).
   */
  password?: string;
  /** Durable writes (fsync etc.); off by default, this cluster is thrown away. */
  durable?: boolean;
}

const SUPERUSER = 'vm2ec2';

/** The directory holding initdb and postgres: the newest /usr/lib/postgresql/<version>/bin, or $VM2EC2_PG_BIN. */
export function findPostgresBin(): string | undefined {
  const fromEnv = process.env.VM2EC2_PG_BIN;
  if (fromEnv) return existsSync(join(fromEnv, 'postgres')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

export const POSTGRES_MISSING =
  'PostgreSQL server binaries were not found under /usr/lib/postgresql/<version>/bin. Install Debian\'s PostgreSQL ' +
  '(apt-get install postgresql) or set VM2EC2_PG_BIN to the directory holding initdb and postgres.';

/** initdb and postgres refuse to run as root: as root, they run as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let entry: string;
  try {
    entry = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' });
  } catch {
    throw new Error('Running as root, PostgreSQL needs the `postgres` system user to run as, and there is none: install Debian\'s postgresql package, or run as a non-root user.');
  }
  const [, , uid, gid] = entry.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function run(bin: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${bin} exited with ${code}: ${out.trim()}`))));
  });
}

/** Starts a fresh cluster; resolves once it accepts connections. */
export async function startPostgresCluster(opts: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(POSTGRES_MISSING);
  const owner = runAs();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'vm2ec2-pg-'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const data = join(dir, 'data');
  const sock = join(dir, 'socket');
  mkdirSync(sock, { recursive: true, mode: 0o700 });
  if (owner) for (const d of [dir, sock]) chownSync(d, owner.uid, owner.gid);

  try {
    const initArgs = ['-D', data, '-U', SUPERUSER, '-E', 'UTF8', '--locale=C', '--no-instructions'];
    if (!opts.durable) initArgs.push('--no-sync');
    if (opts.password !== undefined) {
      // The password reaches initdb in a 0600 file, never on its command line; the file is removed at once.
      const pwfile = join(dir, 'pwfile');
      writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
      if (owner) chownSync(pwfile, owner.uid, owner.gid);
      initArgs.push(`--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer');
      try {
        await run(join(bin, 'initdb'), initArgs, owner);
      } finally {
        rmSync(pwfile, { force: true });
      }
    } else {
      initArgs.push('--auth=trust');
      await run(join(bin, 'initdb'), initArgs, owner);
    }

    // A reserved port can be taken before postgres binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await reservePort());
      try {
        return await launch({ bin, dir, data, sock, port, owner, ownDir, opts });
      } catch (err) {
        if (opts.port !== undefined || attempt >= 3 || !/could not (bind|create listen)/i.test((err as Error).message)) throw err;
      }
    }
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(a: {
  bin: string;
  dir: string;
  data: string;
  sock: string;
  port: number;
  owner: { uid: number; gid: number } | undefined;
  ownDir: boolean;
  opts: ClusterOptions;
}): Promise<PostgresCluster> {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(a.port),
    unix_socket_directories: a.sock,
    max_connections: '300',
    shared_buffers: '32MB',
    logging_collector: 'off',
    log_min_messages: 'warning',
    ...(a.opts.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
  };
  const args = ['-D', a.data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const logFile = join(a.dir, 'postgres.log');
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  // In the caller's process group on purpose: a Ctrl-C in the terminal stops it (fast shutdown) even if the caller is
  // killed before its own stop() runs.
  const child: ChildProcess = spawn(join(a.bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...(a.owner ?? {}), env: { ...process.env, LC_ALL: 'C' } });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.on('error', () => undefined);
  const tail = () => {
    try {
      return readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
    } catch {
      return '';
    }
  };

  // Stop the server if this process ends without calling stop() (a crashed test run must not leave it behind).
  const onExit = () => {
    if (child.exitCode === null) child.kill('SIGQUIT');
  };
  process.once('exit', onExit);

  const closeLog = () => new Promise<void>((resolve) => log.end(resolve));
  const shutdown = async (signal: NodeJS.Signals) => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      // Fast shutdown (SIGINT) disconnects clients and checkpoints; escalate if it hangs.
      const timer = setTimeout(() => child.kill('SIGQUIT'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await closeLog();
  };

  const url = `postgres://${SUPERUSER}@127.0.0.1:${a.port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await shutdown('SIGQUIT');
      throw new Error(`PostgreSQL exited while starting (${child.exitCode ?? child.signalCode}): ${tail()}`);
    }
    const client = new pg.Client(pgConfigFromUrl(url, a.opts.password));
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      break;
    } catch (err) {
      const starting = ['ECONNREFUSED', '57P03'].includes((err as { code?: string }).code ?? '');
      if (!starting || Date.now() > deadline) {
        await shutdown('SIGQUIT');
        throw new Error(`PostgreSQL did not accept connections on 127.0.0.1:${a.port} (${(err as Error).message}): ${tail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  // A caller killed outright (SIGKILL, or tsx's signal relay under load) runs no exit hook: a detached watchdog
  // stops the server and removes its directory once the caller's process is gone.
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -INT "$2" 2>/dev/null; i=0; ' +
        'while kill -0 "$2" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done; kill -QUIT "$2" 2>/dev/null; ' +
        '[ -n "$3" ] && rm -rf "$3"',
      'vm2ec2-pg-watchdog',
      String(process.pid),
      String(child.pid),
      a.ownDir ? a.dir : '',
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.on('error', () => undefined);
  watchdog.unref();

  let stopped: Promise<void> | undefined;
  return {
    url,
    port: a.port,
    user: SUPERUSER,
    dir: a.dir,
    stop: () =>
      (stopped ??= (async () => {
        if (watchdog.exitCode === null) watchdog.kill('SIGKILL');
        await shutdown('SIGINT');
        if (a.ownDir) rmSync(a.dir, { recursive: true, force: true });
      })()),
  };
}

