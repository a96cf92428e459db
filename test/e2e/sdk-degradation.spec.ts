// Issue 12 item 8: in a vSphere Client whose htmlClientSdk fails (e.g. the public SDK sample's stub), every entry
// point shows exactly one message naming what is missing and what to check, never "Error code: INTERNAL" or an
// empty page. The lab's vSphere Client hosts the plugin as usual; only its SDK script is replaced by our failing stub.
import { readFileSync } from 'node:fs';
import type { FrameLocator, Page } from '@playwright/test';
import { testIds } from '../../ui/testIds.ts';
import { client, expect, test, type VsphereClient } from './fixtures.ts';

const STUB = readFileSync(new URL('../fixtures/vsphere-client/failing-sdk.js', import.meta.url), 'utf8');
type Mode = 'throws' | 'empty' | 'silent' | 'context';

async function useFailingSdk(page: Page, mode: Mode) {
  await page.addInitScript((m) => {
    (window as unknown as { __SDK_STUB_MODE: string }).__SDK_STUB_MODE = m;
  }, mode);
  await page.route('**/api/ui/htmlClientSdk.js', (route) => route.fulfill({ contentType: 'application/javascript', body: STUB }));
}

const entryPoints: Record<'portal' | 'migrate' | 'monitor', (v: VsphereClient) => Promise<FrameLocator>> = {
  portal: (v) => v.openPortal(),
  migrate: (v) => v.runPluginAction('ubuntu-web-01', 'Migrate VM to EC2'),
  monitor: async (v) => {
    await v.openVm('ubuntu-web-01');
    await v.page.getByTestId(client.object.tab('Monitor')).click();
    await v.page.getByTestId(client.object.monitorView('EC2 Migration')).click();
    return v.page.frameLocator(`[data-test="${client.object.monitorIframe}"]`);
  },
};

/** Exactly one message, with the expected wording, and nothing that reads like an internal error. */
async function expectOneMessage(view: FrameLocator, text: RegExp) {
  const problem = view.getByTestId(testIds.shell.hostProblem);
  await expect(problem).toHaveCount(1);
  await expect(problem).toHaveText(text);
  await expect(problem).toContainText("Reload the vSphere Client. If this persists, check that the plugin is registered for this vCenter version (vm2ec2 doctor) and the connector's log.");
  await expect(view.getByTestId(testIds.apiError)).toHaveCount(0);
  await expect(view.locator('body')).not.toContainText('INTERNAL');
  await expect(view.locator('body')).not.toContainText('Something went wrong');
}

const SESSION_THROWS = /^The vSphere Client did not give the plugin a session \(htmlClientSdk getSessionInfo failed: Error: getSessionInfo is not implemented by this stub\)\./;
const SESSION_EMPTY = /^The vSphere Client did not give the plugin a session \(htmlClientSdk getSessionInfo returned nothing\)\./;

test.describe('when the vSphere Client’s htmlClientSdk fails', () => {
  for (const [name, open] of Object.entries(entryPoints)) {
    test(`${name}: SDK calls throw → one message naming getSessionInfo`, async ({ vsphere, page }) => {
      await useFailingSdk(page, 'throws');
      await vsphere.loginAs('administrator');
      await expectOneMessage(await open(vsphere), SESSION_THROWS);
      // Light only: with the SDK broken the plugin cannot learn the vSphere Client's theme.
      if (name === 'portal') await vsphere.shot('sdk-failure-portal', 'light');
    });

    test(`${name}: SDK calls return nothing → one message naming getSessionInfo`, async ({ vsphere, page }) => {
      await useFailingSdk(page, 'empty');
      await vsphere.loginAs('administrator');
      await expectOneMessage(await open(vsphere), SESSION_EMPTY);
    });
  }

  test('VM views: no context object from the SDK → one message naming getContextObjects', async ({ vsphere, page }) => {
    await useFailingSdk(page, 'context');
    await vsphere.loginAs('administrator');
    const context = /^The vSphere Client did not tell the plugin which virtual machine this view is for \(htmlClientSdk getContextObjects failed: Error: getContextObjects is not implemented by this stub\)\./;
    await expectOneMessage(await entryPoints.migrate(vsphere), context);
    await vsphere.shot('sdk-failure-migrate', 'light');
    await page.getByTestId(client.modal.close).click();
    await expectOneMessage(await entryPoints.monitor(vsphere), context);
  });

  test('an SDK that never calls back: one message after the timeout, not a blank view', async ({ vsphere, page }) => {
    await useFailingSdk(page, 'silent');
    await vsphere.loginAs('administrator');
    const view = await entryPoints.portal(vsphere);
    await expect(view.getByTestId(testIds.shell.hostProblem)).toHaveText(/^The vSphere Client did not start the plugin \(htmlClientSdk initialize did not answer within 10 s\)\./, { timeout: 20_000 });
    await expectOneMessage(view, /initialize did not answer/);
  });
});
