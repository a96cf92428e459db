// Cancel in each phase undoes what was done: no multipart upload, no staged object, the EC2 import cancelled,
// no instance, the snapshot removed, and the task ends `cancelled`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { MigrationPhase } from '../../connector/contract/index.ts';
import { TASK_TAG } from '../../connector/engine/engine.ts';
import { DISK_VALIDATION_FAILED } from '../../lab/ec2/index.ts';
import { startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

let lab: EngineLab;
const BUCKET = 'vm2ec2-staging-us-east-1';

beforeAll(async () => {
  lab = await startEngineLab({ stageMs: 400 });
});
afterAll(async () => {
  await lab?.stop();
});

async function cancelIn(vmName: string, phase: MigrationPhase, ready: (t: Awaited<ReturnType<EngineLab['engine']['get']>>) => boolean = () => true) {
  const accepted = await lab.engine.submit(lab.request(vmName));
  await waitFor(async () => {
    const t = (await lab.engine.get(accepted.id))!;
    if (t.state !== 'running') throw new Error(`task ended ${t.state} before reaching ${phase}: ${t.error ?? ''}`);
    return t.phase === phase && ready(t);
  }, `phase ${phase}`);
  const answer = (await lab.engine.cancel(accepted.id, 'administrator@vsphere.local'))!;
  expect(answer.state).toBe('cancelling');
  expect(answer.phase).toBe(phase);
  const end = await waitFor(async () => {
    const t = (await lab.engine.get(accepted.id))!;
    return t.state === 'cancelled' || t.state === 'failed' || t.state === 'completed' ? t : undefined;
  }, 'the cancel to finish');
  expect(end.state).toBe('cancelled');
  return end;
}

async function expectNothingLeft(taskId: string): Promise<void> {
  const uploads = await lab.s3Client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: `vm2ec2/${taskId}/` }));
  expect(uploads.Uploads ?? []).toEqual([]);
  const objects = await lab.s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `vm2ec2/${taskId}/` }));
  expect(objects.Contents ?? []).toEqual([]);
  const imports = [...lab.ec2.emulator.region('us-east-1')!.imports.values()].filter((i) => i.clientToken === taskId);
  for (const i of imports) expect(i.status).not.toBe('active');
  const res = await lab.ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [taskId] }] }));
  const live = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => !['terminated', 'shutting-down'].includes(i.State?.Name ?? ''));
  expect(live).toEqual([]);
}

describe('failure', { timeout: 300_000 }, () => {
  it('ends failed with an actionable message when EC2 cannot read a multi-disk upload, and cleans up', async () => {
    const remove = lab.ec2.emulator.failImportAt({ match: /vm2ec2\//, stage: 'converting', message: DISK_VALIDATION_FAILED });
    try {
      const accepted = await lab.engine.submit(lab.request('app-multidisk-01'));
      const end = await waitFor(async () => {
        const t = (await lab.engine.get(accepted.id))!;
        return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
      }, 'the failure');
      expect(end.state).toBe('failed');
      expect(end.error).toMatch(/more than one disk.*grant the VM Import\/Export service role/);
      await expectNothingLeft(end.id);
    } finally {
      remove();
    }
  });
});

describe('cancel', { timeout: 300_000 }, () => {
  it('while uploading a powered-on VM: lease aborted, multipart aborted, snapshot removed', async () => {
    const vmId = lab.vmIds.get('rhel-db-01')!;
    const vim = await lab.vim();
    const before = (await vim.getVirtualMachine(vmId)).snapshotCount;
    const end = await cancelIn('rhel-db-01', 'uploading', (t) => (t?.disks[0]?.bytesUploaded ?? 0) > 0);
    await expectNothingLeft(end.id);
    expect((await vim.getVirtualMachine(vmId)).snapshotCount).toBe(before);
    // The VM is not left locked by an export lease: a new export can start and be aborted.
    const lease = await vim.exportSnapshot(await vim.createSnapshot(vmId, 'probe'));
    await vim.waitForLease(lease);
    await vim.leaseAbort(lease);
    const snaps = (await vim.getVirtualMachine(vmId)).snapshotCount;
    expect(snaps).toBe(before + 1);
  });

  it('while EC2 imports: the import task is cancelled', async () => {
    const end = await cancelIn('bsd-firewall-01', 'importing', (t) => Boolean(t?.importTaskId));
    expect(end.importTaskId).toBeDefined();
    await expectNothingLeft(end.id);
    const imp = lab.ec2.emulator.region('us-east-1')!.imports.get(end.importTaskId!)!;
    expect(['deleting', 'deleted']).toContain(imp.status);
  });

  it('while launching: no instance is left', async () => {
    const end = await cancelIn('bsd-firewall-01', 'launching');
    await expectNothingLeft(end.id);
  });

  it('while exporting: nothing is staged', async () => {
    const end = await cancelIn('bsd-firewall-01', 'exporting');
    await expectNothingLeft(end.id);
  });
});
