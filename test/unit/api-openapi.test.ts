import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../connector/app.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { API_PREFIX, PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { OPENAPI_SNAPSHOT, renderOpenApiDocument } from '../../connector/openapi.ts';

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { tags?: string[]; summary?: string; responses: Record<string, unknown> }>>;
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
    ];
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.slice(API_PREFIX.length)}`));
    expect(documented).toEqual(expect.arrayContaining(expected));
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
      }
    }
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
  });
});
