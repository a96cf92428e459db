import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { FrameLocator, Locator, Page } from '@playwright/test';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test } from './fixtures.ts';

// Issue 12 items 11 and 12: every table fits the plugin's iframe at common screen sizes (no column cut, the
// actions column clickable, long ids on one line with the full text on hover) and VMs appear by name.
const ENV_NAME = 'Layout check';
/** Powered on, migrated by no other journey (the lab-only disk writes do not disturb a layout check). */
const WARM_VM = 'debian-tools-01';
// 1440×900 is where the Environments table's Edit column was cut off.
const SIZES = [
  { width: 1280, height: 720 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
] as const;

type Box = { x: number; y: number; width: number; height: number };
const inside = (b: Box, outer: Box) => b.x >= outer.x - 1 && b.x + b.width <= outer.x + outer.width + 1;

/** Every header and cell of the grid lies inside the grid's box and the iframe; nothing scrolls sideways. */
async function expectGridFits(page: Page, frameSelector: string, table: Locator, what: string) {
  await expect(table).toBeVisible();
  const frame = (await page.locator(frameSelector).boundingBox())!;
  const grid = table.locator('xpath=..');
  const gridBox = (await grid.boundingBox())!;
  expect(inside(gridBox, frame), `${what}: the grid (${JSON.stringify(gridBox)}) lies inside the iframe (${JSON.stringify(frame)})`).toBe(true);
  const overflow = await grid.evaluate((el) => el.scrollWidth - el.clientWidth);
  expect(overflow, `${what}: the grid needs no sideways scrolling`).toBeLessThanOrEqual(1);
  // Measured in one pass in the page: a round trip per cell outlasted the test's timeout once the audit log grew past
  // a hundred cells under CI's load.
  const cells = await table.locator('thead th, tbody tr:not(.vsp-grid-detail) > td').evaluateAll((els) =>
    els.map((el, i) => {
      const b = el.getBoundingClientRect();
      const g = el.closest('table')!.parentElement!.getBoundingClientRect();
      return { i, text: (el.textContent ?? '').slice(0, 40), left: b.left, right: b.right, inside: b.left >= g.left - 1 && b.right <= g.right + 1 };
    }),
  );
  expect(cells.length).toBeGreaterThan(0);
  expect(cells.filter((c) => !c.inside), `${what}: every header and cell lies inside the grid ${JSON.stringify(gridBox)}`).toEqual([]);
  // The last column (row actions) is whole and takes clicks.
  const lastHeader = table.locator('thead th').last();
  expect(inside((await lastHeader.boundingBox())!, gridBox)).toBe(true);
}

/** The button is whole (not cut by its cell or the grid) and Playwright's click would land on it. */
async function expectClickable(button: Locator) {
  const cut = await button.evaluate((el) => {
    const b = el.getBoundingClientRect();
    const cell = el.closest('td')!.getBoundingClientRect();
    const grid = el.closest('.vsp-grid')!.getBoundingClientRect();
    return el.scrollWidth > el.clientWidth + 1 || b.left < cell.left - 1 || b.right > cell.right + 1 || b.right > grid.right + 1;
  });
  expect(cut, `${await button.textContent()} is shown whole`).toBe(false);
  await button.click({ trial: true });
}

/** A long id shown on one line, cut with an ellipsis, the whole id in its title. */
async function expectTruncatedId(cell: Locator, full: string) {
  const text = cell.locator('.vsp-cell-text');
  await expect(text).toHaveAttribute('title', full);
  const m = await text.evaluate((el) => ({ lines: Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)), cut: el.scrollWidth > el.clientWidth, wrap: getComputedStyle(el).whiteSpace }));
  expect(m.lines, `${full} on one line`).toBe(1);
  expect(m.wrap).toBe('nowrap');
  return m.cut;
}

const GLOBAL = `[data-test="${client.globalView.iframe}"]`;

/** The form's first subnet and instance type, then Begin: returns the task ID the form shows and closes it. */
async function beginWithFirstChoices(modal: FrameLocator): Promise<string> {
  const subnet = modal.getByRole('combobox', { name: 'Subnet' });
  await expect(subnet.locator('option')).not.toHaveCount(1);
  await subnet.selectOption({ index: 1 });
  const types = modal.getByRole('combobox', { name: 'Instance type' });
  await expect(types.locator('option')).not.toHaveCount(1);
  await types.selectOption({ index: 1 });
  const begin = modal.getByRole('button', { name: 'Begin migration to Amazon EC2' });
  await expect(begin, (await modal.locator('section').last().textContent()) ?? '').toBeEnabled();
  await begin.click();
  const taskId = (await modal.getByTestId(testIds.migrate.taskId).textContent()) ?? '';
  expect(taskId).toMatch(/^mig-/);
  await modal.getByTestId(testIds.migrate.close).click();
  return taskId;
}

async function openEnvironment(portal: FrameLocator) {
  await portal.getByRole('button', { name: /Expand .*us-east-1/ }).click();
  await portal.getByRole('button', { name: ENV_NAME }).click();
}

test.describe.serial('tables fit and name VMs', () => {
  test('administration tables fit at 1280×720 and 1920×1080', async ({ vsphere, page }) => {
    await vsphere.loginAs('administrator');
    const portal = await vsphere.openPortal();
    await portal.getByTestId(testIds.portal.admin).click();
    const admin = portal.getByTestId(testIds.admin.page);
    const envTable = await createEnvironment(admin, ENV_NAME, { subnets: 2 });

    await admin.getByRole('tab', { name: 'Permissions' }).click();
    await admin.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
    await admin.getByRole('textbox', { name: 'vCenter user' }).fill('operator@vsphere.local');
    await admin.getByRole('combobox', { name: 'Role' }).selectOption('General');
    await admin.getByRole('button', { name: 'Add' }).click();
    await admin.getByRole('button', { name: 'Save' }).click();
    await expect(admin.getByText('Permissions saved.')).toBeVisible();
    await admin.getByRole('tab', { name: 'Configure Instance Export' }).click();
    // The journeys (which run first: playwright.config.ts) configure export buckets through the form; alone, this spec does.
    const bucketName = admin.getByRole('textbox', { name: 'S3 bucket names' });
    await expect(bucketName.or(admin.getByTestId(testIds.admin.exportCurrentName))).toBeVisible();
    if (await bucketName.isVisible()) {
      await bucketName.fill('layoutexports');
      await admin.getByRole('checkbox', { name: /I agree that AWS Management Portal for vCenter may do the following on my behalf/ }).check();
      await admin.getByRole('button', { name: 'Create' }).click();
    }
    await expect(admin.getByTestId(testIds.admin.exportBuckets)).toContainText(/export-to-s3-\S+-us-east-1/);

    for (const size of SIZES) {
      await page.setViewportSize(size);
      const at = `${size.width}×${size.height}`;
      // Every tab of Administration is on screen (the Audit log tab was off the edge at 1280×720).
      const frame = (await page.locator(GLOBAL).boundingBox())!;
      for (const tab of await admin.getByRole('tab').all()) expect(inside((await tab.boundingBox())!, frame), `${at}: tab ${await tab.textContent()}`).toBe(true);

      await admin.getByRole('tab', { name: 'Environments' }).click();
      await expectGridFits(page, GLOBAL, envTable, `${at} Environments`);
      await expectClickable(envTable.getByRole('button', { name: `Edit ${ENV_NAME}` }));

      await admin.getByRole('tab', { name: 'Permissions' }).click();
      await admin.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
      const perms = admin.getByRole('table', { name: 'Permissions' });
      await expect(perms).toContainText('operator@vsphere.local');
      await expectGridFits(page, GLOBAL, perms, `${at} Permissions`);
      await expectClickable(perms.getByRole('button', { name: 'Remove operator@vsphere.local' }));

      await admin.getByRole('tab', { name: 'Audit log' }).click();
      const audit = admin.getByRole('table', { name: 'Audit log' });
      await expect(audit).toContainText('environment.permissions');
      await expectGridFits(page, GLOBAL, audit, `${at} Audit log`);

      await admin.getByRole('tab', { name: 'Connector status' }).click();
      const status = admin.getByTestId('admin-status');
      await expect(status).toBeVisible();
      for (const dd of await status.locator('dt, dd').all()) expect(inside((await dd.boundingBox())!, frame), `${at}: status ${await dd.textContent()}`).toBe(true);
    }
    await page.setViewportSize({ width: 1280, height: 720 });
    await admin.getByRole('tab', { name: 'Environments' }).click();
    await page.screenshot({ path: `test-results/layout/layout-environments-1280.png` });
    await admin.getByRole('tab', { name: 'Audit log' }).click();
    await page.screenshot({ path: `test-results/layout/layout-audit-1280.png` });
  });

  test('migrations, instances and the VM Monitor fit, and name the VM with its id on hover', async ({ vsphere, page }) => {
    test.setTimeout(360_000);
    const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
    await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
    iam.destroy();
    await vsphere.loginAs('operator');
    const modal = await vsphere.runPluginAction('ubuntu-web-01', 'Migrate VM to EC2');
    await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
    const taskId = await beginWithFirstChoices(modal);

    const portal = await vsphere.openPortal();
    await openEnvironment(portal);
    await portal.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
    const table = portal.getByRole('table', { name: 'VM-to-EC2 Migrations' });
    const row = portal.getByTestId(testIds.portal.migrationRow(taskId));
    await expect(row).toBeVisible();
    // The VM by name, its vCenter id on hover.
    const vm = row.getByTitle(/^ubuntu-web-01 \(vm-\d+\)$/);
    await expect(vm).toHaveText('ubuntu-web-01');
    const vmTitle = (await vm.getAttribute('title')) ?? '';
    let cut = false;
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await expectGridFits(page, GLOBAL, table, `${size.width}×${size.height} Migrations`);
      const cancel = row.getByRole('button', { name: `Cancel migration task ${taskId}` });
      if (await cancel.isVisible()) {
        await expectClickable(cancel);
        await expect(cancel).toHaveAttribute('title', /The user who requested it, an environment Owner or an administrator can cancel it/);
      }
      cut = (await expectTruncatedId(row.locator('td').filter({ hasText: taskId.slice(0, 8) }).first(), taskId)) || cut;
    }
    expect(cut, 'the task id is cut with an ellipsis at 1280×720').toBe(true);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: `test-results/layout/layout-migrations-1280.png` });

    const state = row.getByTestId('migration-state');
    await expect(state).toHaveText(/Completed|Failed|Cancelled/, { timeout: 240_000 });
    expect(await state.textContent(), (await row.textContent()) ?? '').toBe('Completed');
    await portal.getByRole('tab', { name: 'Imported Instances' }).click();
    const instances = portal.getByRole('table', { name: 'Imported Instances' });
    await expect(instances.locator('tbody tr').first()).toBeVisible();
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await expectGridFits(page, GLOBAL, instances, `${size.width}×${size.height} Imported Instances`);
    }
    await instances.locator('tbody tr').first().click();
    await portal.getByRole('tab', { name: 'Summary' }).click();
    const source = portal.getByTestId('instance-summary-source-vm').locator('[title]');
    await expect(source).toHaveText('ubuntu-web-01');
    await expect(source).toHaveAttribute('title', vmTitle);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: `test-results/layout/layout-instance-summary-1280.png` });

    await portal.getByRole('tab', { name: 'EC2-to-S3 Migrations' }).click();
    // The operator may not list exports (administrators only); the tab says so instead of a table.
    await vsphere.openVm('ubuntu-web-01');
    await page.getByTestId(client.object.tab('Monitor')).click();
    await page.getByTestId(client.object.monitorView('EC2 Migration')).click();
    const monitorSel = `[data-test="${client.object.monitorIframe}"]`;
    const monitor = page.frameLocator(monitorSel);
    const monitorTable = monitor.getByRole('table', { name: 'EC2 Migration' });
    await expect(monitorTable).toContainText('Completed');
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await expectGridFits(page, monitorSel, monitorTable, `${size.width}×${size.height} VM Monitor`);
    }
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: `test-results/layout/layout-vm-monitor-1280.png` });
  });

  test('the exports table fits for the administrator', async ({ vsphere, page }) => {
    await vsphere.loginAs('administrator');
    const portal = await vsphere.openPortal();
    await openEnvironment(portal);
    await portal.getByRole('tab', { name: 'Imported Instances' }).click();
    await portal.getByRole('table', { name: 'Imported Instances' }).locator('tbody tr').first().click();
    await portal.getByRole('tab', { name: 'Getting Started' }).click();
    await portal.getByRole('button', { name: 'Export instance to S3' }).click();
    const dialog = portal.getByRole('dialog', { name: 'Export instance to S3' });
    await dialog.getByRole('textbox', { name: 'S3 object file prefix' }).fill('vms/a-rather-long-folder-name-for-the-layout-check/');
    await dialog.getByRole('button', { name: 'Export' }).click();
    const exportId = (await dialog.getByTestId(testIds.portal.exportTaskId).textContent()) ?? '';
    expect(exportId).toMatch(/^export-/);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await portal.getByRole('tab', { name: 'EC2-to-S3 Migrations' }).click();
    const exportsTable = portal.getByRole('table', { name: 'EC2-to-S3 Migrations' });
    await expect(portal.getByTestId(testIds.portal.exportRow(exportId))).toBeVisible();
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await expectGridFits(page, GLOBAL, exportsTable, `${size.width}×${size.height} EC2-to-S3 Migrations`);
    }
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: `test-results/layout/layout-exports-1280.png` });
    // The audit log names the VM of the migration request, its id on hover.
    await portal.getByTestId(testIds.portal.admin).click();
    const admin = portal.getByTestId(testIds.admin.page);
    await page.setViewportSize({ width: 1920, height: 1080 });
    await admin.getByRole('tab', { name: 'Audit log' }).click();
    const audit = admin.getByRole('table', { name: 'Audit log' });
    await expect(audit.getByRole('row').filter({ hasText: 'migration.request' }).first().getByTitle(/^ubuntu-web-01 \(vm-\d+\)$/)).toHaveText('ubuntu-web-01');
    await page.setViewportSize({ width: 1280, height: 720 });
    // At 1280×720 the VM column moves into the row detail.
    const request = audit.getByRole('row').filter({ hasText: 'migration.request' }).first();
    await request.getByRole('button', { name: /Show the other columns/ }).click();
    await expect(audit.locator('.vsp-grid-detail').first().getByTitle(/^ubuntu-web-01 \(vm-\d+\)$/)).toHaveText('ubuntu-web-01');
    await expectGridFits(page, GLOBAL, audit, '1280×720 Audit log with a row detail');
    await page.screenshot({ path: `test-results/layout/layout-audit-detail-1280.png` });
    await portal.getByRole('button', { name: ENV_NAME }).click();
    // The administrator may cancel any migration: Cancel, where shown, carries the rule as its tooltip.
    await portal.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
    await expectGridFits(page, GLOBAL, portal.getByRole('table', { name: 'VM-to-EC2 Migrations' }), 'administrator Migrations');
  });

  test('with a warm row the State column still shows every state whole at 1280×720', async ({ vsphere, page }) => {
    test.setTimeout(240_000);
    // A warm row widens Progress and Actions; the completed cold row's state was cut to "Comple…".
    await page.setViewportSize({ width: 1280, height: 720 });
    await vsphere.loginAs('administrator');
    const modal = await vsphere.runPluginAction(WARM_VM, 'Migrate VM to EC2');
    await modal.getByRole('combobox', { name: 'Region' }).selectOption('us-east-1');
    await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });
    await modal.getByRole('radio', { name: 'Replicate, then cut over' }).check();
    // The lab's VMs run no VMware Tools: the user powers the VM off at cutover.
    await modal.getByRole('radio', { name: 'I will power off the VM myself' }).check();
    const warmId = await beginWithFirstChoices(modal);

    const portal = await vsphere.openPortal();
    await openEnvironment(portal);
    await portal.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
    const table = portal.getByRole('table', { name: 'VM-to-EC2 Migrations' });
    await expect(portal.getByTestId(testIds.portal.migrationRow(warmId))).toBeVisible();
    const states = table.getByTestId('migration-state');
    await expect(states.filter({ hasText: 'Completed' }).first()).toBeVisible();
    await expectGridFits(page, GLOBAL, table, '1280×720 Migrations with a warm row');
    for (const state of await states.all()) {
      const m = await state.evaluate((el) => ({ text: el.textContent, cut: el.scrollWidth > el.clientWidth }));
      expect(m.cut, `${m.text} is shown whole`).toBe(false);
    }
    await page.screenshot({ path: `test-results/layout/layout-migrations-warm-1280.png` });
  });
});
