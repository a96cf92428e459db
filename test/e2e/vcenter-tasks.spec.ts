// Issue 15, what a vSphere administrator sees without opening the portal: the migration in the stand-in's Recent
// Tasks (read from the lab vCenter's TaskManager.recentTask) with its progress, started by the requesting user, then
// Completed; and the VM's Monitor → Events listing the connector's events (an EventHistoryCollector on the VM).
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test } from './fixtures.ts';

const ENV_NAME = 'Lab vCenter tasks';
/** Windows, powered on, in Production; no other journey migrates it. */
const VM = 'win2016-dc-01';

test('a migration in Recent Tasks with its progress, and its events in the VM’s Monitor → Events', async ({ vsphere, page }) => {
  test.setTimeout(420_000);
  const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
  await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  iam.destroy();
  await vsphere.loginAs('administrator');
  const portal = await vsphere.openPortal();
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
  await expect(modal.getByTestId(testIds.migrate.taskId)).toHaveText(/^mig-/);
  await modal.getByTestId(testIds.migrate.close).click();
  await expect(page.getByTestId(client.modal.root)).toBeHidden();

  // Recent Tasks, at the bottom: the task on the VM, by the administrator, running with a percentage, then Completed.
  const pane = page.getByTestId(client.recentTasks.pane);
  await page.getByTestId(client.recentTasks.toggle).click();
  const row = pane.getByRole('row').filter({ hasText: 'Migrate VM to EC2' }).filter({ hasText: VM });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('administrator@vsphere.local');
  await expect(row.getByRole('progressbar')).toBeVisible();
  await expect(row).toContainText(/\d+ %/);
  await vsphere.shots('vcenter-recent-tasks');
  await expect(row).toContainText('Completed', { timeout: 300_000 });

  // Monitor → Events on the VM: what the connector posted, newest first.
  await vsphere.openVm(VM);
  await page.getByTestId(client.object.tab('Monitor')).click();
  await page.getByTestId(client.object.monitorView('Events')).click();
  const events = page.getByTestId(client.events.table);
  const requested = events.getByTestId(client.events.row('org.vm2ec2.plugin.event.migration.requested'));
  await expect(requested).toContainText(`Migration to Amazon EC2 requested by administrator@vsphere.local into ${ENV_NAME} (us-east-1)`);
  await expect(requested).toContainText('Information');
  await expect(events.getByTestId(client.events.row('org.vm2ec2.plugin.event.migration.instanceLaunched'))).toContainText(/EC2 instance i-\w+ launched in us-east-1/);
  await expect(events.getByTestId(client.events.row('org.vm2ec2.plugin.event.migration.imported'))).toBeVisible();
  await vsphere.shots('vcenter-vm-events');
});
