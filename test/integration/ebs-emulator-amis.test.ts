// AMIs from the lab's EBS snapshots: ImportImage with DiskContainers[].SnapshotId and RegisterImage, driven only
// through the real AWS SDK clients (client-ebs, client-ec2). The EBS direct APIs themselves: ebs-emulator-direct.test.ts.
import { randomUUID } from 'node:crypto';
import { CompleteSnapshotCommand } from '@aws-sdk/client-ebs';
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  ImportImageCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  type ImportImageTask,
  type RegisterImageCommandInput,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { block, describeSnapshot, ebs, ec2, IMPORTS, lab, put, STAGE, start, useEc2EmulatorLab, volumeSha } from '../support/ec2-emulator-lab.ts';

useEc2EmulatorLab([IMPORTS]);

/** A completed 1 GiB snapshot holding `blocks` (index → seed), optionally on a parent. */
async function completedSnapshot(blocks: [number, number][], parent?: string): Promise<string> {
  const client = ebs();
  const id = await start(client, parent ? { ParentSnapshotId: parent } : {});
  for (const [i, seed] of blocks) await put(client, id, i, block(seed));
  await client.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: blocks.length }));
  return id;
}

describe('AMIs from EBS snapshots', () => {
  it('ImportImage with DiskContainers[].SnapshotId walks the import stages to an AMI whose own snapshot has the source content', async () => {
    const base = await completedSnapshot([[0, 100], [1, 101], [700, 102]]);
    const head = await completedSnapshot([[1, 111], [900, 112]], base);
    const expected = volumeSha(1, new Map([[0, block(100)], [1, block(111)], [700, block(102)], [900, block(112)]]));

    const client = ec2();
    const started = await client.send(
      new ImportImageCommand({ Platform: 'Linux', LicenseType: 'BYOL', ClientToken: randomUUID(), Description: 'warm cutover', DiskContainers: [{ SnapshotId: head }] }),
    );
    expect([started.Status, started.StatusMessage]).toEqual(['active', 'pending']);
    const seen: (string | undefined)[] = [];
    let task: ImportImageTask = { Status: started.Status, StatusMessage: started.StatusMessage };
    for (let i = 0; i < 5; i++) {
      seen.push(task.StatusMessage ?? task.Status);
      await lab.emulator.advance(STAGE);
      task = (await client.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [started.ImportTaskId ?? ''] }))).ImportImageTasks?.[0] ?? {};
    }
    expect(seen).toEqual(['pending', 'converting', 'updating', 'booting', 'preparing ami']);
    expect(task.Status).toBe('completed');
    const amiSnapshot = task.SnapshotDetails?.[0]?.SnapshotId ?? '';
    expect(amiSnapshot).toMatch(/^snap-/);
    expect(amiSnapshot).not.toBe(head);
    expect(task.SnapshotDetails?.[0]?.DiskImageSize).toBe(1024 ** 3);

    const image = (await client.send(new DescribeImagesCommand({ ImageIds: [task.ImageId ?? ''] }))).Images?.[0];
    expect(image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId).toBe(amiSnapshot);
    expect(await describeSnapshot(amiSnapshot)).toMatchObject({ State: 'completed', VolumeSize: 1 });

    // The AMI's snapshot is its own: the replication chain can be deleted, the AMI's snapshot cannot while the AMI exists.
    await client.send(new DeleteSnapshotCommand({ SnapshotId: head }));
    await client.send(new DeleteSnapshotCommand({ SnapshotId: base }));
    expect(lab.ebs.snapshotSha256(amiSnapshot)).toBe(expected);
    await expect(client.send(new DeleteSnapshotCommand({ SnapshotId: amiSnapshot }))).rejects.toMatchObject({ name: 'InvalidSnapshot.InUse' });
    await client.send(new DeregisterImageCommand({ ImageId: task.ImageId }));
    await client.send(new DeleteSnapshotCommand({ SnapshotId: amiSnapshot }));
  });

  it('ImportImage refuses an unknown or unfinished snapshot', async () => {
    const client = ec2();
    const input = (SnapshotId: string) => new ImportImageCommand({ Platform: 'Linux', ClientToken: randomUUID(), DiskContainers: [{ SnapshotId }] });
    await expect(client.send(input('snap-0123456789abcdef0'))).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
    const pending = await start(ebs());
    await expect(client.send(input(pending))).rejects.toMatchObject({ name: 'IncorrectState', message: expect.stringMatching(/pending/) });
  });

  it('RegisterImage from a snapshot is available at once and launches like any AMI; its snapshot is in use until deregistered', async () => {
    const snap = await completedSnapshot([[0, 200]]);
    const client = ec2();
    const subnet = (await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.1.0/24'] }] }))).Subnets?.[0]?.SubnetId;
    const mapping = [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap, DeleteOnTermination: true } }];
    const register = (extra: Partial<RegisterImageCommandInput>) =>
      client.send(new RegisterImageCommand({ Name: `warm-${randomUUID()}`, RootDeviceName: '/dev/xvda', BlockDeviceMappings: mapping, ...extra }));

    // AWS's defaults (i386, paravirtual, no ENA) do not launch on current instance types.
    const plain = await register({});
    const run = (ImageId: string | undefined) => client.send(new RunInstancesCommand({ ImageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnet }));
    await expect(run(plain.ImageId)).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringMatching(/architecture 'i386'/) });
    const noEna = await register({ Architecture: 'x86_64', VirtualizationType: 'hvm' });
    await expect(run(noEna.ImageId)).rejects.toMatchObject({ name: 'InvalidParameterCombination', message: expect.stringMatching(/ENA/) });

    const good = await register({ Architecture: 'x86_64', VirtualizationType: 'hvm', EnaSupport: true, BootMode: 'uefi' });
    const image = (await client.send(new DescribeImagesCommand({ ImageIds: [good.ImageId ?? ''] }))).Images?.[0];
    expect(image).toMatchObject({ State: 'available', RootDeviceName: '/dev/xvda', EnaSupport: true, BootMode: 'uefi', VirtualizationType: 'hvm', Architecture: 'x86_64' });
    expect(image?.BlockDeviceMappings).toEqual([expect.objectContaining({ DeviceName: '/dev/xvda', Ebs: expect.objectContaining({ SnapshotId: snap, VolumeSize: 1 }) })]);

    const launched = await run(good.ImageId);
    const instanceId = launched.Instances?.[0]?.InstanceId ?? '';
    await lab.emulator.advance(2 * STAGE);
    const inst = (await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations?.[0]?.Instances?.[0];
    expect(inst).toMatchObject({ State: { Name: 'running' }, ImageId: good.ImageId });
    expect(inst?.BlockDeviceMappings?.[0]?.DeviceName).toBe('/dev/xvda');

    await expect(client.send(new DeleteSnapshotCommand({ SnapshotId: snap }))).rejects.toMatchObject({ name: 'InvalidSnapshot.InUse' });
    for (const id of [plain.ImageId, noEna.ImageId, good.ImageId]) await client.send(new DeregisterImageCommand({ ImageId: id }));
    await client.send(new DeleteSnapshotCommand({ SnapshotId: snap }));
  });

  it('RegisterImage checks its snapshots and root device', async () => {
    const client = ec2();
    const snap = await completedSnapshot([[0, 300]]);
    const input = (m: Partial<RegisterImageCommandInput>) => new RegisterImageCommand({ Name: `bad-${randomUUID()}`, RootDeviceName: '/dev/sda1', ...m });
    await expect(client.send(input({ BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-0123456789abcdef0' } }] }))).rejects.toMatchObject({ name: 'InvalidSnapshot.NotFound' });
    await expect(client.send(input({ BlockDeviceMappings: [{ DeviceName: '/dev/sdb', Ebs: { SnapshotId: snap } }] }))).rejects.toMatchObject({ name: 'InvalidBlockDeviceMapping' });
    await expect(client.send(input({ BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: snap, VolumeSize: 0 } }] }))).rejects.toMatchObject({ name: 'InvalidBlockDeviceMapping' });
    const pending = await start(ebs());
    await expect(client.send(input({ BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: pending } }] }))).rejects.toMatchObject({ name: 'IncorrectState' });
  });
});
