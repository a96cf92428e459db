import { mkdirSync } from 'node:fs';
import { testIds } from '../../ui/testIds.ts';
import { client, expect, test } from './fixtures.ts';

const SHOTS = 'docs/screenshots';

test.describe('Migrate VM to EC2 (the right-click action)', () => {
  test('the administrator opens the action on a VM and the plugin shows that VM from vCenter', async ({ vsphere, page }) => {
    await vsphere.loginAs('administrator');
    const modal = await vsphere.runPluginAction('ubuntu-web-01', 'Migrate VM to EC2');
    await expect(page.getByTestId(client.modal.title)).toHaveText('Migrate VM to EC2');
    // Name and guest OS come from the connector, which read them through the user's cloned vCenter session.
    await expect(modal.getByTestId(testIds.migrate.vmName)).toHaveText('ubuntu-web-01');
    await expect(modal.getByTestId(testIds.migrate.guestOs)).toHaveText('Ubuntu Linux (64-bit)');
    await expect(modal.getByTestId(testIds.migrate.powerState)).toHaveText('Powered off');

    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/migrate-modal-light.png` });
    await page.getByTestId(client.modal.close).click();
    await page.getByTestId(client.header.themeToggle).click();
    await vsphere.runPluginAction('win2019-app-01', 'Migrate VM to EC2');
    await expect(page.frameLocator(`[data-test="${client.modal.iframe}"]`).getByTestId(testIds.migrate.guestOs)).toHaveText(
      'Microsoft Windows Server 2019 (64-bit)',
    );
    await expect(page.frameLocator(`[data-test="${client.modal.iframe}"]`).locator('body')).toHaveAttribute('cds-theme', 'dark');
    await page.screenshot({ path: `${SHOTS}/migrate-modal-dark.png` });
  });

  test('the plugin modal closes through the SDK', async ({ vsphere, page }) => {
    await vsphere.loginAs('administrator');
    const modal = await vsphere.runPluginAction('rhel-db-01', 'Migrate VM to EC2');
    await expect(modal.getByTestId(testIds.migrate.powerState)).toHaveText('Powered on');
    await modal.getByTestId(testIds.migrate.close).click();
    await expect(page.getByTestId(client.modal.root)).toBeHidden();
  });

  test('the read-only user is not offered the action', async ({ vsphere }) => {
    await vsphere.loginAs('readonly');
    const item = await vsphere.pluginActionItem('ubuntu-web-01', 'Migrate VM to EC2');
    // Dynamic item: vCenter says this user lacks VApp.Export, so the action is shown disabled (8.0U3 semantics).
    await expect(item).toBeDisabled();
  });

});
