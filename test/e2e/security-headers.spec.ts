import { testIds } from '../../ui/testIds.ts';
import { test, expect, client } from './fixtures.ts';

// Issue 12 item 5: the connector's Content-Security-Policy reaches the browser through the vSphere Client's plugin
// proxy and breaks neither the portal nor the API page. The vsphere fixture fails the test on any CSP violation or
// script error Chromium reports, so both pages are opened in its page.
test('the portal and the API page work under the connector’s security headers, through the plugin proxy', async ({ vsphere }) => {
  const { page } = vsphere;
  await vsphere.loginAs('administrator');
  const portal = await vsphere.openPortal();
  // Administration, rendered by the plugin's scripts and styled by its stylesheet and inline style.
  await portal.getByTestId(testIds.portal.admin).click();
  await expect(portal.getByTestId(testIds.admin.page)).toBeVisible();

  const src = new URL((await page.getByTestId(client.globalView.iframe).getAttribute('src')) ?? '', page.url());
  // /plugins/<id>/<host>-<port>/vm2ec2/index.html → /plugins/<id>/<host>-<port>
  const proxied = `${src.origin}${src.pathname.slice(0, src.pathname.indexOf('/vm2ec2/'))}`;
  const plugin = await page.request.get(`${proxied}/vm2ec2/index.html`);
  const csp = plugin.headers()['content-security-policy'] ?? '';
  expect(csp).toContain(`frame-ancestors 'self' ${src.origin}`);
  expect(csp).toMatch(/script-src 'self' 'sha256-[^']+'/);
  expect(plugin.headers()['x-content-type-options']).toBe('nosniff');

  const docs = await page.goto(`${proxied}/vm2ec2/api/docs/`);
  expect(docs?.headers()['content-security-policy']).toBe(csp);
  await expect(page.locator('.opblock-summary-operation-id', { hasText: 'createImportAuthorization' })).toBeVisible();
});
