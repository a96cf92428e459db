// The crash suite's processes and probes (test/faults/crash.test.ts): the real connector started from a configuration
// file and stopped, the configuration it is given, a slow-delete S3 proxy, and the checks for open export leases.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { API_PREFIX } from '../../connector/contract/index.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { VimFault } from '../../connector/vsphere/soap.ts';
import type { Vim25Client } from '../../connector/vsphere/vim25.ts';
import type { VcsimHandle } from '../../lab/vcsim/index.ts';
import { httpsJson, type HttpResult } from './api-lab.ts';
import { waitUntil } from './crash-plan.ts';

export interface Connector {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `connector/main.ts --config` and resolves once it listens (the engine resumes on listen). `onSpawn` runs
 * right after the process is spawned, before it listens.
 */
export async function spawnConnector(configFile: string, onSpawn: () => void): Promise<Connector> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'connector/main.ts'), '--config', configFile], {
    cwd: PACKAGE_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: process.env.TMPDIR ?? tmpdir() },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  onSpawn();
  let out = '';
  const keep = (c: Buffer): void => void (out = (out + c.toString()).slice(-200_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const c: Connector = { child, output: () => out, exited };
  await waitUntil(() => /Connector listening/.test(out) || child.exitCode !== null, 'the connector to listen', 90_000, 20);
  if (!/Connector listening/.test(out)) throw new Error(`the connector did not start:\n${out}`);
  return c;
}

/** Logs `user` in at the vSphere Client stand-in; the answer calls the connector API with its plugin session token. */
export async function apiLogin(
  user: { name: string; password: string },
  standIn: { origin: string; certPem: string },
  api: { origin: string; ca: string },
): Promise<(method: string, path: string, body?: unknown) => Promise<HttpResult<unknown>>> {
  const res = await httpsJson<{ pluginSessionToken: string }>(`${standIn.origin}/ui/api/login`, {
    ca: standIn.certPem,
    method: 'POST',
    body: { username: user.name, password: user.password },
  });
  if (res.status !== 200) throw new Error(`login of ${user.name}: HTTP ${res.status}`);
  const token = res.body.pluginSessionToken;
  return (method, path, body) =>
    httpsJson(`${api.origin}${API_PREFIX}${path}`, { ca: api.ca, method, headers: { 'vmware-api-session-id': token }, ...(body !== undefined ? { body } : {}) });
}

/** SIGTERM to a connector still running; SIGKILL if it has not stopped after 30 s. */
export async function stopConnector(connector: Connector | undefined): Promise<void> {
  if (connector && connector.child.exitCode === null && connector.child.signalCode === null) {
    connector.child.kill('SIGTERM');
    const stopped = await Promise.race([connector.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref())]);
    if (!stopped) {
      connector.child.kill('SIGKILL');
      await connector.exited;
    }
  }
}

/** The connector's configuration file: the lab vCenter behind the vSphere Client stand-in, the lab AWS, fast polls. */
export function crashConnectorYaml(o: {
  connectorPort: number;
  clientPort: number;
  ec2Url: string;
  region: string;
  s3Endpoint: string;
  s3Credentials: { accessKeyId: string; secretAccessKey: string };
  vcenterAccount: { name: string; password: string };
}): string {
  return [
    '# written by test/faults/crash.test.ts',
    `listen: { host: 127.0.0.1, port: ${o.connectorPort} }`,
    'dataDir: data',
    'vcenter:',
    `  url: https://127.0.0.1:${o.clientPort}`,
    '  caFile: vcenter-ca.pem',
    'administrators: [administrator@vsphere.local]',
    'aws:',
    `  endpoint: ${o.ec2Url}`,
    `  regions: [${o.region}]`,
    '  credentials: { accessKeyId: lab, secretAccessKey: lab }',
    'logging: { level: info }',
    'engine:',
    `  s3Endpoint: ${o.s3Endpoint}`,
    `  s3Credentials: { accessKeyId: ${o.s3Credentials.accessKeyId}, secretAccessKey: ${o.s3Credentials.secretAccessKey} }`,
    `  vcenterAccount: { userName: ${o.vcenterAccount.name}, password: ${JSON.stringify(o.vcenterAccount.password)} }`,
    '  maxRunning: 8',
    '  leaseKeepAliveMs: 50',
    '  pollMs: 20',
    '  pollMaxMs: 100',
    '',
  ].join('\n');
}

/** A pass-through to the lab S3 that holds DeleteObject for a while, so the clean-up phase lasts long enough to be hit. */
export async function startSlowDeleteProxy(target: string, delayMs: number): Promise<{ server: Server; url: string }> {
  const to = new URL(target);
  // No keep-alive towards s3rver: its stop() waits for open sockets.
  const agent = new Agent({ keepAlive: false });
  // A dozen lines of piping; a proxy library would add a dependency for nothing.
  const server = createServer((req, res) => {
    const forward = (): void => {
      const up = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      req.pipe(up);
    };
    if (req.method === 'DELETE' && !req.url?.includes('uploadId=')) setTimeout(forward, delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.on('close', () => agent.destroy());
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Is this lease still open in vCenter (initializing or ready)? A lease vCenter no longer knows is not. */
export async function leaseIdOpen(vim: Vim25Client, id: string): Promise<boolean> {
  try {
    const { state } = await vim.leaseState({ type: 'HttpNfcLease', value: id });
    return state === 'ready' || state === 'initializing';
  } catch (err) {
    if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') return false;
    throw err;
  }
}

/** Does a GET of this NFC URL (on the lab vCenter) still answer (the lease that issued it is open)? */
export function nfcUrlOpen(vcsim: Pick<VcsimHandle, 'origin' | 'certPem'>, url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${vcsim.origin}${u.pathname}`, { method: 'HEAD', ca: vcsim.certPem }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', reject);
    req.end();
  });
}
