// Production start: `node dist/connector/main.js --config /etc/vm2ec2/connector.yaml`.
// Validates the configuration (refusing to start, naming the wrong key), loads or generates the TLS certificate
// (printing its SHA-256 thumbprint), serves the connector, and shuts down gracefully on SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import pino, { type LoggerOptions } from 'pino';
import { REDACT_PATHS } from './app.ts';
import { ConfigError, loadConfigFile, resolveConfig } from './config-file.ts';
import type { ConnectorConfig } from './config.ts';
import { startConnector, type ConnectorHandle } from './server.ts';
import { loadOrCreateTls } from './tls.ts';
import { CONNECTOR_VERSION } from './doctor/version.ts';

/** Everything that may carry a secret in a log line: session tokens, tickets, cookies, passwords, AWS keys. */
export const LOG_REDACT_PATHS = [
  ...REDACT_PATHS,
  'req.headers["x-amz-security-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.sessionCookie',
  '*.token',
  '*.ticket',
  '*.keyPem',
  'config.aws.credentials',
];

export function loggerOptions(level: ConnectorConfig['logging']['level']): LoggerOptions {
  return { level, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' }, base: { service: 'vm2ec2-connector', version: CONNECTOR_VERSION } };
}

/** The certificate's host names: the listen address plus this machine's names. */
function certificateHosts(config: ConnectorConfig): string[] {
  const names = new Set<string>();
  if (config.listen.host !== '0.0.0.0' && config.listen.host !== '::') names.add(config.listen.host);
  names.add(hostname());
  names.add('localhost');
  names.add('127.0.0.1');
  return [...names];
}

export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<ConnectorHandle> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('Usage: node dist/connector/main.js --config <connector.yaml>\nEnvironment overrides: VM2EC2_* (see docs/install.md).\n');
    process.exit(0);
  }
  const configFile = values.config ?? env.VM2EC2_CONFIG;
  const config = configFile ? await loadConfigFile(configFile, env) : await resolveConfig({}, { env, source: 'the environment (no --config given)' });
  const log = pino(loggerOptions(config.logging.level));

  let tlsConfig = config.tls;
  if (!tlsConfig) {
    const tls = await loadOrCreateTls(config.dataDir, certificateHosts(config));
    tlsConfig = { certPem: tls.certPem, keyPem: tls.keyPem };
    if (tls.generated) log.warn({ dataDir: config.dataDir }, 'No TLS certificate configured: generated a self-signed certificate in <dataDir>/tls');
  }
  const handle = await startConnector({ ...config, tls: tlsConfig }, { logger: loggerOptions(config.logging.level) });
  log.info(
    { origin: handle.origin, manifestUrl: handle.manifestUrl, thumbprintSha256: handle.thumbprintSha256, version: CONNECTOR_VERSION },
    `Connector listening. Plug-in manifest URL: ${handle.manifestUrl}. Certificate SHA-256 thumbprint: ${handle.thumbprintSha256}`,
  );
  for (const allowed of config.trust.allowedCertificates) {
    log.warn({ host: allowed.host, thumbprint: allowed.thumbprint }, `Certificate validation is relaxed for ${allowed.host}: its certificate is accepted by thumbprint`);
  }

  // Stop taking requests, let running ones finish, close the store and vCenter sessions.
  closeWithGrace({ delay: 30_000, logger: { error: (m: unknown) => log.error(m) } }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'Stopping after an unexpected error');
    else log.info({ signal }, 'Stopping');
    await handle.stop();
    log.flush();
  });
  return handle;
}

const isEntry = process.argv[1] !== undefined && /[\\/]connector[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  main().catch((err: unknown) => {
    const code = (err as { code?: unknown } | null)?.code;
    const hint = code === 'EADDRINUSE' ? ' Another process uses that port: change listen.port (or VM2EC2_LISTEN_PORT).' : code === 'EACCES' ? ' Ports below 1024 need privileges: use 8443, or grant CAP_NET_BIND_SERVICE.' : '';
    const message = err instanceof ConfigError ? err.message : `The connector could not start: ${err instanceof Error ? err.message : String(err)}.${hint}`;
    process.stderr.write(`${message}\n`);
    process.exitCode = err instanceof ConfigError ? 78 /* EX_CONFIG */ : 1;
  });
}
