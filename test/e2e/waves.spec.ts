// Issue 14, waves: several VMs selected in VMs and Templates → Migrate VMs to EC2 → one form with a row per VM (a
// blocked VM's blockers on its row) → Begin → the wave's row in VM-to-EC2 Migrations moves → Cancel Wave; and a wave
// with a start window in the near future waits (Scheduled) and starts once its time has come.
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { FrameLocator, Page } from '@playwright/test';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test, type VsphereClient } from './fixtures.ts';

// The user's zone differs from the connector's (UTC), so the window is typed in one zone and honoured in the other.
const ZONE = 'America/New_York';
test.use({ viewport: { width: 1280, height: 720 }, timezoneId: ZONE });

const ENV_NAME = 'Waves lab';
const PLUGIN = 'AWS Management Portal';

/** `YYYY-MM-DDTHH:mm` of `at` in `zone`, as a datetime-local field holds it. */
function localField(at: Date, zone: string): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(at)
      .map((x) => [x.type, x.value]),
  );
  return `${p['year']}-${p['month']}-${p['day']}T${p['hour']}:${p['minute']}`;
}

/** Select rows of the Migration folder's VM list the way a user does: click, then Ctrl-click; right-click opens the menu. */
async function selectInMigrationFolder(page: Page, names: string[]): Promise<void> {
  await page.getByTestId(client.navigator.node('Migration')).click();
  await expect(page.getByTestId(client.object.title)).toHaveText('Migration');
  for (const [i, name] of names.entries()) {
    // The State cell: the name is a link that opens the VM.
    await page.getByTestId(client.object.vmRow(name)).locator('td').nth(1).click({ modifiers: i === 0 ? [] : ['ControlOrMeta'] });
  }
  for (const name of names) await expect(page.getByTestId(client.object.vmRow(name))).toHaveAttribute('aria-selected', 'true');
}

async function openWaveAction(page: Page, rightClickOn: string, count: number): Promise<FrameLocator> {
  await page.getByTestId(client.object.vmRow(rightClickOn)).locator('td').nth(2).click({ button: 'right' });
  await expect(page.getByRole('menu', { name: count > 1 ? `Actions - ${count} Objects` : `Actions - ${rightClickOn}` })).toBeVisible();
  await page.getByTestId(client.contextMenu.pluginSubmenu(PLUGIN)).click();
  // The single-VM action does not take several targets; the wave action does (acceptsMultipleTargets).
  if (count > 1) await expect(page.getByTestId(client.contextMenu.pluginAction('Migrate VM to EC2'))).toBeDisabled();
  const action = page.getByTestId(client.contextMenu.pluginAction('Migrate VMs to EC2'));
  await expect(action).toBeEnabled();
  await action.click();
  await expect(page.getByTestId(client.modal.title)).toHaveText('Migrate VMs to EC2');
  return page.frameLocator(`[data-test="${client.modal.iframe}"]`);
}

/** The common choices: the journey's environment and its first instance type. */
async function chooseTarget(modal: FrameLocator): Promise<void> {
  await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
  const types = modal.getByTestId(testIds.migrate.instanceType);
  await expect(types.locator('option')).not.toHaveCount(1);
  await types.selectOption({ index: 1 });
}

async function openWaves(vsphere: VsphereClient): Promise<FrameLocator> {
  const portal = await vsphere.openPortal();
  await portal.getByRole('button', { name: /Expand .*us-east-1/ }).click();
  await portal.getByRole('button', { name: ENV_NAME }).click();
  await portal.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
  await expect(portal.getByTestId(testIds.waves.panel)).toBeVisible();
  return portal;
}

test.describe.serial('Migration waves', () => {
  test('several VMs → one form with a blocked row → Begin → the wave row moves → Cancel Wave', async ({ vsphere, page }) => {
    test.setTimeout(300_000);
    const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
    await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
    iam.destroy();

    await vsphere.loginAs('administrator');
    const portal = await vsphere.openPortal();
    await portal.getByTestId(testIds.portal.admin).click();
    await createEnvironment(portal.getByTestId(testIds.admin.page), ENV_NAME);

    await selectInMigrationFolder(page, ['ubuntu-web-01', 'app-multidisk-01', 'warehouse-01']);
    const modal = await openWaveAction(page, 'warehouse-01', 3);
    await expect(modal.getByTestId(testIds.wave.rows).locator('tbody')).toHaveCount(3);
    await chooseTarget(modal);
    await modal.getByTestId(testIds.wave.name).fill('Web tier');
    await modal.getByTestId(testIds.wave.priority).fill('40');

    // warehouse-01's 300 GiB disk is more than VM Import takes: its row says so and Begin waits.
    const blocked = modal.getByTestId(testIds.wave.row('warehouse-01'));
    await expect(blocked.getByTestId(testIds.wave.rowCheck)).toHaveText(/^\d+ blocker\(s\)$/, { timeout: 30_000 });
    await expect(modal.getByTestId(testIds.wave.rowBlockers('warehouse-01'))).toContainText('Blocker:');
    await expect(modal.getByTestId(testIds.wave.row('ubuntu-web-01')).getByTestId(testIds.wave.rowCheck)).toHaveText(/^Ready/);
    await expect(modal.getByTestId(testIds.wave.firstProblem)).toHaveText('Remove the VMs with blockers from the wave, or resolve their blockers, to continue.');
    const begin = modal.getByTestId(testIds.wave.begin);
    await expect(begin).toBeDisabled();
    await blocked.scrollIntoViewIfNeeded();
    await vsphere.shots('wave-form-blocked');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await vsphere.shots('wave-form-blocked-large');
    await page.setViewportSize({ width: 1280, height: 720 });

    await blocked.getByTestId(testIds.wave.rowRemove).click();
    await expect(modal.getByTestId(testIds.wave.rows).locator('tbody')).toHaveCount(2);
    await expect(begin).toBeEnabled({ timeout: 30_000 });
    await begin.click();
    const result = modal.getByTestId(testIds.wave.result);
    await expect(result).toContainText(/Wave Web tier was created: 2 migration task\(s\), ID wav-/);
    await vsphere.shots('wave-created');
    await modal.getByTestId(testIds.wave.close).click();
    await expect(page.getByTestId(client.modal.root)).toBeHidden();

    const waves = await openWaves(vsphere);
    const row = waves.getByTestId(testIds.waves.row('Web tier'));
    await expect(row.getByTestId(testIds.waves.state)).toHaveText('Running', { timeout: 60_000 });
    await expect(row.getByTestId(testIds.waves.counts)).toContainText('running');
    await expect(row.getByTestId(testIds.waves.progress)).toContainText('left');
    await row.getByTestId(testIds.waves.show).click();
    await expect(waves.getByTestId(testIds.waves.filtered)).toContainText('Showing the 2 migration(s) of wave Web tier.');
    await vsphere.shots('wave-running');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await vsphere.shots('wave-running-large');
    await page.setViewportSize({ width: 1280, height: 720 });

    await row.getByTestId(testIds.waves.cancel).click();
    await expect(page.getByTestId(client.confirmation.title)).toHaveText('Cancel Wave');
    await expect(page.getByTestId(client.confirmation.content)).toContainText('Cancel the wave Web tier?');
    await vsphere.shots('wave-cancel-confirmation');
    await page.getByTestId(client.confirmation.button('Cancel Wave')).click();
    await expect(row.getByTestId(testIds.waves.state)).toHaveText('Cancelled', { timeout: 60_000 });
    await expect(row.getByTestId(testIds.waves.counts)).toContainText('cancelled');
    await expect(row.getByTestId(testIds.waves.cancel)).toHaveCount(0);
  });

  test('a wave with a start window waits until its time, then starts', async ({ vsphere, page }) => {
    test.setTimeout(300_000);
    await vsphere.loginAs('administrator');
    await selectInMigrationFolder(page, ['app-multidisk-01']);
    const modal = await openWaveAction(page, 'app-multidisk-01', 1);
    await chooseTarget(modal);
    await modal.getByTestId(testIds.wave.name).fill('Night shift');
    // The next whole minute at least 20 s away, typed in the user's zone (New York) while the connector runs in UTC.
    const start = new Date(Math.ceil((Date.now() + 20_000) / 60_000) * 60_000);
    await modal.getByTestId(testIds.wave.notBefore).fill(localField(start, ZONE));
    await expect(modal.getByText(`In your time zone, ${ZONE}`).first()).toBeVisible();
    const begin = modal.getByTestId(testIds.wave.begin);
    await expect(begin).toBeEnabled({ timeout: 30_000 });
    await vsphere.shots('wave-form-window');
    await begin.click();
    await expect(modal.getByTestId(testIds.wave.result)).toContainText('Its migrations start from');
    await modal.getByTestId(testIds.wave.close).click();

    const waves = await openWaves(vsphere);
    const row = waves.getByTestId(testIds.waves.row('Night shift'));
    await expect(row.getByTestId(testIds.waves.state)).toHaveText('Scheduled');
    await expect(row.getByTestId(testIds.waves.counts)).toHaveText('1 queued');
    await expect(row).toContainText(/From .* (EST|EDT|GMT-[45])/);
    await vsphere.shots('wave-scheduled');
    // Still waiting a few seconds before its time, though nothing else is running.
    const beforeStart = start.getTime() - 5_000 - Date.now();
    if (beforeStart > 0) await page.waitForTimeout(beforeStart);
    await expect(row.getByTestId(testIds.waves.state)).toHaveText('Scheduled');
    await expect(row.getByTestId(testIds.waves.state)).toHaveText(/^(Running|Completed)$/, { timeout: 60_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(start.getTime());
    // Leave nothing copying for the journeys after this one.
    if ((await row.getByTestId(testIds.waves.cancel).count()) > 0) {
      await row.getByTestId(testIds.waves.cancel).click();
      await page.getByTestId(client.confirmation.button('Cancel Wave')).click();
      await expect(row.getByTestId(testIds.waves.state)).toHaveText(/^(Cancelled|Completed)$/, { timeout: 60_000 });
    }
  });
});
