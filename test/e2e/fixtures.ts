import { mkdirSync } from 'node:fs';
import { test as base, expect, type FrameLocator, type Locator, type Page } from '@playwright/test';
import { testIds } from '../../ui/testIds.ts';
import { testIds as client } from '../../lab/vsphere-client/test-ids.ts';
import type { LabUser } from '../../lab/index.ts';

export { expect };
export { client };

export type LabRole = 'administrator' | 'operator' | 'readonly';

function labUser(role: LabRole): LabUser {
  const users = JSON.parse(process.env.LAB_USERS ?? '[]') as LabUser[];
  const user = users.find((u) => u.name.startsWith(`${role}@`));
  if (!user) throw new Error(`lab user ${role} not found (is the Playwright global setup running?)`);
  return user;
}

export interface VsphereClient {
  page: Page;
  loginAs(role: LabRole): Promise<void>;
  openVm(name: string): Promise<void>;
  /** Right-click a VM and pick one of the plugin's actions. */
  runPluginAction(vmName: string, label: string): Promise<FrameLocator>;
  pluginActionItem(vmName: string, label: string): Promise<ReturnType<Page['getByTestId']>>;
  /** Menu → AWS Management Portal: the plugin's global view. */
  openPortal(): Promise<FrameLocator>;
  /** Flip the vSphere Client between light and dark theme. */
  toggleTheme(): Promise<void>;
  /** A full-page screenshot into docs/screenshots/<name>-<light|dark>.png. */
  shot(name: string, theme: 'light' | 'dark'): Promise<void>;
  /** The screen as it is, in both themes (docs/screenshots/<name>-light.png and -dark.png); the theme is restored. */
  shots(name: string): Promise<void>;
}

/** The lab's vSphere Client, driven the way a user does. */
export const test = base.extend<{ vsphere: VsphereClient }>({
  vsphere: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Chromium reports what the connector's Content-Security-Policy blocked (in any frame) on the console.
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
    });
    const pluginName = 'AWS Management Portal';
    const vsphere: VsphereClient = {
      page,
      async loginAs(role) {
        const user = labUser(role);
        await page.goto(process.env.LAB_CLIENT_URL ?? '');
        await page.getByTestId(client.login.username).fill(user.name);
        await page.getByTestId(client.login.password).fill(user.password);
        await page.getByTestId(client.login.submit).click();
        await expect(page.getByTestId(client.navigator.tree)).toBeVisible();
      },
      async openVm(name) {
        const node = page.getByTestId(client.navigator.node(name));
        if (!(await node.isVisible())) {
          for (const folder of ['Migration', 'Production']) {
            const expand = page.getByRole('button', { name: `Expand ${folder}`, exact: true });
            if ((await expand.count()) > 0) await expand.click();
          }
        }
        await node.click();
        await expect(page.getByTestId(client.object.title)).toHaveText(name);
      },
      async pluginActionItem(vmName, label) {
        await vsphere.openVm(vmName);
        await page.getByTestId(client.navigator.node(vmName)).click({ button: 'right' });
        await expect(page.getByRole('menu', { name: `Actions - ${vmName}` })).toBeVisible();
        await page.getByTestId(client.contextMenu.pluginSubmenu(pluginName)).click();
        return page.getByTestId(client.contextMenu.pluginAction(label));
      },
      async runPluginAction(vmName, label) {
        const item = await vsphere.pluginActionItem(vmName, label);
        await expect(item).toBeEnabled();
        await item.click();
        await expect(page.getByTestId(client.modal.root)).toBeVisible();
        return page.frameLocator(`[data-test="${client.modal.iframe}"]`);
      },
      async openPortal() {
        await page.getByTestId(client.header.menu).click();
        await page.getByTestId(client.header.menuItem(pluginName)).click();
        await expect(page.getByTestId(client.globalView.iframe)).toBeVisible();
        return page.frameLocator(`[data-test="${client.globalView.iframe}"]`);
      },
      async toggleTheme() {
        await page.getByTestId(client.header.themeToggle).click();
      },
      async shot(name, theme) {
        mkdirSync('docs/screenshots', { recursive: true });
        await page.screenshot({ path: `docs/screenshots/${name}-${theme}.png` });
      },
      async shots(name) {
        const body = page.locator('body');
        const switchTo = async (theme: 'light' | 'dark') => {
          // The header stays under an open modal's backdrop, so the toggle is clicked programmatically.
          if ((await body.getAttribute('cds-theme')) !== theme) await page.getByTestId(client.header.themeToggle).dispatchEvent('click');
          await expect(body).toHaveAttribute('cds-theme', theme);
          for (const frame of page.frames()) {
            if (frame.url().includes('/plugins/')) await expect(frame.locator('body')).toHaveAttribute('cds-theme', theme);
          }
        };
        const start = (await body.getAttribute('cds-theme')) === 'dark' ? 'dark' : 'light';
        const other = start === 'dark' ? 'light' : 'dark';
        await vsphere.shot(name, start);
        await switchTo(other);
        await vsphere.shot(name, other);
        await switchTo(start);
      },
    };
    await use(vsphere);
    expect(errors, 'JavaScript errors in the page').toEqual([]);
    expect(blocked, 'Content Security Policy violations').toEqual([]);
  },
});

/**
 * Administration → Create New: an environment in us-east-1 on the lab's first VPC with its first security group and
 * the first `subnets` subnets; `beforeCreate` runs with the form filled (a screenshot, say).
 */
export async function createEnvironment(admin: Locator, name: string, opts: { subnets?: number; beforeCreate?: () => Promise<void> } = {}): Promise<Locator> {
  await admin.getByRole('button', { name: 'Create New' }).click();
  const form = admin.getByTestId(testIds.admin.envForm);
  await form.getByRole('textbox', { name: 'Name' }).fill(name);
  await form.getByRole('combobox', { name: 'Region' }).selectOption('us-east-1');
  const vpc = form.getByRole('combobox', { name: 'VPC' });
  await expect(vpc.locator('option')).not.toHaveCount(1);
  await vpc.selectOption({ index: 1 });
  for (let i = 0; i < (opts.subnets ?? 1); i++) await form.getByTestId(testIds.admin.envSubnets).getByRole('checkbox').nth(i).check();
  await form.getByTestId(testIds.admin.envGroups).getByRole('checkbox').first().check();
  await opts.beforeCreate?.();
  await form.getByRole('button', { name: 'Create' }).click();
  const table = admin.getByRole('table', { name: 'Environments' });
  await expect(table).toContainText(name);
  return table;
}
