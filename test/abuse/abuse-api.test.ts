import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, Environment, SecurityGroupList, SubnetList, VpcList } from '../../connector/contract/index.ts';
import { startApiLab, type ApiLab, type ApiUser, type HttpResult } from '../support/api-lab.ts';
import { recordFaultTally } from '../support/fault-summary.ts';

// Abuse of the connector API through its real HTTPS interface: oversized bodies, a default-limit polling burst and
// property-based fuzzing of every write endpoint listed in the published OpenAPI document.
interface Endpoint {
  method: string;
  /** Path under /vm2ec2/api/v1 with `{param}` placeholders. */
  path: string;
  bodyKeys: string[];
}

type Doc = { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { $ref?: string; properties?: object } }> } }>>; components?: { schemas?: Record<string, { properties?: object }> } };
const doc = JSON.parse(readFileSync(new URL('../../connector/contract/openapi.json', import.meta.url), 'utf8')) as Doc;

/** Every POST/PUT/PATCH/DELETE (the document's paths are relative to the API prefix), so new endpoints are fuzzed without editing this file. */
const WRITE_ENDPOINTS: Endpoint[] = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.entries(ops)
    .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
    .map(([method, op]) => {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const resolved = schema?.$ref ? doc.components?.schemas?.[schema.$ref.split('/').pop() ?? ''] : schema;
      return { method: method.toUpperCase(), path, bodyKeys: Object.keys(resolved?.properties ?? {}) };
    }),
);

const stats = { requests: 0, serverErrors: 0, rateLimited: 0, oversized: 0 };
const serverErrorSamples: string[] = [];

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let envId: string;
/** DELETE targets this one, so the fuzzed writes keep a real environment to aim at. */
let decoyId: string;

beforeAll(async () => {
  lab = await startApiLab();
  admin = await lab.login('administrator@vsphere.local');
  operator = await lab.login('operator@vsphere.local');
  const vpcId = VpcList.parse((await admin.call('GET', '/regions/us-east-1/vpcs')).body).vpcs[0]!.id;
  const subnetId = SubnetList.parse((await admin.call('GET', `/regions/us-east-1/subnets?vpcId=${vpcId}`)).body).subnets[0]!.id;
  const groupId = SecurityGroupList.parse((await admin.call('GET', `/regions/us-east-1/security-groups?vpcId=${vpcId}`)).body).securityGroups[0]!.id;
  const environment = { name: 'Abuse', description: 'fuzz target', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId], instanceTypes: ['m5.large'] };
  envId = Environment.parse((await admin.call('POST', '/environments', environment)).body).id;
  decoyId = Environment.parse((await admin.call('POST', '/environments', { ...environment, name: 'Abuse decoy' })).body).id;
});

afterAll(async () => {
  recordFaultTally({ suite: 'abuse-api', faultsInjected: stats.oversized, migrationsCompleted: 0, migrationsFailed: 0, tasksLost: 0, duplicates: 0, orphans: 0, requestsFuzzed: stats.requests, serverErrors: stats.serverErrors });
  console.log(
    `abuse summary: ${stats.requests} requests fuzzed over ${WRITE_ENDPOINTS.length} write endpoints, ${stats.serverErrors} server errors, ${stats.rateLimited} rate-limited, ${stats.oversized} oversized bodies refused`,
  );
  await lab?.stop();
});

function record(res: HttpResult, label: string): void {
  stats.requests++;
  if (res.status === 429) stats.rateLimited++;
  if (res.status >= 500) {
    stats.serverErrors++;
    serverErrorSamples.push(`${label} → ${res.status} ${String(JSON.stringify(res.body)).slice(0, 200)}`);
  }
}

/** The fuzz invariant: never a 5xx; every 4xx in the one error shape. */
function checkResponse(res: HttpResult, label: string): void {
  expect(res.status, `${label}: ${String(JSON.stringify(res.body)).slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) expect(ApiErrorBody.safeParse(res.body).success, `${label}: error shape ${String(JSON.stringify(res.body)).slice(0, 300)}`).toBe(true);
}

/** Write endpoints allowed more than the connector's 64 KiB: a wave carries an import authorization per VM (up to 500). */
const BODY_LIMITS: Record<string, number> = { 'POST /waves': 1024 * 1024 };

describe('request bodies over the 64 KiB limit (or the endpoint\'s own)', () => {
  it('every write endpoint answers 413 PAYLOAD_TOO_LARGE in the error shape', async () => {
    for (const ep of WRITE_ENDPOINTS) {
      const limit = BODY_LIMITS[`${ep.method} ${ep.path}`];
      for (const size of limit ? [limit + 1] : [64 * 1024 + 1, 1024 * 1024]) {
        const path = ep.path.replace(/\{[^}]+\}/g, envId);
        const rawBody = JSON.stringify({ name: 'x'.repeat(size) });
        const res = await admin.call(ep.method, path, undefined, { rawBody });
        expect(res.status, `${ep.method} ${ep.path} with ${size} bytes`).toBe(413);
        expect(ApiErrorBody.parse(res.body).code).toBe('PAYLOAD_TOO_LARGE');
        stats.oversized++;
      }
    }
  });
});

describe('default rate limit', () => {
  it('200 tabs of one login polling at once are all served', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => operator.call('GET', '/environments')));
    expect(results.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
  });
});

// Values that break schemas: wrong types, control characters, prototype-pollution keys, huge strings.
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('__proto__', 'constructor', '\u0000', '../../etc/passwd', '<script>alert(1)</script>', 'NaN', '-1', '1e309'),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.array(fc.string(), { maxLength: 700 }),
);

const pathParam = fc.oneof(
  fc.constant('__env__'),
  fc.uuid(),
  fc.constantFrom('i-0123456789abcdef0', 'export-i-0123456789abcdef0', 'm-0', '..', '%00'),
  fc.string({ minLength: 1, maxLength: 80 }).map(encodeURIComponent),
);

function bodyFor(keys: string[]): fc.Arbitrary<{ kind: string; rawBody: string; contentType: string }> {
  const json = (v: unknown) => ({ kind: 'json', rawBody: JSON.stringify(v) ?? 'null', contentType: 'application/json' });
  return fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map(json),
    // The endpoint's own field names with hostile values, plus unknown fields.
    fc.dictionary(keys.length ? fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 20 })) : fc.string({ maxLength: 20 }), hostileValue, { maxKeys: Math.max(keys.length + 2, 3) }).map(json),
    // Junk content types and undecodable JSON.
    fc
      .record({
        contentType: fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/octet-stream', 'application/json'),
        rawBody: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('{', '{"a":', '[1,2', '\u0000', '{"__proto__":{"admin":true}}', 'a=1&b=2')),
      })
      .map((r) => ({ kind: 'raw', ...r })),
  );
}

describe('fuzzing every write endpoint', () => {
  it('lists the write endpoints from the OpenAPI document', () => {
    expect(WRITE_ENDPOINTS.map((e) => `${e.method} ${e.path}`)).toEqual(expect.arrayContaining(['POST /environments', 'PUT /environments/{id}', 'POST /migrations']));
  });

  for (const role of ['administrator', 'operator'] as const) {
    it(`as ${role}: never a 5xx, every 4xx in the error shape`, async () => {
      const user = role === 'administrator' ? admin : operator;
      const endpoint = fc.constantFrom(...WRITE_ENDPOINTS).chain((ep) => fc.record({ ep: fc.constant(ep), param: pathParam, body: bodyFor(ep.bodyKeys) }));
      await fc.assert(
        fc.asyncProperty(endpoint, async ({ ep, param, body }) => {
          const path = ep.path.replace(/\{[^}]+\}/g, param === '__env__' ? (ep.method === 'DELETE' ? decoyId : envId) : param);
          const label = `${role} ${ep.method} ${path.slice(0, 120)} (${body.contentType}, ${body.rawBody.length} bytes)`;
          const res = await user.call(ep.method, path, undefined, { rawBody: body.rawBody, headers: { 'content-type': body.contentType } });
          record(res, label);
          checkResponse(res, label);
        }),
        { numRuns: 2500, endOnFailure: true },
      );
      expect(serverErrorSamples).toEqual([]);
    });
  }
});
