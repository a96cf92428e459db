import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { API_PREFIX, PLUGIN_CONTEXT_PATH } from './contract/index.ts';
import type { ConnectorConfig } from './config.ts';
import { registerErrorHandler } from './plugins/error-handler.ts';
import { identityPlugin } from './plugins/identity.ts';
import { VcenterGateway } from './vcenter/gateway.ts';
import { vmRoutes } from './routes/vms.ts';
import { meRoutes } from './routes/me.ts';
import { dynamicItemRoutes } from './routes/dynamic-items.ts';
import { MANIFEST_PATH, PACKAGE_ROOT } from './paths.ts';

export interface AppOptions {
  config: ConnectorConfig;
  logger?: FastifyServerOptions['logger'];
  https?: { cert: string; key: string };
}

/** Log redaction: session tokens, tickets and credentials never reach the log. */
export const REDACT_PATHS = [
  'req.headers["vmware-api-session-id"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["vmware-api-session-id"]',
];

/** The connector: plugin manifest, plugin UI and API under one context path. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    ...(opts.https ? { https: { cert: opts.https.cert, key: opts.https.key } } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'vm2ec2 connector API', version: '1' },
      components: { securitySchemes: { vsphereSession: { type: 'apiKey', in: 'header', name: 'vmware-api-session-id' } } },
      security: [{ vsphereSession: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const gateway = new VcenterGateway(config.vcenter, config.sessions);
  app.addHook('onClose', async () => gateway.close());
  await app.register(identityPlugin, { gateway });

  await app.register(
    async (api) => {
      await api.register(meRoutes, { administrators: config.administrators });
      await api.register(vmRoutes);
      await api.register(dynamicItemRoutes);
      api.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
    },
    { prefix: API_PREFIX },
  );

  app.get(`${PLUGIN_CONTEXT_PATH}/api/v1/openapi.json`, { schema: { hide: true } }, async () => app.swagger());

  const manifest = await readFile(MANIFEST_PATH, 'utf8');
  app.get(`${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`, { schema: { hide: true } }, async (_req, reply) =>
    reply.type('application/json').header('cache-control', 'no-cache').send(manifest),
  );

  const uiRoot = isAbsolute(config.uiDir) ? config.uiDir : join(PACKAGE_ROOT, config.uiDir);
  await app.register(fastifyStatic, { root: uiRoot, prefix: `${PLUGIN_CONTEXT_PATH}/`, index: ['index.html'], wildcard: true });

  return app;
}
