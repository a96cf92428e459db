import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { ConnectorConfig, type ConnectorConfigInput } from './config.ts';
import { PLUGIN_CONTEXT_PATH } from './contract/index.ts';
import { loadOrCreateTls, thumbprintOf } from './tls.ts';

export interface ConnectorHandle {
  app: FastifyInstance;
  /** https://host:port */
  origin: string;
  manifestUrl: string;
  certPem: string;
  thumbprintSha256: string;
  stop(): Promise<void>;
}

/** Start the connector over HTTPS with a validated configuration. */
export async function startConnector(input: ConnectorConfigInput, opts: { logger?: boolean | object } = {}): Promise<ConnectorHandle> {
  const config = ConnectorConfig.parse(input);
  const tls = config.tls
    ? { ...config.tls, thumbprintSha256: thumbprintOf(config.tls.certPem) }
    : await loadOrCreateTls(config.dataDir, [config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host, 'localhost']);
  const app = await buildApp({ config, https: { cert: tls.certPem, key: tls.keyPem }, logger: opts.logger ?? false });
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const host = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host;
  const origin = `https://${host}:${port}`;
  return {
    app,
    origin,
    manifestUrl: `${origin}${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`,
    certPem: tls.certPem,
    thumbprintSha256: tls.thumbprintSha256,
    stop: () => app.close(),
  };
}
