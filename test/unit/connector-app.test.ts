import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../connector/app.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { ApiErrorBody, API_PREFIX, PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { MANIFEST_PATH } from '../../connector/paths.ts';

// The app without a reachable vCenter: everything that must be answered before vCenter is asked.
let app: FastifyInstance;
beforeAll(async () => {
  const config = ConnectorConfig.parse({ vcenter: { url: 'https://127.0.0.1:9' }, dataDir: '/nonexistent', uiDir: 'dist/ui' });
  app = await buildApp({ config });
});
afterAll(async () => app.close());

describe('connector app', () => {
  it('serves the plugin manifest under the context path', async () => {
    const res = await app.inject({ method: 'GET', url: `${PLUGIN_CONTEXT_PATH}/plugin-manifest.json` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toBe(readFileSync(MANIFEST_PATH, 'utf8'));
  });

  it('refuses API calls without a vSphere Client session, in the error shape', async () => {
    for (const [method, url] of [
      ['GET', `${API_PREFIX}/me`],
      ['GET', `${API_PREFIX}/vms/vm-42`],
    ] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode, url).toBe(401);
      const body = ApiErrorBody.parse(res.json());
      expect(body.code).toBe('NOT_AUTHENTICATED');
      expect(body.message).toMatch(/vSphere Client/);
    }
  });

  it('validates input before anything reaches vCenter', async () => {
    const bad = await app.inject({ method: 'GET', url: `${API_PREFIX}/vms/not-a-vm`, headers: { 'vmware-api-session-id': 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(ApiErrorBody.parse(bad.json()).code).toBe('VALIDATION_FAILED');

    const cases: unknown[] = [{}, { objectIds: [] }, { objectIds: 'urn' }, { objectIds: [42] }, { objectIds: ['x'.repeat(300)] }];
    for (const body of cases) {
      const res = await app.inject({ method: 'POST', url: `${API_PREFIX}/dynamic-items/vm/actions`, payload: body as object, headers: { 'vmware-api-session-id': 'x' } });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(ApiErrorBody.parse(res.json()).code).toBe('VALIDATION_FAILED');
    }
  });

  it('rejects oversized and malformed bodies with 4xx, never 5xx', async () => {
    const big = await app.inject({
      method: 'POST',
      url: `${API_PREFIX}/dynamic-items/vm/actions`,
      headers: { 'content-type': 'application/json', 'vmware-api-session-id': 'x' },
      payload: JSON.stringify({ objectIds: ['a'.repeat(200 * 1024)] }),
    });
    expect(big.statusCode).toBe(413);
    expect(ApiErrorBody.parse(big.json()).code).toBe('PAYLOAD_TOO_LARGE');
    const junk = await app.inject({
      method: 'POST',
      url: `${API_PREFIX}/dynamic-items/vm/actions`,
      headers: { 'content-type': 'application/json', 'vmware-api-session-id': 'x' },
      payload: '{"objectIds": [',
    });
    expect(junk.statusCode).toBe(400);
    expect(ApiErrorBody.parse(junk.json()).code).toBe('VALIDATION_FAILED');
  });

  it('answers unknown paths with the error shape', async () => {
    const res = await app.inject({ method: 'GET', url: `${API_PREFIX}/nope` });
    expect(res.statusCode).toBe(404);
    expect(ApiErrorBody.parse(res.json()).code).toBe('NOT_FOUND');
  });

  it('publishes an OpenAPI 3.1 document of the API', async () => {
    const res = await app.inject({ method: 'GET', url: `${API_PREFIX}/openapi.json` });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/vms/{vmId}', '/me', '/dynamic-items/vm/actions']));
  });
});
