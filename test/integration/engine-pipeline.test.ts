// The migration pipeline end to end against the lab: vcsim export (ExportVm, or snapshot + ExportSnapshot),
// streamed to the lab S3, imported by the EC2 emulator, launched and left stopped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, DescribeImportImageTasksCommand } from '@aws-sdk/client-ec2';
import { GetObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { decodeStreamOptimizedVmdk } from '../support/vmdk.ts';
import { expectedRawSha256 } from '../support/lab-disk-content.ts';
import { ENVIRONMENT_TAG, TASK_TAG } from '../../connector/engine/engine.ts';
import type { MigrationTask } from '../../connector/contract/index.ts';
import { inventory, startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

let lab: EngineLab;

beforeAll(async () => {
  lab = await startEngineLab({ engine: { keepStagingObjects: true } });
});
afterAll(async () => {
  await lab?.stop();
});

function ipIn(cidr: string, host: number): string {
  const [a, b, c] = cidr.split('/')[0]!.split('.');
  return `${a}.${b}.${c}.${host}`;
}

async function finished(id: string): Promise<MigrationTask> {
  return waitFor(async () => {
    const t = await lab.engine.get(id);
    return t && ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  }, `task ${id} to finish`);
}

async function expectMigrated(vmName: string, task: MigrationTask, ip: string): Promise<void> {
  expect(task.error).toBeUndefined();
  expect(task.state).toBe('completed');
  expect(task.percent).toBe(100);
  expect(task.imageId).toMatch(/^ami-/);
  expect(task.importTaskId).toMatch(/^import-ami-/);
  const inst = (await lab.ec2Client.send(new DescribeInstancesCommand({ InstanceIds: [task.instanceId!] }))).Reservations![0]!.Instances![0]!;
  expect(inst.State?.Name).toBe('stopped');
  expect(inst.SubnetId).toBe(lab.subnetId);
  expect(inst.PrivateIpAddress).toBe(ip);
  expect(inst.SecurityGroups?.map((g) => g.GroupId)).toEqual([lab.securityGroupId]);
  expect(inst.ImageId).toBe(task.imageId);
  const tags = Object.fromEntries((inst.Tags ?? []).map((t) => [t.Key, t.Value]));
  expect(tags[TASK_TAG]).toBe(task.id);
  expect(tags[ENVIRONMENT_TAG]).toBe('env-default');

  // Exactly one EC2 import for this task, and it used every disk.
  const imports = (await lab.ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks!.filter((i) => i.Description?.includes(task.id));
  expect(imports).toHaveLength(1);
  const disks = inventory.vms.find((v) => v.name === vmName)!.disks;
  expect(imports[0]!.SnapshotDetails).toHaveLength(disks.length);

  // The staged objects hold exactly the disks vCenter served (decoded raw content = the lab's known pattern).
  expect(task.disks).toHaveLength(disks.length);
  for (const [i, d] of disks.entries()) {
    const key = `vm2ec2/${task.id}/disk-${i + 1}.vmdk`;
    const obj = await lab.s3Client.send(new GetObjectCommand({ Bucket: lab.config.engine.stagingBucket.replace('{region}', 'us-east-1'), Key: key }));
    const report = await decodeStreamOptimizedVmdk(obj.Body as Readable, { hashRaw: true });
    expect(report.rawSha256).toBe(expectedRawSha256(d.seed, d.capacityMiB * 1024 * 1024));
    expect(task.disks[i]!.done).toBe(true);
    expect(task.disks[i]!.bytesUploaded).toBe(report.streamBytes);
  }
  const uploads = await lab.s3Client.send(new ListMultipartUploadsCommand({ Bucket: 'vm2ec2-staging-us-east-1', Prefix: `vm2ec2/${task.id}/` }));
  expect(uploads.Uploads ?? []).toHaveLength(0);
}

describe('migration pipeline', { timeout: 300_000 }, () => {
  it('migrates a powered-off single-disk VM to a stopped instance with the chosen subnet, IP and security group', async () => {
    const ip = ipIn(lab.subnetCidr, 21);
    const accepted = await lab.engine.submit(lab.request('bsd-firewall-01', { privateIpAddress: ip }));
    expect(accepted.idKind).toBe('import');
    expect(accepted.id).toMatch(/^mig-/);
    await expectMigrated('bsd-firewall-01', await finished(accepted.id), ip);
  });

  it('migrates a powered-on VM through a snapshot and removes the snapshot', async () => {
    const ip = ipIn(lab.subnetCidr, 22);
    const vmId = lab.vmIds.get('debian-tools-01')!;
    const vim = await lab.vim();
    const before = (await vim.getVirtualMachine(vmId)).snapshotCount;
    const accepted = await lab.engine.submit(lab.request('debian-tools-01', { privateIpAddress: ip }));
    const during = await waitFor(async () => ((await vim.getVirtualMachine(vmId)).snapshotCount > before ? true : (await lab.engine.get(accepted.id))?.state !== 'running' ? 'ended' : undefined), 'the snapshot');
    expect(during).toBe(true);
    await expectMigrated('debian-tools-01', await finished(accepted.id), ip);
    expect((await vim.getVirtualMachine(vmId)).snapshotCount).toBe(before);
    expect((await vim.getVirtualMachine(vmId)).powerState).toBe('poweredOn');
  });

  it('migrates the 3-disk VM with every disk in one import', async () => {
    const ip = ipIn(lab.subnetCidr, 23);
    const accepted = await lab.engine.submit(lab.request('app-multidisk-01', { privateIpAddress: ip }));
    await expectMigrated('app-multidisk-01', await finished(accepted.id), ip);
  });

  it('lists tasks newest first with filters and paging', async () => {
    const all = await lab.engine.list({ limit: 50, offset: 0 });
    expect(all.total).toBe(3);
    expect(all.items.map((t) => t.vmName)).toEqual(['app-multidisk-01', 'debian-tools-01', 'bsd-firewall-01']);
    const page = await lab.engine.list({ limit: 1, offset: 1, state: 'completed' });
    expect(page.items.map((t) => t.vmName)).toEqual(['debian-tools-01']);
    expect((await lab.engine.list({ limit: 10, offset: 0, vmId: lab.vmIds.get('bsd-firewall-01') })).total).toBe(1);
  });
});
