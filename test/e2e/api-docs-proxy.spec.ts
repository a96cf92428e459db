import { readFileSync } from 'node:fs';
import { test, expect, client } from './fixtures.ts';

// The interactive API page as an administrator reaches it through the vSphere Client (its plugin proxy): every
// operation carries its operationId, and "Try it out" calls the connector at the document's relative server.
const doc = JSON.parse(readFileSync(new URL('../../connector/contract/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
  webhooks?: Record<string, Record<string, unknown>>;
};
// Swagger UI lists the webhooks (the notification payload) as operations too.
const operations = [...Object.values(doc.paths), ...Object.values(doc.webhooks ?? {})].reduce((n, ops) => n + Object.keys(ops).length, 0);

test('the API docs page, through the plugin proxy, names each operation and its calls reach the connector', async ({ vsphere }) => {
  const { page } = vsphere;
  await vsphere.loginAs('administrator');
  await vsphere.openPortal();
  const src = new URL((await page.getByTestId(client.globalView.iframe).getAttribute('src')) ?? '', page.url());
  // /plugins/<id>/<host>-<port>/vm2ec2/index.html → /plugins/<id>/<host>-<port>
  const proxied = `${src.origin}${src.pathname.slice(0, src.pathname.indexOf('/vm2ec2/'))}`;
  expect(proxied).toMatch(/\/plugins\/[^/]+\/[^/]+$/);

  const docs = await page.context().newPage();
  await docs.goto(`${proxied}/vm2ec2/api/docs/`);
  await expect(docs.locator('.opblock-summary-operation-id')).toHaveCount(operations);
  const me = docs.locator('#operations-identity-getMe');
  await expect(me.locator('.opblock-summary-operation-id')).toHaveText('getMe');

  await me.locator('.opblock-summary').click();
  await me.getByRole('button', { name: 'Try it out' }).click();
  await me.getByRole('button', { name: 'Execute' }).click();
  await expect(me.locator('.request-url pre')).toHaveText(`${proxied}/vm2ec2/api/v1/me`);
  // No session token authorized on the page: the connector itself answers, in its error shape.
  await expect(me.locator('.live-responses-table tbody .response-col_status')).toHaveText('401');
  await expect(me.locator('.live-responses-table tbody .response-col_description')).toContainText('NOT_AUTHENTICATED');
});
