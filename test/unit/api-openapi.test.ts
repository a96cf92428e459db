import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../connector/app.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { API_PREFIX, PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { OPENAPI_SNAPSHOT, renderOpenApiDocument } from '../../connector/openapi.ts';

interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
}
interface OpenApiDoc {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

let app: FastifyInstance;
let doc: OpenApiDoc;
beforeAll(async () => {
  app = await buildApp({ config: ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.invalid' }, dataDir: '/nonexistent-openapi-test' }) });
  doc = (await app.inject({ method: 'GET', url: `${API_PREFIX}/openapi.json` })).json<OpenApiDoc>();
});
afterAll(async () => app.close());

describe('the API description', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every endpoint of the API, each with a summary and its error responses', () => {
    const expected = [
      'GET /me',
      'GET /regions',
      'GET /regions/{region}/vpcs',
      'GET /environments',
      'POST /environments',
      'GET /environments/{id}',
      'PUT /environments/{id}',
      'DELETE /environments/{id}',
      'GET /environments/{id}/permissions',
      'PUT /environments/{id}/permissions',
      'GET /environments/{id}/subnets',
      'GET /environments/{id}/security-groups',
      'GET /environments/{id}/instance-types',
      'POST /import-authorizations',
      'POST /migrations',
      'GET /vms/{vmId}',
      'GET /vms/{vmId}/preflight',
      'GET /audit',
      'POST /dynamic-items/vm/actions',
      'POST /waves',
      'GET /waves',
      'GET /waves/{id}',
      'POST /waves/{id}/cancel',
    ];
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented).toEqual(expect.arrayContaining(expected));
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
      }
    }
  });

  it('names every operation with a unique camelCase operationId (client code and the docs page use it)', () => {
    const ids = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ at: `${method} ${path}`, id: op.operationId })));
    for (const { at, id } of ids) expect(id, at).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    expect(new Set(ids.map((o) => o.id)).size).toBe(ids.length);
    expect(doc.paths['/instances/{id}/start']?.post?.operationId).toBe('startInstance');
  });

  it('has a server that reaches each operation from wherever the document is read: the connector or the vSphere Client plugin proxy', () => {
    expect(doc.servers).toHaveLength(1);
    const server = doc.servers![0]!.url;
    const proxy = '/plugins/1b2e4c6f/connector.example.com-8443';
    for (const served of [`${API_PREFIX}/openapi.json`, `${PLUGIN_CONTEXT_PATH}/api/docs/json`]) {
      for (const [origin, prefix] of [['https://connector.example.com:8443', ''], ['https://vcenter.example.com', proxy]] as const) {
        for (const [path, ops] of Object.entries(doc.paths)) {
          const url = new URL(`${new URL(server, `${origin}${prefix}${served}`).href}${path}`);
          expect(url.origin).toBe(origin);
          expect(url.pathname.startsWith(`${prefix}/`), `${path} read from ${origin}${prefix}${served}`).toBe(true);
          // What the connector receives (the proxy strips its own prefix) is a route it serves.
          const route = decodeURI(url.pathname.slice(prefix.length)).replace(/\{([^}]+)\}/g, ':$1');
          for (const method of Object.keys(ops)) expect(app.hasRoute({ method: method.toUpperCase() as 'GET', url: route }), `${method} ${route}`).toBe(true);
        }
      }
    }
  });

  it('publishes one component per schema id in the contract, each referenced', () => {
    const text = JSON.stringify(doc);
    const ids = [...z.globalRegistry._idmap.keys()].sort();
    expect(Object.keys(doc.components.schemas).sort()).toEqual(ids);
    for (const id of ids) expect(text, id).toContain(`"#/components/schemas/${id}"`);
  });

  it('documents the log bundle download: a .tar.gz attachment', () => {
    const ok = doc.paths['/connector/log-bundle']?.get?.responses['200'];
    expect(Object.keys(ok?.content ?? {})).toEqual(['application/gzip']);
    expect(Object.keys(ok?.headers ?? {})).toEqual(['content-disposition']);
  });

  it('matches the checked-in copy (run `npx tsx connector/openapi.ts` after changing the contract)', async () => {
    expect(await renderOpenApiDocument()).toBe(await readFile(OPENAPI_SNAPSHOT, 'utf8'));
  });

  it('has an interactive page', async () => {
    const res = await app.inject({ method: 'GET', url: `${PLUGIN_CONTEXT_PATH}/api/docs/` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/swagger-ui/i);
    const init = await app.inject({ method: 'GET', url: `${PLUGIN_CONTEXT_PATH}/api/docs/static/swagger-initializer.js` });
    expect(init.statusCode).toBe(200);
    const json = await app.inject({ method: 'GET', url: `${PLUGIN_CONTEXT_PATH}/api/docs/json` });
    expect(json.json<OpenApiDoc>().openapi).toBe('3.1.0');
    // The page labels each operation with its operationId.
    expect(init.body).toContain('"displayOperationId":true');
  });
});
