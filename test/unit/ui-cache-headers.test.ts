import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../connector/app.ts';
import { ConnectorConfig } from '../../connector/config.ts';
import { PLUGIN_CONTEXT_PATH } from '../../connector/contract/index.ts';
import { generateSelfSigned } from '../../connector/tls.ts';
import { httpsJson } from '../support/api-lab.ts';

// Issue 17: a reopened plugin view takes its content-hashed scripts from the browser's cache without asking, and
// revalidates only the page that names them; over the connector's real HTTPS listener.
let dir: string;
let app: FastifyInstance;
let origin: string;
let ca: string;
const get = (path: string) => httpsJson(`${origin}${path}`, { ca, headers: { accept: '*/*' } });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-ui-cache-'));
  await mkdir(join(dir, 'ui', 'assets'), { recursive: true });
  await writeFile(join(dir, 'ui', 'index.html'), '<!doctype html><html><head><script type="module" src="./assets/index-Ab12Cd34.js"></script></head><body></body></html>');
  await writeFile(join(dir, 'ui', 'assets', 'index-Ab12Cd34.js'), 'export {};\n');
  await writeFile(join(dir, 'ui', 'assets', 'start-Ef56Gh78.css'), 'body{margin:0}\n');
  const tls = await generateSelfSigned(['127.0.0.1']);
  ca = tls.certPem;
  const config = ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.example.com/sdk' }, dataDir: join(dir, 'data'), uiDir: join(dir, 'ui') });
  app = await buildApp({ config, https: { cert: tls.certPem, key: tls.keyPem } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  origin = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('caching of the plugin UI', () => {
  it('keeps the built assets for good and revalidates the page every time', async () => {
    for (const path of ['assets/index-Ab12Cd34.js', 'assets/start-Ef56Gh78.css']) {
      const asset = await get(`${PLUGIN_CONTEXT_PATH}/${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers['cache-control'], path).toBe('public, max-age=31536000, immutable');
    }
    for (const path of ['index.html', '']) {
      const page = await get(`${PLUGIN_CONTEXT_PATH}/${path}`);
      expect(page.status, path).toBe(200);
      expect(page.headers['cache-control'], path).toBe('no-cache');
    }
  });
});
