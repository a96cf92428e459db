#!/usr/bin/env node
// vm2ec2: register the plug-in with vCenter, check its registration, run the troubleshooting checks,
// write a log bundle, show the connector certificate.
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { AwsGateway } from '../aws/gateway.ts';
import { ConfigError, loadConfigFile, readConfigKey, updateConfigFile } from '../config-file.ts';
import type { ConnectorConfig } from '../config.ts';
import { PLUGIN_CONTEXT_PATH, PLUGIN_KEY } from '../contract/index.ts';
import { createStore } from '../store/index.ts';
import { thumbprintOf } from '../tls.ts';
import { VimFault, Vim25Client } from '../vsphere/vim25.ts';
import { checkHostNames, checkImportRole, fixImportRole, formatFindings, importRoleFixPolicies, runDoctor, type Finding, type Resolver } from '../doctor/checks.ts';
import { writeLogBundle } from '../doctor/log-bundle.ts';
import { CONNECTOR_VERSION } from '../doctor/version.ts';
import { closest, COMMANDS, commandHelp, findCommand, globalHelp, parseCommand, type Values } from './commands.ts';
import { connectFailure, EXIT_UNAVAILABLE, type ConnectTarget } from './connect-errors.ts';
import { CliError, fetchPeerCertificate, probeManifest, readPassword, refusePasswordArgs } from './io.ts';
import { checkManifestUrl, formatStatus, registerPlugin, registrationStatus, SERVER_CERTIFICATE_SINCE, UNREGISTER_LEAVES, unregisterPlugin } from './registration.ts';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const s = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

async function maybeConfig(v: Values, io: CliIo): Promise<ConnectorConfig | undefined> {
  const file = s(v, 'config');
  return file ? loadConfigFile(file, io.env) : undefined;
}

/** Connects to vCenter with the CLI's trust options (falling back to the connector configuration), then asks for the password and logs in. */
async function vcenterLogin(v: Values, config: ConnectorConfig | undefined, command: string): Promise<{ client: Vim25Client; sdkUrl: string }> {
  const given = s(v, 'vcenter') ?? (config ? new URL('/sdk', config.vcenter.url).href : undefined);
  if (!given) throw new CliError(`Give the vCenter SDK URL: --vcenter https://vcenter.example.com/sdk (see '${command} --help')`);
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new CliError(`--vcenter ${given} is not a URL; give the vCenter SDK URL, e.g. https://vcenter.example.com/sdk`);
  }
  if (url.protocol !== 'https:') throw new CliError('--vcenter must be an https:// URL');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/sdk';
  const user = s(v, 'user');
  if (!user) throw new CliError(`Give the vCenter user: --user administrator@vsphere.local (see '${command} --help')`);
  const timeout = s(v, 'timeout');
  const timeoutS = timeout === undefined ? 60 : Number(timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new CliError(`--timeout ${timeout} is not a number of seconds greater than 0`);
  const caFile = s(v, 'vcenter-ca-file');
  const ca = caFile ? await readFile(caFile, 'utf8').catch((err: Error) => {
    throw new CliError(`Cannot read the vCenter CA file ${caFile}: ${err.message}`);
  }) : config?.vcenter.caPem;
  const thumbprint = s(v, 'vcenter-thumbprint') ?? config?.vcenter.thumbprint;
  const target: ConnectTarget = {
    command,
    server: 'vCenter',
    url,
    caOption: config ? '--vcenter-ca-file <pem> (or vcenter.caFile in the configuration)' : '--vcenter-ca-file <pem>',
    thumbprintOption: config ? '--vcenter-thumbprint <sha256> (or vcenter.thumbprint)' : '--vcenter-thumbprint <sha256>',
  };
  let client: Vim25Client;
  try {
    // TLS is verified before anything is sent, so the password is asked for only once vCenter is known to be the right server.
    client = await Vim25Client.connect({ sdkUrl: url.href, timeoutMs: timeoutS * 1000, ...(ca ? { ca } : {}), ...(thumbprint ? { thumbprint } : {}) });
  } catch (err) {
    if (err instanceof VimFault) throw err;
    if (err instanceof Error && /did not answer like a vCenter SDK endpoint|answered HTTP|unreadable answer/.test(err.message)) {
      throw new CliError(`${command} connected to ${url.origin}, but it is not a vCenter SDK endpoint (${err.message}). Check the --vcenter URL (…/sdk).`, EXIT_UNAVAILABLE);
    }
    throw await connectFailure(target, err);
  }
  const password = await readPassword({ passwordFile: s(v, 'password-file'), user }).catch((err: unknown) => {
    client.close();
    throw err;
  });
  try {
    await client.login(user, password);
  } catch (err) {
    client.close();
    if (err instanceof VimFault && err.faultType === 'InvalidLogin') throw new CliError(`vCenter ${url.host} refused the user name or password of ${user}.`);
    if (err instanceof VimFault) throw err;
    throw await connectFailure(target, err);
  }
  return { client, sdkUrl: url.href };
}

/** The certificate to register: a file, the connector's own (from its configuration), or the one the URL serves if its thumbprint was confirmed. */
async function pluginCertificate(v: Values, config: ConnectorConfig | undefined, manifestUrl: string): Promise<string> {
  const file = s(v, 'plugin-cert-file');
  const expected = s(v, 'plugin-thumbprint')?.toUpperCase();
  let pem: string | undefined;
  if (file) pem = await readFile(file, 'utf8');
  else if (config) pem = config.tls?.certPem ?? (await readFile(join(config.dataDir, 'tls', 'connector.crt'), 'utf8').catch(() => undefined));
  if (!pem) {
    const seen = await fetchPeerCertificate(manifestUrl).catch(async (err: unknown) => {
      throw await connectFailure({ command: 'vm2ec2 register', server: 'the connector', url: new URL(manifestUrl) }, err);
    });
    if (!expected) {
      throw new CliError(
        `The plug-in server presents a certificate with SHA-256 thumbprint ${seen.thumbprintSha256}.\n` +
          'Compare it with the one the connector printed at start ("vm2ec2 show-cert" on the connector machine), then repeat with --plugin-thumbprint ' +
          `${seen.thumbprintSha256} (or give --plugin-cert-file).`,
      );
    }
    pem = seen.pem;
  }
  const actual = thumbprintOf(pem);
  if (expected && expected !== actual) throw new CliError(`The plug-in certificate thumbprint is ${actual}, not the --plugin-thumbprint ${expected}. Check which certificate the connector serves.`);
  return pem;
}

async function withClient<T>(v: Values, config: ConnectorConfig | undefined, command: string, fn: (c: Vim25Client, sdkUrl: string) => Promise<T>): Promise<T> {
  const { client, sdkUrl } = await vcenterLogin(v, config, command);
  try {
    return await fn(client, sdkUrl);
  } finally {
    await client.logout().catch(() => undefined);
    client.close();
  }
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes|i agree)$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function doctor(v: Values, io: CliIo): Promise<number> {
  const file = s(v, 'config');
  if (!file) throw new CliError('doctor needs the connector configuration: --config <connector.yaml>');
  const config = await loadConfigFile(file, io.env);
  const aws = new AwsGateway(config.aws);
  const login = s(v, 'user') ? await vcenterLogin(v, config, 'vm2ec2 doctor') : undefined;
  try {
    const esxPort = s(v, 'esx-port') ? Number(s(v, 'esx-port')) : undefined;
    let findings = await runDoctor({ config, aws, ...(login ? { vcenter: login.client } : {}), ...(esxPort ? { esxPort } : {}) });
    if (!login) io.err('ESX host checks skipped: give --user (a vCenter user who can see the hosts) to run them.\n');
    if (v.fix) findings = await applyFixes(findings, { file, aws, yes: v.yes === true, io });
    io.out(v.json ? JSON.stringify(findings, null, 2) + '\n' : formatFindings(findings));
    return findings.some((f) => f.severity === 'error') ? 1 : 0;
  } finally {
    aws.close();
    if (login) {
      await login.client.logout().catch(() => undefined);
      login.client.close();
    }
  }
}

/** Applies the fixable findings, then re-checks them; returns the updated findings. */
export async function applyFixes(findings: Finding[], opts: { file: string; aws: AwsGateway; yes: boolean; io: CliIo; resolver?: Resolver }): Promise<Finding[]> {
  const { io } = opts;
  const out = [...findings];
  const role = out.findIndex((f) => f.id === 'import-role' && f.fixable);
  if (role >= 0) {
    const policies = importRoleFixPolicies();
    io.err(`The connector will set this trust policy on the ${opts.aws.importRoleName} role:\n${JSON.stringify(policies.trust, null, 2)}\nand attach this policy:\n${JSON.stringify(policies.permissions, null, 2)}\n`);
    if (opts.yes || (await confirm('Type "I agree" to let the connector create or update this role on your behalf: '))) {
      for (const line of await fixImportRole(opts.aws)) io.err(`Fixed: ${line}\n`);
      out[role] = await checkImportRole(opts.aws);
    } else {
      io.err('The role was not changed (confirm with --yes or "I agree").\n');
    }
  }
  const suffixes = [...new Set(out.map((f) => f.details?.suggestedSuffix).filter((x): x is string => typeof x === 'string'))];
  if (suffixes.length > 0) {
    const current = ((await readConfigKey(opts.file, ['dns', 'searchSuffixes'])) as string[] | undefined) ?? [];
    await updateConfigFile(opts.file, ['dns', 'searchSuffixes'], [...current, ...suffixes.filter((x) => !current.includes(x))]);
    io.err(`Fixed: added ${suffixes.join(', ')} to dns.searchSuffixes in ${opts.file} (restart the connector to apply).\n`);
    const hosts = out.filter((f) => f.id.startsWith('host-name:')).map((f) => f.id.slice('host-name:'.length));
    const config = await loadConfigFile(opts.file, io.env);
    const recheck = await checkHostNames(hosts, { searchSuffixes: config.dns.searchSuffixes, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
    for (const f of recheck) {
      const i = out.findIndex((x) => x.id === f.id);
      if (i >= 0) out[i] = f;
    }
  }
  return out;
}

async function trustHost(v: Values, io: CliIo): Promise<number> {
  const file = s(v, 'config');
  const host = s(v, 'host');
  if (!file || !host) throw new CliError('trust-host needs --config <connector.yaml> and --host <esx host name>');
  const config = await loadConfigFile(file, io.env);
  const list = ((await readConfigKey(file, ['trust', 'allowedCertificates'])) as ConnectorConfig['trust']['allowedCertificates'] | undefined) ?? [];
  const others = list.filter((a) => a.host.toLowerCase() !== host.toLowerCase());
  const actor = s(v, 'actor') ?? userInfo().username;
  let message: string;
  let details: Record<string, unknown>;
  if (v.remove) {
    if (others.length === list.length) throw new CliError(`${host} is not on the certificate allow list.`);
    await updateConfigFile(file, ['trust', 'allowedCertificates'], others);
    message = `Removed the certificate allowance of ESX host ${host}; its certificate must validate again.`;
    details = { change: 'trust.certificate.remove', host };
  } else {
    const thumbprint = s(v, 'thumbprint')?.toUpperCase();
    if (!thumbprint || !/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(thumbprint)) throw new CliError('Give the host certificate SHA-256 thumbprint: --thumbprint AB:CD:… (32 bytes; "vm2ec2 doctor" prints it)');
    await updateConfigFile(file, ['trust', 'allowedCertificates'], [...others, { host, thumbprint, addedBy: actor, addedAt: new Date().toISOString() }]);
    message = `Allowed the certificate of ESX host ${host} by thumbprint ${thumbprint} (certificate validation relaxed for this host).`;
    details = { change: 'trust.certificate.allow', host, thumbprint };
  }
  const store = createStore({ dataDir: config.dataDir, ...config.store, defaultRegion: config.aws.regions[0] ?? 'us-east-1' });
  try {
    // Recorded as an administrative change; the audit contract has no dedicated trust action yet.
    await store.audit.append({ actor, action: 'admin.access', outcome: 'changed', message, details });
  } finally {
    await store.close();
  }
  io.out(`${message}\nRecorded in the audit log. Restart the connector to apply.\n`);
  return 0;
}

async function showCert(v: Values, io: CliIo): Promise<number> {
  let pem: string;
  const url = s(v, 'url');
  if (url) {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new CliError(`--url ${url} is not a URL; give the connector's address, e.g. https://connector.example.com:8443/`);
    }
    pem = (
      await fetchPeerCertificate(url).catch(async (err: unknown) => {
        throw await connectFailure({ command: 'vm2ec2 show-cert', server: 'the connector', url: target }, err);
      })
    ).pem;
  }
  else {
    const config = await maybeConfig(v, io);
    if (!config) throw new CliError('show-cert needs --config <connector.yaml> or --url https://connector:8443/');
    const found = config.tls?.certPem ?? (await readFile(join(config.dataDir, 'tls', 'connector.crt'), 'utf8').catch(() => undefined));
    if (!found) throw new CliError(`No certificate yet: ${config.dataDir}/tls/connector.crt is created at the connector's first start.`);
    pem = found;
  }
  const x = new X509Certificate(pem);
  const info = { subject: x.subject, subjectAltName: x.subjectAltName, validFrom: x.validFrom, validTo: x.validTo, thumbprintSha256: x.fingerprint256, thumbprintSha1: x.fingerprint, pem: x.toString() };
  io.out(
    v.json
      ? JSON.stringify(info, null, 2) + '\n'
      : `SHA-256 thumbprint: ${info.thumbprintSha256}\nSHA-1 thumbprint:   ${info.thumbprintSha1}\nSubject: ${info.subject.replace(/\n/g, ', ')}\nNames:   ${info.subjectAltName ?? ''}\nValid:   ${info.validFrom} – ${info.validTo}\n${info.pem}`,
  );
  return 0;
}

export async function runCli(argv: string[], io: CliIo = { out: (x) => process.stdout.write(x), err: (x) => process.stderr.write(x), env: process.env }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    const spec = topic ? findCommand(topic) : undefined;
    if (topic && !spec) throw unknownCommand(topic);
    io.out(spec ? commandHelp(spec) : globalHelp());
    return 0;
  }
  const spec = findCommand(command);
  if (!spec) throw unknownCommand(command);
  refusePasswordArgs(rest);
  const v = parseCommand(spec, rest);
  if (v.help) {
    io.out(commandHelp(spec));
    return 0;
  }
  const cmd = `vm2ec2 ${command}`;
  switch (command) {
    case 'register': {
      const manifestUrl = s(v, 'plugin-url');
      if (!manifestUrl) throw new CliError(`Give the plug-in manifest URL: --plugin-url https://connector.example.com:8443${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`);
      checkManifestUrl(manifestUrl);
      const config = await maybeConfig(v, io);
      const serverCertPem = await pluginCertificate(v, config, manifestUrl);
      const problem = await probeManifest(manifestUrl, serverCertPem);
      // Not fatal: this machine may not reach the connector the way vCenter does.
      if (problem) io.err(`Warning: could not load the manifest from ${manifestUrl} with the registered certificate: ${problem}. The vSphere Client will fail the same way unless vCenter reaches it differently.\n`);
      return withClient(v, config, cmd, async (client, sdkUrl) => {
        const r = await registerPlugin(client, {
          manifestUrl,
          version: s(v, 'version') ?? CONNECTOR_VERSION,
          serverCertPem,
          ...(s(v, 'key') ? { key: s(v, 'key')! } : {}),
          ...(s(v, 'company') ? { company: s(v, 'company')! } : {}),
          ...(Array.isArray(v['admin-email']) ? { adminEmail: v['admin-email'] } : {}),
        });
        io.out(
          r.action === 'updated'
            ? `Updated the registration of ${r.extension.key} with ${sdkUrl} (version ${r.previousVersion ?? '?'} → ${r.extension.version}).\n`
            : `Registered ${r.extension.key} ${r.extension.version} with ${sdkUrl}.\n`,
        );
        io.out(
          r.withCertificate
            ? `Plug-in server pinned by certificate and SHA-256 thumbprint (vCenter API ${r.apiVersion}).\n`
            : `Plug-in server pinned by SHA-256 thumbprint only: vCenter API ${r.apiVersion} has no field for the certificate (added in ${SERVER_CERTIFICATE_SINCE}, vCenter 8.0 Update 2).\n`,
        );
        const added = r.customFields.filter((f) => f.added).map((f) => f.name);
        io.out(`Task and event types declared (${r.extension.taskList?.length ?? 0} task types, ${r.extension.eventList?.length ?? 0} event types); custom attributes on virtual machines: ${added.length ? `added ${added.join(', ')}` : 'already defined'}.\n`);
        io.out('Log out of the vSphere Client and log in again to load the plug-in.\n');
        return 0;
      });
    }
    case 'unregister': {
      const config = await maybeConfig(v, io);
      return withClient(v, config, cmd, async (client, sdkUrl) => {
        const key = s(v, 'key') ?? PLUGIN_KEY;
        if (!(await unregisterPlugin(client, key))) {
          io.out(`${key} is not registered with ${sdkUrl}; nothing to do.\n`);
          return 0;
        }
        io.out(`Unregistered ${key} from ${sdkUrl}. ${UNREGISTER_LEAVES}\n`);
        return 0;
      });
    }
    case 'status': {
      const config = await maybeConfig(v, io);
      return withClient(v, config, cmd, async (client, sdkUrl) => {
        const st = await registrationStatus(client, s(v, 'key') ?? PLUGIN_KEY);
        io.out(v.json ? JSON.stringify(st, null, 2) + '\n' : formatStatus(st, sdkUrl));
        return st.registered ? 0 : 3;
      });
    }
    case 'doctor':
      return doctor(v, io);
    case 'trust-host':
      return trustHost(v, io);
    case 'log-bundle': {
      const config = await maybeConfig(v, io);
      if (!config) throw new CliError('log-bundle needs --config <connector.yaml>');
      const out = s(v, 'out') ?? `vm2ec2-log-bundle-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`;
      const store = createStore({ dataDir: config.dataDir, ...config.store, defaultRegion: config.aws.regions[0] ?? 'us-east-1' });
      try {
        const names = await writeLogBundle({ config, store, out, logFiles: Array.isArray(v['log-file']) ? v['log-file'] : [] });
        io.out(`Wrote ${out} (${names.length} files, secrets removed).\n`);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'show-cert':
      return showCert(v, io);
    default:
      throw unknownCommand(command);
  }
}

function unknownCommand(name: string): CliError {
  const near = closest(name, COMMANDS.map((c) => c.name));
  return new CliError(`vm2ec2: unknown command "${name}".${near ? ` Did you mean "${near}"?` : ''} Commands: ${COMMANDS.map((c) => c.name).join(', ')}. See 'vm2ec2 --help'.`);
}

const isEntry = process.argv[1] !== undefined && /[\\/]cli[\\/]index\.(ts|js)$|[\\/]vm2ec2$/.test(process.argv[1]);
if (isEntry) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const known = err instanceof CliError || err instanceof ConfigError;
      process.stderr.write(`${known ? '' : 'Error: '}${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : known ? 78 : 1;
    },
  );
}
