// Issue 14: Connector status lists the fleet's connectors; Administration → Bandwidth caps this connector's disk copies
// (with a daily window); a migration copying under the cap says "Throttled" in its row. The cap is lifted at the end so
// the journeys after this one copy at full speed.
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { FrameLocator } from '@playwright/test';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { createEnvironment, expect, test } from './fixtures.ts';

test.use({ viewport: { width: 1280, height: 720 } });

const ENV_NAME = 'Bandwidth lab';

async function openAdministration(portal: FrameLocator) {
  await portal.getByTestId(testIds.portal.admin).click();
  return portal.getByTestId(testIds.admin.page);
}

test('Connector status lists the connectors; a migration under the bandwidth cap shows it is throttled', async ({ vsphere }) => {
  test.setTimeout(300_000);
  // Seed prerequisite, done by an AWS administrator outside vCenter.
  const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
  await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  iam.destroy();

  await vsphere.loginAs('administrator');
  let portal = await vsphere.openPortal();
  let admin = await openAdministration(portal);
  await admin.getByRole('tab', { name: 'Connector status' }).click();
  const connectors = admin.getByTestId(testIds.fleet.table);
  await expect(connectors).toContainText('(this connector)');
  await expect(connectors.getByTestId(testIds.fleet.health)).toHaveText(['Connected']);
  await expect(connectors).toContainText('Unlimited');
  await connectors.scrollIntoViewIfNeeded();
  await vsphere.shots('fleet-connectors');

  await admin.getByRole('tab', { name: 'Bandwidth' }).click();
  const panel = admin.getByTestId(testIds.fleet.bandwidthPanel);
  await panel.getByTestId(testIds.fleet.bandwidthMode('capped')).check();
  const cap = panel.getByTestId(testIds.fleet.bandwidthCap);
  await cap.fill('0');
  await expect(panel.getByText('Enter a whole number of MB/s from 1 to 100000.')).toBeVisible();
  await expect(panel.getByTestId(testIds.fleet.bandwidthSave)).toBeDisabled();
  await cap.fill('1');
  // Office hours get 2 MB/s, the rest of the day 1 MB/s: capped whenever the journey runs.
  await panel.getByTestId(testIds.fleet.bandwidthAddWindow).click();
  const window = panel.getByTestId(testIds.fleet.bandwidthWindow(0));
  await window.getByRole('textbox', { name: 'Cap (MB/s, empty for unlimited)' }).fill('2');
  await expect(window).toContainText('Your time:');
  await panel.getByTestId(testIds.fleet.bandwidthSave).click();
  await expect(panel.getByTestId(testIds.fleet.bandwidthSaved)).toBeVisible();
  await expect(panel.getByTestId(testIds.fleet.bandwidthCurrent)).toHaveText(/Cap now: [12] MB\/s · Set by administrator@vsphere\.local/);
  await vsphere.shots('bandwidth-setting');

  try {
    await admin.getByRole('tab', { name: 'Environments' }).click();
    await createEnvironment(admin, ENV_NAME);

    const modal = await vsphere.runPluginAction('app-multidisk-01', 'Migrate VM to EC2');
    await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
    const types = modal.getByRole('combobox', { name: 'Instance type' });
    await expect(types.locator('option')).not.toHaveCount(1);
    await types.selectOption({ index: 1 });
    const begin = modal.getByRole('button', { name: 'Begin migration to Amazon EC2' });
    await expect(begin).toBeEnabled();
    await begin.click();
    const taskId = (await modal.getByTestId(testIds.migrate.taskId).textContent()) ?? '';
    expect(taskId).toMatch(/^mig-/);
    await modal.getByTestId(testIds.migrate.close).click();

    portal = await vsphere.openPortal();
    await portal.getByRole('button', { name: /Expand .*us-east-1/ }).click();
    await portal.getByRole('button', { name: ENV_NAME }).click();
    await portal.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
    const row = portal.getByTestId(testIds.portal.migrationRow(taskId));
    await expect(row.getByTestId(testIds.fleet.throttled)).toHaveText(/^Throttled: [12] MB\/s cap$/, { timeout: 60_000 });
    await row.scrollIntoViewIfNeeded();
    await vsphere.shots('migration-throttled');
    await row.getByRole('button', { name: `Cancel migration task ${taskId}` }).click();
    await expect(row.getByTestId('migration-state')).toHaveText('Cancelled', { timeout: 60_000 });
    await expect(row.getByTestId(testIds.fleet.throttled)).toHaveCount(0);
  } finally {
    portal = await vsphere.openPortal();
    admin = await openAdministration(portal);
    await admin.getByRole('tab', { name: 'Bandwidth' }).click();
    await admin.getByTestId(testIds.fleet.bandwidthMode('unlimited')).check();
    await admin.getByRole('button', { name: 'Remove window 1' }).click();
    await admin.getByTestId(testIds.fleet.bandwidthSave).click();
    await expect(admin.getByTestId(testIds.fleet.bandwidthCurrent)).toHaveText(/^Cap now: Unlimited/);
  }
});
