// The lab-only "Change disk blocks" card on a VM's Summary in the lab's vSphere Client: what `npm start` tells a user to
// click to give a warm migration changes to replicate.
import { client, expect, test } from './fixtures.ts';

test('The lab-only card writes blocks of a running VM, shuts its guest down, powers it on again, and says why it cannot for a powered-off VM', async ({ vsphere, page }) => {
  await vsphere.loginAs('operator');
  // A VM no other journey migrates, so their block counts are not disturbed.
  await vsphere.openVm('debian-tools-01');
  const card = page.getByTestId(client.labDiskWrite.card);
  await expect(card).toContainText('Lab only');
  await page.getByTestId(client.labDiskWrite.blocks).fill('2');
  await page.getByTestId(client.labDiskWrite.submit).click();
  await expect(page.getByTestId(client.labDiskWrite.result)).toHaveText(/^Changed 2 blocks \(1 MB\) of Hard disk 1 at /);
  await card.screenshot({ path: process.env.LAB_DISK_WRITE_SHOT ?? 'test-results/lab-disk-write-card.png' });

  await page.getByTestId(client.labDiskWrite.blocks).fill('0');
  await expect(page.getByTestId(client.labDiskWrite.submit)).toBeDisabled();
  await expect(card).toContainText('Enter a whole number of blocks from 1 to 1024.');

  // The guest shuts down from inside: the Summary then shows the VM powered off and the card cannot write any more.
  await page.getByTestId(client.labDiskWrite.shutdown).click();
  await expect(card).toContainText('The guest OS shut down at');
  await expect(page.getByTestId(client.object.powerState)).toHaveText(/Powered Off/);
  await expect(page.getByTestId(client.labDiskWrite.shutdown)).toBeDisabled();
  // Power on again: the journeys after this one (rollback, layout's warm row) need debian-tools-01 running.
  await page.getByTestId(client.labDiskWrite.powerOn).click();
  await expect(card).toContainText('Powered on at');
  await expect(page.getByTestId(client.object.powerState)).toHaveText(/Powered On/);
  await expect(page.getByTestId(client.labDiskWrite.powerOn)).toBeDisabled();
  await expect(page.getByTestId(client.labDiskWrite.shutdown)).toBeEnabled();

  await vsphere.openVm('ubuntu-web-01');
  await expect(page.getByTestId(client.labDiskWrite.submit)).toBeDisabled();
  await expect(card).toContainText('The VM is powered off: only a running VM writes to its disk.');
});
