import { readFile } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { API_PREFIX, PLUGIN_CONTEXT_PATH, type ApiErrorBody } from './contract/index.ts';
import type { ConnectorConfig } from './config.ts';
import { API_SERVER_URL, openApiObjectTransform, openApiRouteTransform } from './openapi-transform.ts';
import { registerErrorHandler } from './plugins/error-handler.ts';
import { registerSecurityHeaders } from './plugins/security-headers.ts';
import { identityPlugin } from './plugins/identity.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { VcenterGateway } from './vcenter/gateway.ts';
import { vmRoutes } from './routes/vms.ts';
import { meRoutes } from './routes/me.ts';
import { dynamicItemRoutes } from './routes/dynamic-items.ts';
import { environmentRoutes } from './routes/environments.ts';
import { kmsKeyRoutes } from './routes/kms-keys.ts';
import { regionRoutes } from './routes/regions.ts';
import { importAuthorizationRoutes } from './routes/import-authorizations.ts';
import { migrationRoutes } from './routes/migrations.ts';
import { migrationTaskRoutes } from './routes/migrations-tasks.ts';
import { migrationRollbackRoutes } from './routes/migration-rollback.ts';
import { migrationResumeRoutes } from './routes/migration-resume.ts';
import { instanceRoutes } from './routes/instances.ts';
import { exportRoutes } from './routes/exports.ts';
import { settingsRoutes } from './routes/settings.ts';
import { enginePlugin } from './engine/plugin.ts';
import { preflightRoutes } from './routes/preflight.ts';
import { auditRoutes } from './routes/audit.ts';
import { statusRoutes } from './routes/status.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { fleetPlugin } from './fleet/plugin.ts';
import { notificationRoutes, notificationWebhooks } from './routes/notifications.ts';
import { waveRoutes } from './routes/waves.ts';
import { wavesPlugin } from './waves/plugin.ts';
import { returnRoutes } from './routes/returns.ts';
import { returnChoiceRoutes } from './routes/return-choices.ts';
import { returnsPlugin } from './roundtrip/plugin.ts';
import { notificationsPlugin } from './notifications/plugin.ts';
import { createStore, type Store } from './store/index.ts';
import { storePlugin } from './store/plugin.ts';
import { AwsGateway } from './aws/gateway.ts';
import { awsPlugin } from './aws/plugin.ts';
import { authPlugin } from './auth/plugin.ts';
import { MANIFEST_PATH, PACKAGE_ROOT } from './paths.ts';

export interface AppOptions {
  config: ConnectorConfig;
  logger?: FastifyServerOptions['logger'];
  https?: { cert: string; key: string };
  /** A store to use instead of the configured SQLite file (tests). */
  store?: Store;
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
  // Sets the security headers on replies that no hook sees; known once they are registered below.
  let harden: ((reply: FastifyReply) => void) | undefined;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    // Router-level failures (undecodable URL, over-long path parameter) also leave in the one error shape.
    frameworkErrors: (err, _request, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the URL is malformed';
      const body: ApiErrorBody = { code: 'VALIDATION_FAILED', message: `The request is not valid: ${message}.` };
      harden?.(reply as FastifyReply);
      void (reply as FastifyReply).status(status).send(body);
    },
    ...(opts.https ? { https: { cert: opts.https.cert, key: opts.https.key } } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  const uiRoot = isAbsolute(config.uiDir) ? config.uiDir : join(PACKAGE_ROOT, config.uiDir);
  harden = await registerSecurityHeaders(app, { vcenterUrl: config.vcenter.url, uiRoot, https: opts.https !== undefined });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'vm2ec2 connector API',
        version: '1',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        description:
          'The connector behind the vm2ec2 vSphere Client plugin: migrate vCenter VMs to Amazon EC2 and export imported instances to S3 as OVA. ' +
          'Every call carries the vSphere Client’s plugin session token in the `vmware-api-session-id` header; vCenter checks the caller’s own privileges. ' +
          'Errors are an `ApiError`: a code and a message that says what to fix.',
      },
      servers: [{ url: API_SERVER_URL, description: 'This connector, directly or through the vSphere Client plugin proxy' }],
      components: { securitySchemes: { vsphereSession: { type: 'apiKey', in: 'header', name: 'vmware-api-session-id' } } },
      security: [{ vsphereSession: [] }],
      webhooks: notificationWebhooks(),
    },
    // Paths are relative to the server above (its relative URL cannot be stripped by @fastify/swagger).
    stripBasePath: false,
    transform: openApiRouteTransform,
    // Schemas with a registered id (`.meta({ id })` in the contract) become shared components.
    transformObject: openApiObjectTransform,
  });

  const gateway = new VcenterGateway(config.vcenter, config.sessions);
  app.addHook('onClose', async () => gateway.close());
  await app.register(identityPlugin, { gateway });
  const aws = new AwsGateway(config.aws);
  // The store opens its file on first use, so building the app touches no disk.
  await app.register(storePlugin, {
    store: opts.store ?? createStore({ dataDir: config.dataDir, ...config.store, defaultRegion: aws.defaultRegion, onError: (err) => app.log.warn(`store: ${err.message}`) }),
  });
  await app.register(awsPlugin, { aws });
  await app.register(fleetPlugin, { config, instanceUuid: () => gateway.vcGuid() });
  await app.register(authPlugin, { administrators: config.administrators, dataDir: config.dataDir, tokenTtlSeconds: config.importTokens.ttlSeconds });
  await app.register(enginePlugin, { config, sdkUrl: gateway.sdkUrl });
  await app.register(notificationsPlugin, { config });
  await app.register(wavesPlugin, { config });
  await app.register(returnsPlugin, { config });

  await app.register(
    async (api) => {
      await api.register(rateLimitPlugin, { max: config.limits.maxRequests, windowMs: config.limits.windowMs });
      await api.register(meRoutes);
      await api.register(vmRoutes);
      await api.register(dynamicItemRoutes);
      await api.register(regionRoutes);
      await api.register(environmentRoutes);
      await api.register(kmsKeyRoutes);
      await api.register(importAuthorizationRoutes);
      await api.register(preflightRoutes);
      await api.register(migrationRoutes);
      await api.register(migrationTaskRoutes);
      await api.register(migrationRollbackRoutes);
      await api.register(migrationResumeRoutes);
      await api.register(instanceRoutes);
      await api.register(exportRoutes);
      await api.register(settingsRoutes);
      await api.register(auditRoutes);
      await api.register(statusRoutes, { config });
      await api.register(fleetRoutes);
      await api.register(notificationRoutes);
      await api.register(waveRoutes);
      await api.register(returnRoutes);
      await api.register(returnChoiceRoutes);
      api.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
    },
    { prefix: API_PREFIX },
  );

  app.get(`${PLUGIN_CONTEXT_PATH}/api/v1/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  // Interactive API page.
  // Within the CSP: no validator badge (it would send the document to validator.swagger.io) and no top bar (its
  // logo is an SVG with an inline <style>).
  await app.register(fastifySwaggerUi, {
    routePrefix: `${PLUGIN_CONTEXT_PATH}/api/docs`,
    uiConfig: { deepLinking: true, displayOperationId: true, validatorUrl: null, layout: 'BaseLayout' },
  });

  const manifest = await readFile(MANIFEST_PATH, 'utf8');
  app.get(`${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`, { schema: { hide: true } }, async (_req, reply) =>
    reply.type('application/json').header('cache-control', 'no-cache').send(manifest),
  );

  // The build names every file under assets/ by its content: a browser keeps those for good, and a reopened view
  // asks only for index.html (revalidated, it names the current ones) instead of revalidating a dozen scripts on
  // the vSphere Client's proxy connections its first API calls need.
  const uiAssets = join(uiRoot, 'assets') + sep;
  await app.register(fastifyStatic, {
    root: uiRoot,
    prefix: `${PLUGIN_CONTEXT_PATH}/`,
    index: ['index.html'],
    wildcard: true,
    setHeaders: (reply, path) => void reply.header('cache-control', path.startsWith(uiAssets) ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });

  return app;
}
