// Issue 12 item 16, in the lab's vSphere Client at 1280×720: the details a user trips over.
import type { ConsoleMessage, FrameLocator } from '@playwright/test';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test, type VsphereClient } from './fixtures.ts';

test.use({ viewport: { width: 1280, height: 720 } });

/** Every console warning and error of the page and its plugin iframes. */
function collectConsole(page: import('@playwright/test').Page): string[] {
  const seen: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'warning' || m.type() === 'error') seen.push(`${m.type()}: ${m.text()}`);
  });
  return seen;
}

test.describe('details (issue 12, item 16)', () => {
  test('a read-only user with no environment is told so and whom to ask; no React Router warning on load', async ({ vsphere, page }) => {
    const messages = collectConsole(page);
    await vsphere.loginAs('readonly');
    const portal = await vsphere.openPortal();
    const note = portal.getByTestId(testIds.portal.noEnvironments);
    await expect(note).toContainText('There is no environment you can see');
    await expect(note).toContainText('Ask a vCenter administrator to grant you a role');
    await expect(portal.getByText('Expand a region')).toHaveCount(0);
    await vsphere.shots('portal-no-environments');
    // The listener hears the plugin's iframe (so the check below can fail).
    await portal.locator('body').evaluate(() => console.warn('vm2ec2 console probe'));
    await expect.poll(() => messages.some((m) => m.includes('vm2ec2 console probe'))).toBe(true);
    expect(messages.filter((m) => /HydrateFallback/.test(m))).toEqual([]);
  });

  test("the portal tree uses Clarity's angle carets; no React Router warning on the portal or the migrate form", async ({ vsphere, page }) => {
    const messages = collectConsole(page);
    await vsphere.loginAs('administrator');
    const portal = await vsphere.openPortal();
    const caret = portal.getByRole('button', { name: /^Expand / }).first();
    await expect(caret.locator('cds-icon')).toHaveJSProperty('shape', 'angle');
    await expect(caret.locator('cds-icon')).toHaveJSProperty('direction', 'right');
    // The icon is drawn (an SVG inside the web component), not a text arrow.
    await expect(caret.locator('cds-icon svg')).toHaveCount(1);
    await expect(portal.getByRole('tree')).not.toContainText('▸');
    await caret.click();
    await expect(portal.getByRole('button', { name: /^Collapse / }).first().locator('cds-icon')).toHaveJSProperty('direction', 'down');
    await vsphere.shots('portal-tree');
    await vsphere.runPluginAction('ubuntu-web-01', 'Migrate VM to EC2');
    await expect(page.frameLocator(`[data-test="${client.modal.iframe}"]`).getByTestId(testIds.migrate.vmName)).toHaveText('ubuntu-web-01');
    expect(messages.filter((m) => /HydrateFallback/.test(m))).toEqual([]);
  });

  test('the migrate form footer names an invalid private IP below the fold and takes the user to it', async ({ vsphere }) => {
    await vsphere.loginAs('administrator');
    // An environment the administrator can migrate into, removed again at the end so other journeys start clean.
    const portal = await vsphere.openPortal();
    await portal.getByTestId(testIds.portal.admin).click();
    const admin = portal.getByTestId(testIds.admin.page);
    await createEnvironment(admin, DETAILS_ENV);
    try {
      await checkFooter(vsphere);
    } finally {
      const again = await vsphere.openPortal();
      await expect(again.getByRole('tree')).toBeVisible();
      await deleteEnvironment(again, DETAILS_ENV);
    }
  });
});

const DETAILS_ENV = 'Item 16 checks';

/** Deletes an environment through the connector API, from a plugin iframe (its session token and proxy path). */
async function deleteEnvironment(frame: FrameLocator, name: string): Promise<void> {
  const status = await frame.locator('body').evaluate(async (_body, envName) => {
    const w = window as unknown as { htmlClientSdk: { app: { getSessionInfo(cb: (i: { sessionToken: string }) => void): void } } };
    const token = await new Promise<string>((resolve) => w.htmlClientSdk.app.getSessionInfo((i) => resolve(i.sessionToken)));
    const seen = performance.getEntriesByType('resource').map((e) => e.name).find((u) => /\/vm2ec2\/api\/v1\/environments(\?|$)/.test(u));
    if (!seen) return 'no API call seen';
    const base = seen.replace(/\/environments.*$/, '');
    const headers = { 'vmware-api-session-id': token, Accept: 'application/json' };
    const list = (await (await fetch(`${base}/environments`, { headers })).json()) as { environments: { id: string; name: string }[] };
    const env = list.environments.find((e) => e.name === envName);
    if (!env) return 'not found';
    return String((await fetch(`${base}/environments/${env.id}`, { method: 'DELETE', headers })).status);
  }, name);
  expect(status).toMatch(/^20[04]$/);
}

async function checkFooter(vsphere: VsphereClient): Promise<void> {
  {
    const page = vsphere.page;
    const modal = await vsphere.runPluginAction('ubuntu-web-01', 'Migrate VM to EC2');
    await modal.getByRole('combobox', { name: 'Region' }).selectOption('us-east-1');
    await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: DETAILS_ENV });
    await modal.getByRole('combobox', { name: 'Instance type' }).selectOption({ index: 1 });
    const ip = modal.getByTestId(testIds.migrate.privateIp);
    await expect(ip).toBeEnabled();
    await ip.fill('10.0.300.1');
    const footer = modal.getByTestId(testIds.migrate.firstProblem);
    await expect(footer).toHaveText(/^Private IP address: 10\.0\.300\.1 is not a valid IPv4 address/);
    // Scroll the form back to the top, as a user who typed and scrolled up to check the other fields.
    await modal.locator('.vsp-modal-body').evaluate((el) => el.scrollTo(0, 0));
    await footer.click();
    await expect(ip).toBeFocused();
    await expect(ip).toBeInViewport();
    await expect(modal.getByRole('alert').filter({ hasText: '10.0.300.1' })).toBeInViewport();
    await vsphere.shots('migrate-form-first-problem');
    await page.getByTestId(client.modal.close).click();
  }
}
