// GET /connector/status: what an administrator checks first when something goes wrong.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectorConfig } from '../config.ts';
import { ApiErrorBody, ConnectorStatus, DoctorReport, LOG_BUNDLE_MEDIA_TYPE, LogBundleArchive } from '../contract/index.ts';
import { runDoctor } from '../doctor/checks.ts';
import { scrubSecrets, tarGz } from '../doctor/log-bundle.ts';
import { redactConfig } from '../config-file.ts';
import { CONNECTOR_VERSION } from '../doctor/version.ts';
import { child, text } from '../vsphere/soap.ts';
import { requireAdministrator } from './access-helpers.ts';

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Gives up on a slow dependency so the status page answers. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}

export const statusRoutes: FastifyPluginAsyncZod<{ config: ConnectorConfig; timeoutMs?: number }> = async (app, opts) => {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  app.get(
    '/connector/status',
    {
      schema: {
        operationId: 'getConnectorStatus',
        tags: ['connector'],
        summary: 'Connector health: vCenter, AWS per region, clock offset, store, queue, version (administrators)',
        response: { 200: ConnectorStatus, 401: ApiErrorBody, 403: ApiErrorBody },
      },
    },
    async (request) => {
      await requireAdministrator(app, request);

      const vcenter = (async (): Promise<ConnectorStatus['vcenter']> => {
        const url = opts.config.vcenter.url;
        try {
          const { client } = await withTimeout(request.vcenter(), timeoutMs, 'vCenter');
          const before = Date.now();
          const r = await withTimeout(client.invoke('CurrentTime', { type: 'ServiceInstance', value: 'ServiceInstance' }), timeoutMs, 'vCenter');
          const after = Date.now();
          const vcTime = Date.parse(text(r) ?? text(child(r, 'returnval')) ?? '');
          return { url, reachable: true, ...(Number.isFinite(vcTime) ? { clockOffsetMs: Math.round(vcTime - (before + after) / 2) } : {}) };
        } catch (err) {
          return { url, reachable: false, error: describe(err) };
        }
      })();

      const aws = Promise.all(
        app.aws.regions.map(async (region) => {
          try {
            await withTimeout(app.aws.vpcs(region), timeoutMs, `AWS ${region}`);
            return { region, reachable: true };
          } catch (err) {
            return { region, reachable: false, error: describe(err) };
          }
        }),
      );

      const store = (async (): Promise<ConnectorStatus['store']> => {
        try {
          await app.store.audit.query({ limit: 1 });
          return { healthy: true };
        } catch (err) {
          return { healthy: false, error: describe(err) };
        }
      })();

      const depth = app.hasDecorator('engine') ? (await app.engine.list({ state: 'queued', limit: 1, offset: 0 })).total : null;

      const warnings = opts.config.trust.allowedCertificates.map((a) => ({
        code: 'CERTIFICATE_ALLOWED_BY_THUMBPRINT',
        message: `The certificate of ${a.host} is accepted by thumbprint ${a.thumbprint} without CA validation${a.addedBy ? ` (allowed by ${a.addedBy}${a.addedAt ? ` on ${a.addedAt}` : ''})` : ''}. Install a CA-signed certificate on the host and remove it from trust.allowedCertificates.`,
      }));

      return {
        version: CONNECTOR_VERSION,
        checkedAt: new Date().toISOString(),
        vcenter: await vcenter,
        aws: await aws,
        store: await store,
        queue: { depth },
        updating: app.hasDecorator('engine') ? app.engine.updating : null,
        warnings,
      };
    },
  );

  app.get(
    '/connector/checks',
    {
      schema: {
        operationId: 'runConnectorChecks',
        tags: ['connector'],
        summary: 'The troubleshooting checks (vmimport role, ESX host names and certificates); fixes run from the vm2ec2 doctor command (administrators)',
        response: { 200: DoctorReport, 401: ApiErrorBody, 403: ApiErrorBody },
      },
    },
    async (request) => {
      await requireAdministrator(app, request);
      const { client } = await request.vcenter();
      const findings = await runDoctor({ config: opts.config, aws: app.aws, vcenter: client });
      return { checkedAt: new Date().toISOString(), findings };
    },
  );

  app.get(
    '/connector/log-bundle',
    {
      schema: {
        operationId: 'downloadLogBundle',
        tags: ['connector'],
        summary: 'A log bundle (configuration without secrets, versions, recent audit history) as .tar.gz (administrators)',
        response: {
          200: {
            description: 'The log bundle, to download and attach to a support case',
            headers: { 'content-disposition': z.string().describe('attachment; filename="vm2ec2-log-bundle-<UTC time>.tar.gz"') },
            content: { [LOG_BUNDLE_MEDIA_TYPE]: { schema: LogBundleArchive } },
          },
          401: ApiErrorBody,
          403: ApiErrorBody,
        },
      },
    },
    async (request, reply) => {
      await requireAdministrator(app, request);
      const now = new Date();
      const audit = await app.store.audit.query({ limit: 500 });
      const bundle = tarGz(
        [
          { name: 'vm2ec2/config.json', data: JSON.stringify(redactConfig(opts.config), null, 2) + '\n' },
          { name: 'vm2ec2/versions.json', data: JSON.stringify({ connector: CONNECTOR_VERSION, node: process.version, createdAt: now.toISOString() }, null, 2) + '\n' },
          { name: 'vm2ec2/history/audit.json', data: scrubSecrets(JSON.stringify(audit, null, 2)) + '\n' },
          ...(app.hasDecorator('engine')
            ? [{ name: 'vm2ec2/history/tasks.json', data: scrubSecrets(JSON.stringify((await app.engine.list({ limit: 200, offset: 0 })).items, null, 2)) + '\n' }]
            : []),
        ],
        now,
      );
      return reply
        .type(LOG_BUNDLE_MEDIA_TYPE)
        .header('content-disposition', `attachment; filename="vm2ec2-log-bundle-${now.toISOString().replace(/[:.]/g, '-')}.tar.gz"`)
        // A Buffer skips the serializer.
        .send(bundle as never);
    },
  );
};
