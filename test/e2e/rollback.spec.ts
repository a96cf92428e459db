// Issue 16, "Roll back a cutover", in the lab's vSphere Client: the administrator migrates a VM, then rolls the
// completed migration back from its row's Actions menu: the dialog lists exactly what will happen, the row shows the
// outcome, Roll back is then disabled saying why, and the VM is powered on with the connector's event on it.
// As the administrator: the lab's operator may not power VMs on. The VM starts and ends powered on, as the journey
// after this one (layout's warm row) needs it.
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test } from './fixtures.ts';

const ENV_NAME = 'Lab rollback';
/** Powered on, 512 MiB, in Production: migrated here, shut down as a cutover would, then powered on by the rollback. */
const VM = 'debian-tools-01';

test('administrator rolls back a completed migration from its row', async ({ vsphere, page }) => {
  test.setTimeout(540_000);
  const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
  await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  iam.destroy();
  const openMigrations = async () => {
    const view = await vsphere.openPortal();
    await view.getByRole('button', { name: /Expand .*us-east-1/ }).click();
    await view.getByRole('button', { name: ENV_NAME }).click();
    await view.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
    return view;
  };
  await vsphere.loginAs('administrator');
  let portal = await vsphere.openPortal();
  await portal.getByTestId(testIds.portal.admin).click();
  await createEnvironment(portal.getByTestId(testIds.admin.page), ENV_NAME);

  const modal = await vsphere.runPluginAction(VM, 'Migrate VM to EC2');
  await modal.getByRole('combobox', { name: 'Region' }).selectOption('us-east-1');
  await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
  const types = modal.getByRole('combobox', { name: 'Instance type' });
  await expect(types.locator('option')).not.toHaveCount(1);
  await types.selectOption({ index: 1 });
  const begin = modal.getByRole('button', { name: 'Begin migration to Amazon EC2' });
  await expect(modal.getByTestId(testIds.migrate.checks).or(modal.getByTestId(testIds.migrate.check('ok')))).toBeVisible();
  await expect(begin, (await modal.locator('section').last().textContent()) ?? '').toBeEnabled();
  await begin.click();
  const taskId = (await modal.getByTestId(testIds.migrate.taskId).textContent()) ?? '';
  expect(taskId).toMatch(/^mig-/);
  await modal.getByTestId(testIds.migrate.close).click();
  await expect(page.getByTestId(client.modal.root)).toBeHidden();

  portal = await openMigrations();
  const row = portal.getByTestId(testIds.portal.migrationRow(taskId));
  const state = row.getByTestId('migration-state');
  await expect(state).toHaveText(/Completed|Failed|Cancelled/, { timeout: 420_000 });
  expect(await state.textContent(), (await row.textContent()) ?? '').toBe('Completed');

  // The cutover is done and the source shut down (the lab's own card: its VMs run no VMware Tools); then it does not work out.
  await vsphere.openVm(VM);
  await page.getByTestId(client.object.tab('Summary')).click();
  await page.getByTestId(client.labDiskWrite.shutdown).click();
  await expect(page.getByTestId(client.labDiskWrite.card)).toContainText('The guest OS shut down at');
  await expect(page.getByTestId(client.object.powerState)).toContainText('Powered Off');
  portal = await openMigrations();

  // Actions → Roll back, enabled because the server says it is possible now.
  const menu = row.getByTestId(testIds.rollback.menu(taskId));
  await menu.click();
  const item = portal.getByRole('menuitem', { name: 'Roll back' });
  await expect(item).toBeEnabled();
  await expect(item).toHaveAttribute('title', /^Stops the EC2 instance and powers on the source VM\. .* Possible until /);
  await item.click();
  const dialog = portal.getByRole('dialog', { name: 'Roll back migration' });
  await expect(dialog).toHaveAttribute('data-test', testIds.rollback.dialog);
  const steps = dialog.getByTestId(testIds.rollback.steps).getByRole('listitem');
  await expect(dialog).toContainText(`Roll back migration ${taskId} of ${VM}? This will:`);
  await expect(steps.nth(0)).toHaveText(/^Stop the EC2 instance i-[0-9a-f]+ in us-east-1\. It can be started again from Imported Instances\.$/);
  await expect(steps.nth(1)).toHaveText(`Power on the virtual machine ${VM} in vCenter.`);
  await expect(steps.nth(2)).toHaveText(/^Record the rollback on this migration and in the audit log, and post an event on the VM\./);
  const instanceId = /(i-[0-9a-f]+)/.exec((await steps.nth(0).textContent()) ?? '')![1]!;
  // Ticking the box says the instance is terminated instead, and deleted.
  await dialog.getByTestId(testIds.rollback.terminate).check();
  await expect(steps.nth(0)).toHaveText(`Terminate the EC2 instance ${instanceId} in us-east-1. A terminated instance is deleted and cannot be started again.`);
  await dialog.scrollIntoViewIfNeeded();
  await vsphere.shots('portal-rollback-dialog');
  await dialog.getByTestId(testIds.rollback.terminate).uncheck();
  await expect(steps.nth(0)).toContainText('Stop the EC2 instance');
  await dialog.getByTestId(testIds.rollback.confirm).click();
  await expect(dialog).toBeHidden({ timeout: 60_000 });

  // The row says what was done; Roll back is now disabled and says why.
  await expect(row.getByTestId(testIds.rollback.status)).toHaveText('Rolled back by administrator@vsphere.local: instance stopped, VM powered on.');
  await row.scrollIntoViewIfNeeded();
  await vsphere.shots('portal-rollback-done');
  await menu.click();
  await expect(portal.getByRole('menuitem', { name: 'Roll back' })).toBeDisabled();
  await expect(portal.getByRole('menuitem', { name: 'Roll back' })).toHaveAttribute('title', /^This migration was rolled back by administrator@vsphere\.local at /);
  await page.keyboard.press('Escape');

  // In vCenter: the VM is powered on, and its events say who rolled it back.
  await vsphere.openVm(VM);
  // As in the vSphere Client, the inventory shows a change made elsewhere after a global refresh.
  await page.getByTestId(client.header.refresh).click();
  await page.getByTestId(client.object.tab('Summary')).click();
  await expect(page.getByTestId(client.object.powerState)).toContainText('Powered On');
  await page.getByTestId(client.object.tab('Monitor')).click();
  await page.getByTestId(client.object.monitorView('Events')).click();
  const event = page.getByTestId(client.events.table).getByTestId(client.events.row('org.vm2ec2.plugin.event.migration.rolledBack'));
  await expect(event).toContainText(`Migration to Amazon EC2 rolled back by administrator@vsphere.local: EC2 instance ${instanceId} stopped, virtual machine powered on`);
  await vsphere.shots('vcenter-vm-rollback-event');
});
