import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../connector/app.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { API_PREFIX, PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { inlineSources } from '../../connector/plugins/security-headers.ts';
import { generateSelfSigned } from '../../connector/tls.ts';
import { httpsJson, type HttpResult } from '../support/api-lab.ts';

// Issue 12 item 5: every answer of the connector, over its real HTTPS listener, carries the hardening headers.
// The UI build is a small page shaped like ui/index.html (an inline script and style next to bundled files).
const INLINE_SCRIPT = "\n      (function () { document.documentElement.dataset.base = 'set'; })();\n    ";
const INLINE_STYLE = 'body:not([cds-theme]){background:0 0}';
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

let dir: string;
let app: FastifyInstance;
let origin: string;
let ca: string;
const get = (path: string, headers: Record<string, string> = {}): Promise<HttpResult> => httpsJson(`${origin}${path}`, { ca, headers: { accept: '*/*', ...headers } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-headers-'));
  await mkdir(join(dir, 'ui', 'assets'), { recursive: true });
  await writeFile(
    join(dir, 'ui', 'index.html'),
    `<!doctype html><html><head><script src="/api/ui/htmlClientSdk.js"></script><script>${INLINE_SCRIPT}</script><style>${INLINE_STYLE}</style>` +
      `<script type="module" crossorigin src="./assets/index.js"></script></head><body><div id="root"></div></body></html>`,
  );
  await writeFile(join(dir, 'ui', 'assets', 'index.js'), 'export {};\n');
  const tls = await generateSelfSigned(['127.0.0.1']);
  ca = tls.certPem;
  const config = ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.example.com:8443/sdk' }, dataDir: join(dir, 'data'), uiDir: join(dir, 'ui') });
  app = await buildApp({ config, https: { cert: tls.certPem, key: tls.keyPem } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  origin = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The directives of a Content-Security-Policy header, by name. */
function directives(res: HttpResult): Map<string, string[]> {
  const header = res.headers['content-security-policy'];
  expect(typeof header, 'Content-Security-Policy').toBe('string');
  return new Map(
    String(header)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!, values]),
  );
}

function expectHardened(res: HttpResult, what: string): Map<string, string[]> {
  expect(res.headers['x-content-type-options'], what).toBe('nosniff');
  expect(res.headers['referrer-policy'], what).toBe('no-referrer');
  expect(res.headers['strict-transport-security'], what).toBe('max-age=31536000');
  const csp = directives(res);
  expect(csp.get('frame-ancestors'), what).toEqual(["'self'", 'https://vcenter.example.com:8443']);
  expect(csp.get('default-src'), what).toEqual(["'self'"]);
  expect(csp.get('object-src'), what).toEqual(["'none'"]);
  expect(csp.get('base-uri'), what).toEqual(["'self'"]);
  for (const [name, values] of csp) expect(values, `${what}: ${name}`).not.toContain("'unsafe-inline'");
  return csp;
}

describe('hardening headers', () => {
  it('on a plugin page: the page’s own inline script and style are allowed by hash, nothing else inline', async () => {
    const page = await get(`${PLUGIN_CONTEXT_PATH}/index.html`);
    expect(page.status).toBe(200);
    const csp = expectHardened(page, 'plugin page');
    expect(csp.get('script-src')).toEqual(["'self'", sha256(INLINE_SCRIPT)]);
    expect(csp.get('style-src')).toEqual(["'self'", sha256(INLINE_STYLE)]);
    expect(csp.get('script-src-attr')).toEqual(["'none'"]);
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['cross-origin-resource-policy']).toBe('same-origin');
    // frame-ancestors decides; X-Frame-Options could only say DENY or SAMEORIGIN, not the vCenter origin.
    expect(page.headers['x-frame-options']).toBeUndefined();
    const asset = await get(`${PLUGIN_CONTEXT_PATH}/assets/index.js`);
    expect(asset.status).toBe(200);
    expectHardened(asset, 'plugin script');
    const manifest = await get(`${PLUGIN_CONTEXT_PATH}/plugin-manifest.json`);
    expect(manifest.status).toBe(200);
    expectHardened(manifest, 'plugin manifest');
  });

  it('on API answers, refusals, 404s and malformed URLs', async () => {
    const health = await get(`${API_PREFIX}/health`);
    expect(health.status).toBe(200);
    expectHardened(health, 'API answer');
    const refused = await get(`${API_PREFIX}/me`);
    expect(refused.status).toBe(401);
    expectHardened(refused, 'API refusal');
    const invalid = await get(`${API_PREFIX}/vms/not-a-vm`, { 'vmware-api-session-id': 'x' });
    expect(invalid.status).toBe(400);
    expectHardened(invalid, 'validation error');
    const missing = await get(`${API_PREFIX}/no-such-route`);
    expect(missing.status).toBe(404);
    expectHardened(missing, '404');
    const missingFile = await get(`${PLUGIN_CONTEXT_PATH}/assets/missing.js`);
    expect(missingFile.status).toBe(404);
    expectHardened(missingFile, 'missing plugin file');
    const malformed = await get(`${API_PREFIX}/vms/%E0%A4%A`);
    expect(malformed.status).toBe(400);
    expectHardened(malformed, 'malformed URL');
  });

  it('on the API docs page, which needs no inline script or style', async () => {
    const docs = await get(`${PLUGIN_CONTEXT_PATH}/api/docs/`);
    expect(docs.status).toBe(200);
    expect(String(docs.headers['content-type'])).toMatch(/text\/html/);
    expectHardened(docs, 'docs page');
    expect(inlineSources(String(docs.body))).toEqual({ scripts: [], styles: [] });
    const initializer = await get(`${PLUGIN_CONTEXT_PATH}/api/docs/static/swagger-initializer.js`);
    expect(initializer.status).toBe(200);
    expectHardened(initializer, 'docs script');
    // The spec never goes to validator.swagger.io (an origin the policy does not allow anyway).
    expect(String(initializer.body)).toMatch(/validatorUrl["']?\s*:\s*null/);
  });

  it('sends HSTS only when the connector itself serves HTTPS', async () => {
    const plain = await buildApp({ config: ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.example.com/sdk' }, dataDir: join(dir, 'plain'), uiDir: join(dir, 'ui') }) });
    try {
      const res = await plain.inject({ method: 'GET', url: `${API_PREFIX}/health` });
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(String(res.headers['content-security-policy'])).toContain("frame-ancestors 'self' https://vcenter.example.com;");
    } finally {
      await plain.close();
    }
  });
});
