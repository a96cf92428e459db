// A whole connector as production starts it (`connector/main.ts --config <file>`) in a child process, for fleet tests
// that SIGKILL one: its own data directory (kept across a restart, so it comes back with the same certificate and
// fleet id), a configuration file, and its origin once it answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ConnectorConfigInput } from '../../connector/config.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { reservePort } from '../../lab/ports.ts';
import { httpsJson } from './api-lab.ts';

export interface FleetConnector {
  id: string;
  origin: string;
  /** The certificate the connector generated into its data directory on first start. */
  certPem: string;
  child: ChildProcess;
  /** Its log lines (pino JSON) and stderr, newest last. */
  log: string[];
}

const MAIN = join(PACKAGE_ROOT, 'connector', 'main.ts');
const READY_MS = 120_000;

/**
 * Starts `connector/main.ts` with `config` written to <dataDir>/connector.yaml, listening on a free port of 127.0.0.1;
 * resolves once it serves its plug-in manifest (whatever its log level).
 */
export async function startFleetConnector(config: ConnectorConfigInput & { dataDir: string }): Promise<FleetConnector> {
  const id = config.fleet?.connectorId ?? 'connector';
  const file = join(config.dataDir, 'connector.yaml');
  const port = await reservePort();
  const origin = `https://127.0.0.1:${port}`;
  // JSON is YAML; the file holds the lab's emulator credentials only, still kept private as in production.
  await writeFile(file, JSON.stringify({ ...config, listen: { host: '127.0.0.1', port } }, null, 2), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', file], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (line: string) => {
    log.push(line);
    if (log.length > 2_000) log.splice(0, 1_000);
  };
  createInterface({ input: child.stdout! }).on('line', keep);
  createInterface({ input: child.stderr! }).on('line', keep);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = String(code ?? signal)));
  const certFile = join(config.dataDir, 'tls', 'connector.crt');
  for (const end = Date.now() + READY_MS; ; await new Promise((r) => setTimeout(r, 200))) {
    if (exited !== undefined) throw new Error(`connector ${id} exited while starting (${exited}): ${log.slice(-5).join(' | ')}`);
    if (Date.now() > end) throw new Error(`connector ${id} did not start within ${READY_MS / 1000} s: ${log.slice(-5).join(' | ')}`);
    const certPem = await readFile(certFile, 'utf8').catch(() => undefined);
    if (!certPem) continue;
    const answer = await httpsJson(`${origin}${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`, { ca: certPem }).catch(() => undefined);
    if (answer?.status === 200) return { id, origin, certPem, child, log };
  }
}

/** Ends the child with `signal` (SIGTERM: a graceful stop; SIGKILL after 30 s if it hangs). */
export async function stopFleetConnector(c: Pick<FleetConnector, 'child'>, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = c;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
