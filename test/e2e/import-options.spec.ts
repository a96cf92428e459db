// Issue 18 in the lab's vSphere Client at 1280×720: Administration sets an environment's import defaults (BYOL,
// encrypted with alias/vm2ec2-lab, a default tag) → the migration form's Advanced section starts from them → the
// migration completes → its row detail and the instance's Summary show what AWS applied.
// All as the administrator (Owner in every environment): granting the operator a second environment in us-east-1
// would change the forms of the journeys that run after this one.
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../../connector/aws/vmimport-role.ts';
import { labAwsCredentials } from '../../lab/index.ts';
import { testIds } from '../../ui/testIds.ts';
import { client, createEnvironment, expect, test } from './fixtures.ts';

const ENV_NAME = 'Lab secure imports';
/** Ubuntu, powered off, in the Migration folder; no other journey migrates it. */
const VM = 'app-multidisk-01';
const KEY = 'alias/vm2ec2-lab';

test.use({ viewport: { width: 1280, height: 720 } });

test.describe.serial('import options: license type, encryption key, boot mode, tags', () => {
  test('administrator sets the environment import defaults', async ({ vsphere }) => {
    // Seed prerequisite, done by an AWS administrator outside vCenter (idempotent when another journey did it first).
    const iam = new IAMClient({ endpoint: process.env.LAB_AWS_URL ?? '', region: 'us-east-1', credentials: labAwsCredentials() });
    await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
    iam.destroy();
    await vsphere.loginAs('administrator');
    const portal = await vsphere.openPortal();
    await portal.getByTestId(testIds.portal.admin).click();
    const admin = portal.getByTestId(testIds.admin.page);
    // A new environment has no keys to list yet (they are per region, read through the saved environment).
    await admin.getByRole('button', { name: 'Create New' }).click();
    const fresh = admin.getByTestId(testIds.admin.envForm);
    await fresh.getByTestId(testIds.admin.envEncrypted).check();
    await expect(fresh.getByText(/^Save the environment first, then choose its default key here/)).toBeVisible();
    await fresh.getByTestId(testIds.admin.envEncrypted).uncheck();
    const table = await createEnvironment(admin, ENV_NAME);

    await table.getByRole('button', { name: `Edit ${ENV_NAME}` }).click();
    const form = admin.getByTestId(testIds.admin.envForm);
    await form.getByTestId(testIds.admin.envLicense('BYOL')).check();
    await form.getByTestId(testIds.admin.envEncrypted).check();
    const key = form.getByTestId(testIds.admin.envKmsKey);
    await expect(key.locator(`option[value="${KEY}"]`)).toBeEnabled();
    // The lab's disabled key is listed, not selectable, with the reason.
    await expect(key.locator('option[value="alias/vm2ec2-lab-disabled"]')).toBeDisabled();
    await expect(key.locator('option[value="alias/vm2ec2-lab-disabled"]')).toContainText('cannot be used');
    await key.selectOption(KEY);
    await form.getByRole('button', { name: 'Add tag' }).click();
    await form.getByRole('textbox', { name: 'Key of tag 1' }).fill('aws:cost');
    await expect(form.getByText('Tag keys starting with aws: are reserved for AWS.')).toBeVisible();
    await expect(form.getByTestId(testIds.admin.envSave)).toBeDisabled();
    await form.getByRole('textbox', { name: 'Key of tag 1' }).fill('CostCenter');
    await form.getByRole('textbox', { name: 'Value of tag 1' }).fill('4711');
    await form.getByTestId(testIds.admin.envTags + '-row-1').scrollIntoViewIfNeeded();
    await vsphere.shots('portal-environment-import-defaults');
    await form.getByTestId(testIds.admin.envSave).click();
    await expect(admin.getByText(`Environment "${ENV_NAME}" saved.`)).toBeVisible();
  });

  test('a BYOL, encrypted migration from the defaults, and what AWS applied in the row detail and the Summary', async ({ vsphere, page }) => {
    test.setTimeout(420_000);
    await vsphere.loginAs('administrator');
    const modal = await vsphere.runPluginAction(VM, 'Migrate VM to EC2');
    await modal.getByRole('combobox', { name: 'Region' }).selectOption('us-east-1');
    await modal.getByRole('combobox', { name: 'Environment' }).selectOption({ label: ENV_NAME });

    // Collapsed, the section already says what the import will do, boot mode included once the pre-flight read it.
    const advanced = modal.getByTestId(testIds.migrate.advanced);
    const header = advanced.getByRole('button', { name: /^Advanced/ });
    await expect(header).toHaveAttribute('aria-expanded', 'false');
    await expect(header).toHaveText('AdvancedBring your own license (BYOL) · Encrypted · Legacy BIOS · 1 tag(s)');
    await header.click();
    await expect(advanced.getByTestId(testIds.migrate.license('BYOL'))).toBeChecked();
    await expect(advanced.getByTestId(testIds.migrate.licenseRule)).toContainText('AWS imports Linux only with BYOL');
    await expect(advanced.getByTestId(testIds.migrate.encrypted)).toBeChecked();
    const key = advanced.getByTestId(testIds.migrate.kmsKey);
    await expect(key.locator('option:checked')).toHaveText(new RegExp(`^Environment default: ${KEY}`));
    await expect(key.locator('option[value="alias/vm2ec2-lab-disabled"]')).toBeDisabled();
    await expect(advanced.getByTestId(testIds.migrate.bootMode)).toHaveText('Legacy BIOS (VM firmware: BIOS)');
    await expect(advanced.getByTestId(`${testIds.migrate.tags}-inherited`)).toContainText('CostCenter = 4711');
    // The migration's own tag, on top of the environment's.
    await advanced.getByRole('button', { name: 'Add tag' }).click();
    await advanced.getByRole('textbox', { name: 'Key of tag 1' }).fill('Project');
    await advanced.getByRole('textbox', { name: 'Value of tag 1' }).fill('Apollo');

    const types = modal.getByRole('combobox', { name: 'Instance type' });
    await expect(types.locator('option')).not.toHaveCount(1);
    await types.selectOption({ index: 1 });
    const begin = modal.getByRole('button', { name: 'Begin migration to Amazon EC2' });
    await expect(modal.getByTestId(testIds.migrate.checks).or(modal.getByTestId(testIds.migrate.check('ok')))).toBeVisible();
    await expect(begin, (await modal.locator('section').last().textContent()) ?? '').toBeEnabled();
    await header.scrollIntoViewIfNeeded();
    await vsphere.shots('migrate-form-advanced');
    await begin.click();
    const taskId = (await modal.getByTestId(testIds.migrate.taskId).textContent()) ?? '';
    expect(taskId).toMatch(/^mig-/);
    await modal.getByTestId(testIds.migrate.close).click();
    await expect(page.getByTestId(client.modal.root)).toBeHidden();

    const portal = await vsphere.openPortal();
    await portal.getByRole('button', { name: /Expand .*us-east-1/ }).click();
    await portal.getByRole('button', { name: ENV_NAME }).click();
    await portal.getByRole('tab', { name: 'VM-to-EC2 Migrations' }).click();
    const row = portal.getByTestId(testIds.portal.migrationRow(taskId));
    const state = row.getByTestId('migration-state');
    await expect(state).toHaveText(/Completed|Failed|Cancelled/, { timeout: 300_000 });
    expect(await state.textContent(), (await row.textContent()) ?? '').toBe('Completed');

    // At 1280×720 "Applied by AWS" is in the row's detail (with the instance ID): as AWS reports them, the key by its ARN.
    await row.getByRole('button', { name: `Show the other columns of ${taskId}` }).click();
    const detail = row.locator('xpath=following-sibling::tr[1]');
    const instanceId = (await detail.getByTestId('migration-instance').textContent()) ?? '';
    expect(instanceId).toMatch(/^i-[0-9a-f]+$/);
    await expect(detail.getByTestId(testIds.portal.applied('license'))).toHaveText('License type: Bring your own license (BYOL) (usage operation RunInstances)');
    await expect(detail.getByTestId(testIds.portal.applied('encryption'))).toHaveText(/^Encryption: Encrypted with arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]+$/);
    await expect(detail.getByTestId(testIds.portal.applied('boot-mode'))).toHaveText('Boot mode: Legacy BIOS');
    await expect(detail.getByTestId(testIds.portal.applied('tags'))).toContainText('CostCenter=4711');
    await expect(detail.getByTestId(testIds.portal.applied('tags'))).toContainText('Project=Apollo');
    // The connector's own bookkeeping tags are not the user's choice and are left out.
    await expect(detail.getByTestId(testIds.portal.applied('tags'))).not.toContainText('vm2ec2:');
    const keyArn = ((await detail.getByTestId(testIds.portal.applied('encryption')).textContent()) ?? '').replace('Encryption: Encrypted with ', '');
    const grid = portal.locator('.vsp-grid').first();
    await expect.poll(() => grid.evaluate((el) => el.scrollWidth - el.clientWidth), { message: 'the grid scrolls sideways at 1280×720' }).toBe(0);
    await vsphere.shots('portal-migration-applied');

    // The instance's Summary says the same, read from the instance, its image and volumes.
    await portal.getByRole('tab', { name: 'Imported Instances' }).click();
    await portal.getByTestId(testIds.portal.instanceRow(instanceId)).click();
    await portal.getByRole('tab', { name: 'Summary' }).click();
    await expect(portal.getByTestId('instance-summary-id')).toHaveText(instanceId);
    await expect(portal.getByTestId(testIds.portal.applied('license'))).toHaveText('Bring your own license (BYOL) (usage operation RunInstances)');
    await expect(portal.getByTestId(testIds.portal.applied('encryption'))).toHaveText(`Encrypted with ${keyArn}`);
    await expect(portal.getByTestId(testIds.portal.applied('boot-mode'))).toHaveText('Legacy BIOS');
    await portal.getByTestId(testIds.portal.applied('boot-mode')).scrollIntoViewIfNeeded();
    await vsphere.shots('portal-instance-applied');
  });
});
