// The connector's OpenAPI 3.1 document, rendered from the zod contract exactly as GET /api/v1/openapi.json serves it.
// `npx tsx connector/openapi.ts` rewrites the checked-in copy (connector/contract/openapi.json); a unit test fails
// when the copy drifts from the code.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.ts';
import { ConnectorConfig } from './config.ts';
import { API_PREFIX } from './contract/index.ts';
import { PACKAGE_ROOT } from './paths.ts';

export const OPENAPI_SNAPSHOT = join(PACKAGE_ROOT, 'connector', 'contract', 'openapi.json');

export async function renderOpenApiDocument(): Promise<string> {
  // No request reaches vCenter, AWS or the store: the document only needs the routes.
  const config = ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.invalid' }, dataDir: '/nonexistent-openapi-render' });
  const app = await buildApp({ config });
  try {
    const res = await app.inject({ method: 'GET', url: `${API_PREFIX}/openapi.json` });
    return `${JSON.stringify(res.json(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(OPENAPI_SNAPSHOT, await renderOpenApiDocument());
  console.log(`Wrote ${OPENAPI_SNAPSHOT}`);
}
