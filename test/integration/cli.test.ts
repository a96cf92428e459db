// The vm2ec2 CLI as an administrator runs it: each command's --help, wrong options, and what it says when it
// cannot connect (real TLS servers with untrusted, expired, misnamed or unpinned certificates; refused ports,
// unknown host names, servers that never answer).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../connector/cli/commands.ts';
import { runCli, type CliIo } from '../../connector/cli/index.ts';
import { CliError } from '../../connector/cli/io.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';

const CLI = join(PACKAGE_ROOT, 'connector/cli/index.ts');
const MANIFEST_URL = 'https://connector.lab.local:8443/vm2ec2/plugin-manifest.json';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a child process, with standard input closed at once. */
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: PACKAGE_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

function quiet(): CliIo {
  return { out: () => undefined, err: () => undefined, env: {} };
}

/** runCli's CliError (in-process), for the failure kinds that need no second child process. */
async function cliError(args: string[]): Promise<CliError> {
  const err = await runCli(args, quiet()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

let dir: string;
let untrusted: ServerTls;
let expired: ServerTls;
let misnamed: ServerTls;
const servers: (HttpServer | TcpServer)[] = [];
const sockets = new Set<Socket>();
const port = { untrusted: 0, expired: 0, misnamed: 0, silent: 0, plainHttp: 0, closed: 0 };
let requestsSeen = 0;
const files = { expiredCa: '', misnamedCa: '', pw: '', pluginCert: '' };

function listen(server: HttpServer | TcpServer): Promise<number> {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-cli-'));
  [untrusted, expired, misnamed] = await Promise.all([
    generateSelfSigned(['127.0.0.1']),
    generateSelfSigned(['127.0.0.1'], -1),
    generateSelfSigned(['vcenter.example.com']),
  ]);
  const https = (t: ServerTls) =>
    createHttpsServer({ cert: t.certPem, key: t.keyPem }, (_req, res) => {
      requestsSeen++;
      res.end();
    });
  port.untrusted = await listen(https(untrusted));
  port.expired = await listen(https(expired));
  port.misnamed = await listen(https(misnamed));
  // Accepts connections and never says a word (a black hole behind a firewall rule, a hung service).
  port.silent = await listen(createTcpServer(() => undefined));
  port.plainHttp = await listen(createHttpServer((_req, res) => res.end('not TLS')));
  const closed = createTcpServer();
  port.closed = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)));
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  files.expiredCa = join(dir, 'expired.pem');
  files.misnamedCa = join(dir, 'misnamed.pem');
  files.pw = join(dir, 'pw');
  files.pluginCert = join(dir, 'connector.crt');
  await writeFile(files.expiredCa, expired.certPem);
  await writeFile(files.misnamedCa, misnamed.certPem);
  await writeFile(files.pw, 'not-used\n', { mode: 0o600 });
  await writeFile(files.pluginCert, untrusted.certPem);
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vm2ec2 help', () => {
  it('every command has its own --help (usage, every option, defaults, an example) and exits 0', async () => {
    const runs = await Promise.all([cli(['--help']), ...COMMANDS.map((c) => cli([c.name, '--help'])), cli(['status', '-h']), cli(['help', 'log-bundle'])]);
    const [global, ...perCommand] = runs;
    expect(global).toMatchObject({ code: 0, stderr: '' });
    for (const c of COMMANDS) expect(global!.stdout).toContain(`  ${c.name} `);
    expect(global!.stdout).toContain("Run 'vm2ec2 <command> --help'");

    COMMANDS.forEach((c, i) => {
      const r = perCommand[i]!;
      expect(r.stderr, c.name).toBe('');
      expect(r.code, c.name).toBe(0);
      expect(r.stdout).toContain(`Usage: vm2ec2 ${c.name} [options]`);
      for (const [name, o] of Object.entries(c.options)) {
        expect(r.stdout, `${c.name} --${name}`).toContain(`--${name}${o.value ? ` ${o.value}` : ''}`);
        if (o.default) expect(r.stdout, `${c.name} --${name} default`).toContain(`(default: ${o.default})`);
      }
      expect(r.stdout).toMatch(/Examples?:\n {2}vm2ec2 /);
      expect(r.stdout).toContain(`  vm2ec2 ${c.name} `);
    });
    const register = perCommand[COMMANDS.findIndex((c) => c.name === 'register')]!.stdout;
    expect(register).toContain('--plugin-url <url>');
    expect(register).toContain('(default: org.vm2ec2.plugin)');
    expect(register).toContain('never taken on the command line');
    const [short, topic] = perCommand.slice(COMMANDS.length);
    expect(short).toMatchObject({ code: 0, stderr: '' });
    expect(short!.stdout).toContain('Usage: vm2ec2 status [options]');
    expect(topic).toMatchObject({ code: 0, stderr: '' });
    expect(topic!.stdout).toContain('Usage: vm2ec2 log-bundle [options]');
  }, 240_000);

  it('an unknown option names the option and the command, points to that command\'s --help, and exits 2', async () => {
    const [bogus, typo, command, positional] = await Promise.all([
      cli(['register', '--bogus', '--help']),
      cli(['status', '--vcenter-ca', 'ca.pem']),
      cli(['regster', '--help']),
      cli(['doctor', 'now']),
    ]);
    expect(bogus).toMatchObject({ code: 2, stdout: '' });
    expect(bogus.stderr).toBe("vm2ec2 register: unknown option --bogus. See 'vm2ec2 register --help'.\n");
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe("vm2ec2 status: unknown option --vcenter-ca. Did you mean --vcenter-ca-file? See 'vm2ec2 status --help'.\n");
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('vm2ec2: unknown command "regster". Did you mean "register"?');
    expect(command.stderr).toContain("See 'vm2ec2 --help'.");
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain('vm2ec2 doctor: unexpected argument "now"');
  }, 240_000);

  it('an option without its value says which value it needs', async () => {
    const err = await cliError(['status', '--user', 'u', '--vcenter']);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe("vm2ec2 status: option --vcenter needs a value (--vcenter <url>). See 'vm2ec2 status --help'.");
  });
});

describe('vm2ec2 cannot connect', () => {
  it('to vCenter with an untrusted certificate: says who connected to whom, which certificate, and what to pass; asks no password, sends nothing', async () => {
    const before = requestsSeen;
    const r = await cli(['status', '--vcenter', `https://127.0.0.1:${port.untrusted}/sdk`, '--user', 'administrator@vsphere.local']);
    expect(r.code).toBe(69);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      `vm2ec2 status could not connect to vCenter at https://127.0.0.1:${port.untrusted}: its certificate (CN=127.0.0.1; SHA-256 ${untrusted.thumbprintSha256}) is not trusted (self-signed certificate`,
    );
    expect(r.stderr).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(r.stderr).toContain(`Pass --vcenter-ca-file <pem> or --vcenter-thumbprint <sha256> (after checking that ${untrusted.thumbprintSha256} is really vCenter's).`);
    expect(r.stderr).not.toContain('Connector refused');
    expect(r.stderr).not.toContain('Password for');
    expect(requestsSeen).toBe(before);
  }, 120_000);

  it('vm2ec2 register says the same for its vCenter', async () => {
    const err = await cliError(['register', '--vcenter', `https://127.0.0.1:${port.untrusted}/sdk`, '--user', 'administrator@vsphere.local', '--plugin-url', MANIFEST_URL, '--plugin-cert-file', files.pluginCert]);
    expect(err.exitCode).toBe(69);
    expect(err.message).toMatch(new RegExp(`^vm2ec2 register could not connect to vCenter at https://127\\.0\\.0\\.1:${port.untrusted}: its certificate \\(.*\\) is not trusted`));
  }, 60_000);

  it('to vCenter with an expired certificate', async () => {
    const err = await cliError(['status', '--vcenter', `https://127.0.0.1:${port.expired}/sdk`, '--vcenter-ca-file', files.expiredCa, '--user', 'u']);
    expect(err.exitCode).toBe(69);
    expect(err.message).toContain(`vm2ec2 status could not connect to vCenter at https://127.0.0.1:${port.expired}: its certificate (CN=127.0.0.1; SHA-256 ${expired.thumbprintSha256}) has expired (valid until `);
    expect(err.message).toContain('Renew the certificate of vCenter');
  }, 60_000);

  it('to vCenter by a name its certificate is not issued for', async () => {
    const err = await cliError(['unregister', '--vcenter', `https://127.0.0.1:${port.misnamed}/sdk`, '--vcenter-ca-file', files.misnamedCa, '--user', 'u']);
    expect(err.message).toContain(`vm2ec2 unregister could not connect to vCenter at https://127.0.0.1:${port.misnamed}: its certificate (CN=vcenter.example.com; SHA-256 ${misnamed.thumbprintSha256}) is not issued for 127.0.0.1 (it names DNS:vcenter.example.com)`);
    expect(err.message).toContain('Use a host name the certificate is issued for');
  }, 60_000);

  it('to vCenter whose certificate does not match the pinned thumbprint', async () => {
    const err = await cliError(['status', '--vcenter', `https://127.0.0.1:${port.untrusted}/sdk`, '--vcenter-thumbprint', expired.thumbprintSha256, '--user', 'u']);
    expect(err.message).toContain(`vm2ec2 status could not connect to vCenter at https://127.0.0.1:${port.untrusted}: its certificate (CN=127.0.0.1; SHA-256 ${untrusted.thumbprintSha256}) does not match the pinned thumbprint.`);
    expect(err.message).toContain('Check --vcenter-thumbprint <sha256>: the certificate of vCenter may have been replaced.');
  }, 60_000);

  it('to vCenter on a refused port, an unknown host name, or a server that never answers', async () => {
    const refused = await cliError(['status', '--vcenter', `https://127.0.0.1:${port.closed}/sdk`, '--user', 'u']);
    expect(refused.exitCode).toBe(69);
    expect(refused.message).toContain(`vm2ec2 status could not connect to vCenter at https://127.0.0.1:${port.closed}: the connection was refused: nothing accepts connections on 127.0.0.1 port ${port.closed}.`);
    const dns = await cliError(['status', '--vcenter', 'https://vcenter.invalid/sdk', '--user', 'u']);
    expect(dns.message).toMatch(/^vm2ec2 status could not connect to vCenter at https:\/\/vcenter\.invalid:443: the host name vcenter\.invalid could not be resolved \(DNS: (ENOTFOUND|EAI_AGAIN)\)\./);
    const started = Date.now();
    const silent = await cliError(['status', '--vcenter', `https://127.0.0.1:${port.silent}/sdk`, '--user', 'u', '--timeout', '1']);
    expect(silent.message).toContain(`vm2ec2 status could not connect to vCenter at https://127.0.0.1:${port.silent}: it did not answer in time (no answer to RetrieveServiceContent within 1 s).`);
    // Before, a server that accepted the connection and never finished the TLS handshake held the command forever.
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);

  it('to the connector: refused, and a port that does not speak TLS', async () => {
    const refused = await cliError(['register', '--vcenter', 'https://vcenter.invalid/sdk', '--user', 'u', '--plugin-url', `https://127.0.0.1:${port.closed}/vm2ec2/plugin-manifest.json`]);
    expect(refused.message).toContain(`vm2ec2 register could not connect to the connector at https://127.0.0.1:${port.closed}: the connection was refused`);
    expect(refused.message).toContain('Check that the connector is running and the port in the URL is right.');
    const plain = await cliError(['show-cert', '--url', `https://127.0.0.1:${port.plainHttp}/`]);
    expect(plain.exitCode).toBe(69);
    expect(plain.message).toContain(`vm2ec2 show-cert could not connect to the connector at https://127.0.0.1:${port.plainHttp}: the TLS handshake failed`);
    expect(plain.message).toContain("Check that the URL points at the connector's HTTPS port.");
  }, 60_000);
});
