// The CLI's commands and options: one table from which both node:util parseArgs options and each command's
// --help are made, so help never disagrees with what is accepted.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PLUGIN_CONTEXT_PATH, PLUGIN_KEY } from '../contract/index.ts';
import { CliError } from './io.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown after the option, e.g. "<file>". */
  value?: string;
  help: string;
  /** What applies when the option is not given. */
  default?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  examples: string[];
  notes?: string[];
}

const MANIFEST_EXAMPLE = `https://connector.example.com:8443${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`;

const VCENTER: Record<string, OptionSpec> = {
  vcenter: { type: 'string', value: '<url>', help: 'vCenter SDK URL, e.g. https://vcenter.example.com/sdk', default: 'vcenter.url of --config' },
  user: { type: 'string', short: 'u', value: '<user>', help: 'vCenter user, e.g. administrator@vsphere.local' },
  'password-file': { type: 'string', value: '<file>', help: "file holding that user's password (mode 0600)", default: 'asked for, or read from standard input' },
  'vcenter-ca-file': { type: 'string', value: '<pem>', help: "CA certificate(s) that signed vCenter's certificate", default: "vcenter.caFile of --config, else this machine's trusted CAs" },
  'vcenter-thumbprint': { type: 'string', value: '<sha256>', help: "pin vCenter's certificate by its SHA-256 thumbprint (AB:CD:…)", default: 'vcenter.thumbprint of --config' },
  timeout: { type: 'string', value: '<seconds>', help: 'give up on a vCenter request after this long', default: '60' },
  config: { type: 'string', short: 'c', value: '<connector.yaml>', help: 'the connector configuration (vCenter URL and trust are taken from it)' },
};

const HELP: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'register',
    summary: 'register the AWS Management Portal plug-in with vCenter, or update its registration',
    options: {
      ...VCENTER,
      'plugin-url': { type: 'string', value: '<url>', help: 'https:// URL of the plug-in manifest the connector serves (required)' },
      'plugin-cert-file': { type: 'string', value: '<pem>', help: "the connector's certificate", default: 'the one in --config, else the one the URL serves if --plugin-thumbprint matches it' },
      'plugin-thumbprint': { type: 'string', value: '<sha256>', help: "expected SHA-256 thumbprint of the connector's certificate" },
      version: { type: 'string', short: 'v', value: '<x.y.z>', help: 'plug-in version to register', default: 'this connector version' },
      key: { type: 'string', short: 'k', value: '<key>', help: 'extension key', default: PLUGIN_KEY },
      company: { type: 'string', value: '<name>', help: 'company shown in vCenter', default: 'vm2ec2' },
      'admin-email': { type: 'string', multiple: true, value: '<address>', help: 'administrator e-mail address (repeatable)' },
    },
    examples: [
      `vm2ec2 register --vcenter https://vcenter.example.com/sdk --vcenter-ca-file /etc/vm2ec2/vcenter-ca.pem \\\n    --user administrator@vsphere.local --plugin-url ${MANIFEST_EXAMPLE} --config /etc/vm2ec2/connector.yaml`,
    ],
    notes: [
      'vCenter 8.0 Update 2 and later (API 8.0.2.0) store the certificate and its thumbprint; older releases the thumbprint only.',
      'Log out of the vSphere Client and log in again to load the plug-in.',
    ],
  },
  {
    name: 'unregister',
    summary: 'remove the plug-in registration from vCenter',
    options: { ...VCENTER, key: { type: 'string', short: 'k', value: '<key>', help: 'extension key', default: PLUGIN_KEY } },
    examples: ['vm2ec2 unregister --vcenter https://vcenter.example.com/sdk --vcenter-ca-file vcenter-ca.pem --user administrator@vsphere.local'],
  },
  {
    name: 'status',
    summary: 'show what vCenter holds for the plug-in (exit 3 when it is not registered)',
    options: {
      ...VCENTER,
      key: { type: 'string', short: 'k', value: '<key>', help: 'extension key', default: PLUGIN_KEY },
      json: { type: 'boolean', help: 'print JSON' },
    },
    examples: ['vm2ec2 status --config /etc/vm2ec2/connector.yaml --user administrator@vsphere.local --json'],
  },
  {
    name: 'doctor',
    summary: "run the seed guide's troubleshooting checks (vCenter, the AWS import role, ESX host names and certificates); exit 1 when one fails",
    options: {
      ...VCENTER,
      config: { type: 'string', short: 'c', value: '<connector.yaml>', help: 'the connector configuration (required)' },
      user: { type: 'string', short: 'u', value: '<user>', help: 'a vCenter user who can see the ESX hosts', default: 'ESX host checks skipped' },
      fix: { type: 'boolean', help: 'repair what can be repaired (import role, DNS search suffixes)' },
      yes: { type: 'boolean', short: 'y', help: 'agree to the repairs without asking' },
      'esx-port': { type: 'string', value: '<port>', help: 'port of the ESX hosts to check', default: '443' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    examples: ['vm2ec2 doctor --config /etc/vm2ec2/connector.yaml --user administrator@vsphere.local', 'vm2ec2 doctor --config /etc/vm2ec2/connector.yaml --fix'],
  },
  {
    name: 'trust-host',
    summary: "allow one ESX host's certificate by thumbprint (or --remove the allowance); audited",
    options: {
      config: { type: 'string', short: 'c', value: '<connector.yaml>', help: 'the connector configuration (required)' },
      host: { type: 'string', value: '<esx host>', help: 'ESX host name as vCenter knows it (required)' },
      thumbprint: { type: 'string', value: '<sha256>', help: "the host certificate's SHA-256 thumbprint (vm2ec2 doctor prints it)" },
      remove: { type: 'boolean', help: 'remove the allowance instead' },
      actor: { type: 'string', value: '<name>', help: 'who is recorded in the audit log', default: 'your login name' },
    },
    examples: ['vm2ec2 trust-host --config /etc/vm2ec2/connector.yaml --host esx-07 --thumbprint AB:CD:…'],
  },
  {
    name: 'log-bundle',
    summary: 'write the logs, configuration, versions and recent task history (secrets removed) to one .tar.gz for a support case',
    options: {
      config: { type: 'string', short: 'c', value: '<connector.yaml>', help: 'the connector configuration (required)' },
      out: { type: 'string', short: 'o', value: '<file.tar.gz>', help: 'the bundle to write', default: 'vm2ec2-log-bundle-<time>.tar.gz' },
      'log-file': { type: 'string', multiple: true, value: '<file>', help: 'a log file to include (repeatable)' },
    },
    examples: ['vm2ec2 log-bundle --config /etc/vm2ec2/connector.yaml --log-file /var/log/vm2ec2/connector.log --out bundle.tar.gz'],
  },
  {
    name: 'show-cert',
    summary: "show the connector's certificate and its thumbprints",
    options: {
      config: { type: 'string', short: 'c', value: '<connector.yaml>', help: 'read it from the connector configuration and data directory' },
      url: { type: 'string', value: '<url>', help: 'or read what a running connector presents, e.g. https://connector.example.com:8443/' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    examples: ['vm2ec2 show-cert --config /etc/vm2ec2/connector.yaml', 'vm2ec2 show-cert --url https://connector.example.com:8443/'],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function optionLabel(name: string, o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
}

export function commandHelp(c: CommandSpec): string {
  const entries = Object.entries({ ...c.options, help: HELP });
  const width = Math.min(44, Math.max(...entries.map(([n, o]) => optionLabel(n, o).length)) + 2);
  const lines = entries.map(([n, o]) => {
    const label = optionLabel(n, o);
    const text = `${o.help}${o.default ? ` (default: ${o.default})` : ''}`;
    return label.length + 2 > width ? `  ${label}\n  ${' '.repeat(width)}${text}` : `  ${label.padEnd(width)}${text}`;
  });
  return [
    `Usage: vm2ec2 ${c.name} [options]`,
    '',
    `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`,
    '',
    'Options:',
    ...lines,
    ...(c.notes?.length ? ['', ...c.notes] : []),
    '',
    c.examples.length > 1 ? 'Examples:' : 'Example:',
    ...c.examples.map((e) => `  ${e}`),
    ...('password-file' in c.options ? ['', 'The vCenter password is asked for (or read from standard input, or --password-file); it is never taken on the command line.'] : []),
    '',
  ].join('\n');
}

export const EXIT_CODES = 'Exit status: 0 done, 1 doctor found a problem, 2 wrong usage, 3 status: not registered, 69 could not connect, 78 configuration error.';

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: vm2ec2 <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run 'vm2ec2 <command> --help' for a command's options, defaults and an example.",
    'The vCenter password is asked for (or read from standard input, or --password-file); it is never taken on the command line.',
    EXIT_CODES,
    '',
  ].join('\n');
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The closest known name, when it is close enough to be a typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const extended = known.filter((k) => k.startsWith(name));
  if (name.length >= 3 && extended.length === 1) return extended[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Parses a command's arguments; unknown or malformed options are a CliError naming the option and the command. */
export function parseCommand(c: CommandSpec, args: string[]): Values {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries({ ...c.options, help: HELP })) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Values;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
    const seeHelp = `See 'vm2ec2 ${c.name} --help'.`;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const given = quoted.replace(/=.*$/, '');
      const bare = given.replace(/^-+/, '');
      const suggestion = given.startsWith('--') ? closest(bare, Object.keys(options)) : undefined;
      throw new CliError(`vm2ec2 ${c.name}: unknown option ${given || message}.${suggestion ? ` Did you mean --${suggestion}?` : ''} ${seeHelp}`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new CliError(`vm2ec2 ${c.name}: unexpected argument "${quoted}" (it takes options only, each starting with --). ${seeHelp}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
      const spec = c.options[name.replace(/^-+/, '')];
      throw new CliError(
        spec?.type === 'boolean'
          ? `vm2ec2 ${c.name}: option ${name} takes no value. ${seeHelp}`
          : `vm2ec2 ${c.name}: option ${name} needs a value${spec?.value ? ` (${name} ${spec.value})` : ''}. ${seeHelp}`,
      );
    }
    throw new CliError(`vm2ec2 ${c.name}: ${message} ${seeHelp}`);
  }
}
