// The connector's configuration file (YAML or JSON) plus VM2EC2_* environment overrides, validated by the one
// ConnectorConfig schema. Certificate material may be given as files (`*File`) and is read here.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConnectorConfig } from './config.ts';
import { replaceFile } from './files.ts';

/** A configuration the connector refuses; the message names the key and what to fix. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Parser = (raw: string, name: string) => unknown;
const str: Parser = (v) => v;
const list: Parser = (v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
const int: Parser = (v, name) => {
  if (!/^\d+$/.test(v.trim())) throw new ConfigError(`${name}: must be a whole number (got "${v}")`);
  return Number(v);
};

/** Environment variables that override the file; the AWS SDK reads its own (AWS_PROFILE, AWS_REGION, …) itself. */
export const ENV_OVERRIDES: Record<string, { path: string[]; parse: Parser }> = {
  VM2EC2_LISTEN_HOST: { path: ['listen', 'host'], parse: str },
  VM2EC2_LISTEN_PORT: { path: ['listen', 'port'], parse: int },
  VM2EC2_DATA_DIR: { path: ['dataDir'], parse: str },
  VM2EC2_VCENTER_URL: { path: ['vcenter', 'url'], parse: str },
  VM2EC2_VCENTER_THUMBPRINT: { path: ['vcenter', 'thumbprint'], parse: str },
  VM2EC2_VCENTER_CA_FILE: { path: ['vcenter', 'caFile'], parse: str },
  VM2EC2_TLS_CERT_FILE: { path: ['tls', 'certFile'], parse: str },
  VM2EC2_TLS_KEY_FILE: { path: ['tls', 'keyFile'], parse: str },
  VM2EC2_ADMINISTRATORS: { path: ['administrators'], parse: list },
  VM2EC2_AWS_REGIONS: { path: ['aws', 'regions'], parse: list },
  VM2EC2_AWS_ENDPOINT: { path: ['aws', 'endpoint'], parse: str },
  VM2EC2_AWS_EBS_ENDPOINT: { path: ['aws', 'ebsEndpoint'], parse: str },
  VM2EC2_AWS_KMS_ENDPOINT: { path: ['aws', 'kmsEndpoint'], parse: str },
  VM2EC2_STORE_URL: { path: ['store', 'url'], parse: str },
  VM2EC2_STORE_PASSWORD_FILE: { path: ['store', 'passwordFile'], parse: str },
  VM2EC2_DNS_SEARCH_SUFFIXES: { path: ['dns', 'searchSuffixes'], parse: list },
  VM2EC2_LOG_LEVEL: { path: ['logging', 'level'], parse: str },
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function setPath(target: Obj, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isObj(node[key])) node[key] = {};
    node = node[key] as Obj;
  }
  node[path[path.length - 1]!] = value;
}

/** `vcenter.url: must be an https:// URL …`, one line per problem, as an administrator looks the key up. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const key = i.path.map(String).join('.') || '(root)';
    if (i.code === 'unrecognized_keys') return `${key === '(root)' ? '' : key + '.'}${i.keys.join(', ')}: unknown key (check its spelling)`;
    if (i.code === 'invalid_type' && /received undefined/.test(i.message)) return `${key}: is required`;
    return `${key}: ${i.message}`;
  });
}

async function readPem(file: string, key: string, baseDir: string): Promise<string> {
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    const pem = await readFile(path, 'utf8');
    if (!pem.includes('-----BEGIN ')) throw new Error('not a PEM file');
    return pem;
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${path} (${(err as Error).message}); give the path of a PEM file readable by the connector`);
  }
}

/** Builds the validated configuration from a parsed file object and the environment. */
export async function resolveConfig(raw: unknown, opts: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string } = {}): Promise<ConnectorConfig> {
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const source = opts.source ?? 'the configuration';
  if (raw !== undefined && raw !== null && !isObj(raw)) throw new ConfigError(`${source} must be a mapping of keys (YAML or JSON object)`);
  const input: Obj = structuredClone(isObj(raw) ? raw : {});
  for (const [name, { path, parse }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(input, path, parse(value, name));
  }

  // File forms of certificate material.
  const tls = input.tls;
  if (isObj(tls) && ('certFile' in tls || 'keyFile' in tls)) {
    const { certFile, keyFile, ...rest } = tls;
    if (typeof certFile !== 'string' || typeof keyFile !== 'string') throw new ConfigError('tls: give both tls.certFile and tls.keyFile (PEM files), or neither to use a generated certificate');
    input.tls = { ...rest, certPem: await readPem(certFile, 'tls.certFile', baseDir), keyPem: await readPem(keyFile, 'tls.keyFile', baseDir) };
  }
  const vc = input.vcenter;
  if (isObj(vc) && 'caFile' in vc) {
    const { caFile, ...rest } = vc;
    if (typeof caFile !== 'string') throw new ConfigError('vcenter.caFile: must be the path of a PEM file');
    input.vcenter = { ...rest, caPem: await readPem(caFile, 'vcenter.caFile', baseDir) };
  }
  if (typeof input.dataDir === 'string' && !isAbsolute(input.dataDir)) input.dataDir = resolve(baseDir, input.dataDir);
  const store = input.store;
  if (isObj(store) && typeof store.passwordFile === 'string' && !isAbsolute(store.passwordFile)) store.passwordFile = resolve(baseDir, store.passwordFile);

  const parsed = ConnectorConfig.safeParse(input);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues);
    throw new ConfigError(`Invalid configuration in ${source}: ${problems.join('; ')}`, problems);
  }
  return parsed.data;
}

/** Reads a YAML (or JSON, a subset of YAML) configuration file and applies the environment overrides. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ConnectorConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read the configuration file ${file}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(`${file} is not valid YAML/JSON: ${doc.errors[0]!.message}`);
  return resolveConfig(doc.toJS(), { env, baseDir: dirname(resolve(file)), source: file });
}

/**
 * Changes one key of the configuration file in place (comments and layout kept), then checks the result still
 * validates. Used by `doctor --fix` and `trust-host`.
 */
export async function updateConfigFile(file: string, path: string[], value: unknown): Promise<void> {
  const text = await readFile(file, 'utf8');
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ConfigError(`${file} is not valid YAML/JSON: ${doc.errors[0]!.message}`);
  doc.setIn(path, doc.createNode(value));
  await resolveConfig(doc.toJS(), { env: {}, baseDir: dirname(resolve(file)), source: file });
  await replaceFile(file, doc.toString());
}

/** Reads one key of the raw file (no overrides). */
export async function readConfigKey(file: string, path: string[]): Promise<unknown> {
  return getPath(parseDocument(await readFile(file, 'utf8')).toJS(), path);
}

function getPath(obj: unknown, path: string[]): unknown {
  let node = obj;
  for (const k of path) node = isObj(node) ? node[k] : undefined;
  return node;
}

/** The configuration with secrets and certificate bodies removed (log bundle, diagnostics). */
export function redactConfig(config: ConnectorConfig): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Obj;
  const aws = copy.aws as Obj;
  if (isObj(aws.credentials)) aws.credentials = { accessKeyId: '[redacted]', secretAccessKey: '[redacted]' };
  if (isObj(copy.tls)) copy.tls = { certPem: '[certificate]', keyPem: '[redacted]' };
  const vc = copy.vcenter as Obj;
  if (typeof vc.caPem === 'string') vc.caPem = '[certificate]';
  const engine = copy.engine;
  if (isObj(engine)) {
    if (isObj(engine.s3Credentials)) engine.s3Credentials = { accessKeyId: '[redacted]', secretAccessKey: '[redacted]' };
    if (isObj(engine.vcenterAccount)) engine.vcenterAccount = { ...engine.vcenterAccount, password: '[redacted]' };
  }
  const smtp = isObj(copy.notifications) ? copy.notifications.email : undefined;
  if (isObj(smtp) && typeof smtp.password === 'string') smtp.password = '[redacted]';
  return copy;
}
