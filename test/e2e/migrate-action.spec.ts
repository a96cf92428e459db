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

  test('the read-only user can open the action, and the modal says what is missing and whom to ask', async ({ vsphere, page }) => {
    await vsphere.loginAs('readonly');
    // Seed: "If your administrator did not grant you permission … you'll see a message to ask your administrator".
    // The item used to be disabled without a reason (issue 12 item 15).
    const modal = await vsphere.runPluginAction('ubuntu-web-01', 'Migrate VM to EC2');
    const missing = modal.getByTestId(testIds.migrate.accessMissing);
    await expect(missing).toContainText('You cannot migrate ubuntu-web-01 to Amazon EC2 yet:');
    await expect(modal.getByTestId(testIds.migrate.accessGap('NO_MIGRATE_PERMISSION'))).toHaveText(
      'You do not have permission to migrate VMs: no environment grants you the General or Owner role. Ask your AWS Management Portal administrator to grant you permission to migrate VMs into an environment (Administration > Permissions).',
    );
    await expect(modal.getByTestId(testIds.migrate.accessGap('VM_EXPORT_DENIED'))).toHaveText(
      'Your vCenter role does not allow exporting "ubuntu-web-01" (privilege vApp > Export, VApp.Export), which the connector needs to copy its disks. Ask your vCenter administrator for a role with vApp > Export on this VM or its folder.',
    );
    // No form before the rights are there.
    await expect(modal.getByRole('button', { name: 'Begin migration to Amazon EC2' })).toHaveCount(0);
    await vsphere.shots('migrate-no-permission');
    // At 1280×720 the whole message is still on screen.
    await page.setViewportSize({ width: 1280, height: 720 });
    await expect(modal.getByTestId(testIds.migrate.accessGap('VM_EXPORT_DENIED'))).toBeInViewport({ ratio: 1 });
    await expect(modal.getByTestId(testIds.migrate.close)).toBeInViewport({ ratio: 1 });
    await modal.getByTestId(testIds.migrate.close).click();
    await expect(page.getByTestId(client.modal.root)).toBeHidden();
  });

});
