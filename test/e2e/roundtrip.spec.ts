// Issue 16, "Bring back to vCenter", in the lab's vSphere Client: the administrator migrates a VM, exports its
// instance, and brings the export back from its row in EC2-to-S3 Migrations: a name already taken in the folder is a
// blocker shown under the name before submit; with a free name, a folder, a cluster, a datastore and a network the
// task runs to Completed in the list under the exports, and the new VM appears in the inventory.
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { FrameLocator, Locator } from '@playwright/test';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test } from './fixtures.ts';

const ENV_NAME = 'Lab round trip';
/** Powered off, one 1 GiB disk, in the Migration folder. */
const VM = 'ubuntu-web-01';
const BACK = 'ubuntu-web-01-back';

/** Selects the option whose text contains `text` (labels carry paths and free space, so not exact). */
async function choose(select: Locator, text: string | RegExp): Promise<void> {
  const option = select.locator('option', { hasText: text });
  await expect(option).toHaveCount(1);
  await select.selectOption((await option.getAttribute('value')) ?? '');
}

test('administrator brings an exported instance back to vCenter as a new VM', async ({ vsphere, page }) => {
  test.setTimeout(1_500_000);
  const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
  await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  iam.destroy();
  const openEnvironment = async (tab: string): Promise<FrameLocator> => {
    const view = await vsphere.openPortal();
    await view.getByRole('button', { name: /Expand .*us-east-1/ }).click();
    await view.getByRole('button', { name: ENV_NAME }).click();
    await view.getByRole('tab', { name: tab }).click();
    return view;
  };

  await vsphere.loginAs('administrator');
  let portal = await vsphere.openPortal();
  await portal.getByTestId(testIds.portal.admin).click();
  const admin = portal.getByTestId(testIds.admin.page);
  await createEnvironment(admin, ENV_NAME);
  // Instance export is configured once per lab: by the portal journeys when they ran first, else here.
  await admin.getByRole('tab', { name: 'Configure Instance Export' }).click();
  const create = admin.getByRole('button', { name: 'Create' });
  await expect(create.or(admin.getByTestId(testIds.admin.exportCurrent))).toBeVisible();
  if (await create.isVisible()) {
    await admin.getByRole('textbox', { name: 'S3 bucket names' }).fill('labexports');
    await admin.getByRole('checkbox', { name: /I agree that AWS Management Portal for vCenter may do the following on my behalf/ }).check();
    await create.click();
    await expect(admin.getByTestId(testIds.admin.exportBuckets)).toContainText('export-to-s3-labexports-us-east-1');
  }

  // Migrate the VM into the environment.
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
  portal = await openEnvironment('VM-to-EC2 Migrations');
  const migration = portal.getByTestId(testIds.portal.migrationRow(taskId));
  const migrationState = migration.getByTestId('migration-state');
  await expect(migrationState).toHaveText(/Completed|Failed|Cancelled/, { timeout: 420_000 });
  expect(await migrationState.textContent(), (await migration.textContent()) ?? '').toBe('Completed');

  // Export the instance (the environment's only one) to S3 (seed: Getting Started → Export instance to S3).
  await portal.getByRole('tab', { name: 'Imported Instances' }).click();
  await portal.getByRole('table', { name: 'Imported Instances' }).locator('tbody tr').first().click();
  await portal.getByRole('tab', { name: 'Getting Started' }).click();
  await portal.getByRole('button', { name: 'Export instance to S3' }).click();
  const exportDialog = portal.getByRole('dialog', { name: 'Export instance to S3' });
  await exportDialog.getByRole('textbox', { name: 'S3 object file prefix' }).fill('roundtrip/');
  await exportDialog.getByRole('button', { name: 'Export' }).click();
  const exportTaskId = (await exportDialog.getByTestId(testIds.portal.exportTaskId).textContent()) ?? '';
  await exportDialog.getByRole('button', { name: 'Close' }).click();
  await portal.getByRole('tab', { name: 'EC2-to-S3 Migrations' }).click();
  const exportRow = portal.getByTestId(testIds.portal.exportRow(exportTaskId));
  await expect(exportRow.getByTestId(testIds.portal.exportState)).toHaveText('Completed', { timeout: 180_000 });

  // Right-click the completed export → Bring back to vCenter, at the size the layout checks hold screens to.
  await page.setViewportSize({ width: 1280, height: 720 });
  await exportRow.click({ button: 'right' });
  await portal.getByTestId(testIds.returns.open).click();
  const form = portal.getByRole('dialog', { name: 'Bring back to vCenter' });
  // The instance ID to start with.
  await expect(form.getByRole('textbox', { name: 'Virtual machine name' })).toHaveValue(/^i-[0-9a-f]+$/);
  // Blocker before submit: the source VM's own name in its own folder is taken.
  await form.getByRole('textbox', { name: 'Virtual machine name' }).fill(VM);
  await choose(form.getByRole('combobox', { name: 'Folder' }), /^DC0 \/ Migration$/);
  await choose(form.getByRole('combobox', { name: 'Compute resource' }), 'Cluster: DC0 / DC0_C0');
  await choose(form.getByRole('combobox', { name: 'Datastore' }), /^LocalDS_0 \(/);
  await choose(form.getByRole('combobox', { name: 'Destination network for VM Network' }), /^DC0_DVPG0$/);
  await expect(form.getByTestId(testIds.returns.check('NAME_TAKEN'))).toContainText(`Virtual machine name: A virtual machine named "${VM}" already exists in the folder Migration.`);
  await expect(form.getByRole('textbox', { name: 'Virtual machine name' })).toHaveAttribute('aria-invalid', 'true');
  await expect(form.getByTestId(testIds.returns.submit)).toBeDisabled();
  await form.getByTestId(testIds.returns.checks).scrollIntoViewIfNeeded();
  await vsphere.shots('return-form-blocked');

  // A free name in Production: every check passes and the task starts.
  await form.getByRole('textbox', { name: 'Virtual machine name' }).fill(BACK);
  await choose(form.getByRole('combobox', { name: 'Folder' }), /^DC0 \/ Production$/);
  await form.getByTestId(testIds.returns.provisioning('thin')).check();
  await expect(form.getByTestId(testIds.returns.checks)).toHaveText('All checks passed.');
  await expect(form.getByTestId(testIds.returns.submit)).toBeEnabled();
  await form.scrollIntoViewIfNeeded();
  await vsphere.shots('return-form');
  await form.getByTestId(testIds.returns.submit).click();
  await expect(form.getByTestId(testIds.returns.started)).toContainText(`Bringing "${BACK}" back to vCenter.`);
  await form.getByRole('button', { name: 'Close' }).click();

  // The task in the list under the exports: progress while it runs, then Completed with the new VM.
  const row = portal.getByTestId(testIds.returns.row(BACK));
  await expect(row).toBeVisible();
  await expect(row.getByTestId(testIds.returns.state)).toHaveText(/Completed|Failed|Cancelled/, { timeout: 300_000 });
  expect(await row.getByTestId(testIds.returns.state).textContent(), (await row.textContent()) ?? '').toBe('Completed');
  await expect(row.getByTestId(testIds.returns.progress)).toContainText(/New virtual machine: vm-/);
  await row.scrollIntoViewIfNeeded();
  await vsphere.shots('return-tasks');

  // The new VM is in vCenter's inventory, in the folder chosen.
  await page.getByTestId(client.header.refresh).click();
  await vsphere.openVm(BACK);
  await expect(page.getByTestId(client.object.title)).toHaveText(BACK);
});
