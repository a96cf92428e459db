// The lab EC2 emulator's VM Import tasks (ImportImage, DescribeImportImageTasks, CancelImportTask), driven only
// through the real AWS SDK v3 clients (reference §11.3). Instances, exports, networking/IAM: the other ec2-emulator-*.test.ts.
import {
  CancelImportTaskCommand,
  DescribeImagesCommand,
  DescribeImportImageTasksCommand,
  ImportImageCommand,
  paginateDescribeImportImageTasks,
  type ImportImageTask,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { DISK_VALIDATION_FAILED } from '../../lab/ec2/index.ts';
import { describeTask, ec2, EXPORTS, IMPORTS, importInput, lab, putDisk, STAGE, useEc2EmulatorLab } from '../support/ec2-emulator-lab.ts';

useEc2EmulatorLab([IMPORTS, EXPORTS]);

describe('import image tasks', () => {
  it('walks pending → converting → updating → booting → preparing ami → completed', async () => {
    const client = ec2();
    await putDisk('vms/vm-1/disk1.vmdk', 3 * 1024 * 1024);
    await putDisk('vms/vm-1/disk2.vmdk', 1024 * 1024);
    const disks = [
      { Format: 'VMDK' as const, UserBucket: { S3Bucket: IMPORTS, S3Key: 'vms/vm-1/disk1.vmdk' } },
      { Format: 'VMDK' as const, Url: `s3://${IMPORTS}/vms/vm-1/disk2.vmdk` },
    ];
    const started = await client.send(new ImportImageCommand(importInput('vms/vm-1/disk1.vmdk', { DiskContainers: disks })));
    expect([started.Status, started.StatusMessage, started.Progress]).toEqual(['active', 'pending', '2']);
    const id = started.ImportTaskId ?? '';
    expect(id).toMatch(/^import-ami-[0-9a-f]{17}$/);

    const seen: [string?, string?, string?][] = [];
    let task = await describeTask(client, id);
    expect(task.SnapshotDetails?.[0]?.DiskImageSize).toBe(0);
    for (let i = 0; i < 6; i++) {
      seen.push([task.Status, task.StatusMessage, task.Progress]);
      await lab.emulator.advance(STAGE);
      task = await describeTask(client, id);
    }
    expect(seen).toEqual([
      ['active', 'pending', '2'],
      ['active', 'converting', '28'],
      ['active', 'updating', '41'],
      ['active', 'booting', '59'],
      ['active', 'preparing ami', '76'],
      ['completed', undefined, undefined],
    ]);
    expect(task.ImageId).toMatch(/^ami-/);
    expect(task.SnapshotDetails?.map((d) => [d.DiskImageSize, d.Format, d.Status, d.DeviceName])).toEqual([
      [3 * 1024 * 1024, 'VMDK', 'completed', '/dev/sda1'],
      [1024 * 1024, 'VMDK', 'completed', '/dev/sdb'],
    ]);
    expect(task.SnapshotDetails?.[0]?.UserBucket).toEqual({ S3Bucket: IMPORTS, S3Key: 'vms/vm-1/disk1.vmdk' });
    expect(task.SnapshotDetails?.[1]?.Url).toBe(`s3://${IMPORTS}/vms/vm-1/disk2.vmdk`);
    expect(task.SnapshotDetails?.every((d) => d.SnapshotId?.startsWith('snap-'))).toBe(true);

    const images = await client.send(new DescribeImagesCommand({ ImageIds: [task.ImageId ?? ''] }));
    expect(images.Images?.[0]).toMatchObject({ ImageId: task.ImageId, State: 'available', Name: id, OwnerId: '111122223333' });
    expect(images.Images?.[0]?.BlockDeviceMappings?.map((b) => b.Ebs?.SnapshotId)).toEqual(task.SnapshotDetails?.map((d) => d.SnapshotId));
  });

  it('returns the same task for a repeated ClientToken and rejects a reused token with other parameters', async () => {
    const client = ec2();
    await putDisk('vms/idem/disk1.vmdk');
    const input = importInput('vms/idem/disk1.vmdk');
    const first = await client.send(new ImportImageCommand(input));
    const again = await client.send(new ImportImageCommand(input));
    expect(again.ImportTaskId).toBe(first.ImportTaskId);
    await expect(client.send(new ImportImageCommand({ ...input, Description: 'other' }))).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
    await client.send(new CancelImportTaskCommand({ ImportTaskId: first.ImportTaskId }));
  });

  it('caps concurrent imports per region, and a cancel frees a slot', async () => {
    const client = ec2('us-west-2');
    await putDisk('vms/limit/disk.vmdk');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')))).ImportTaskId ?? '');
    const sixth = client.send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')));
    await expect(sixth).rejects.toMatchObject({ name: 'ResourceLimitExceeded', $metadata: { httpStatusCode: 400 } });

    // The limit is per region: us-east-1 still accepts.
    const east = await ec2().send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')));
    expect(east.Status).toBe('active');

    const cancelled = await client.send(new CancelImportTaskCommand({ ImportTaskId: ids[0], CancelReason: 'test' }));
    expect(cancelled).toMatchObject({ ImportTaskId: ids[0], PreviousState: 'active', State: 'deleting' });
    const replacement = await client.send(new ImportImageCommand(importInput('vms/limit/disk.vmdk')));
    expect(replacement.Status).toBe('active');
    await expect(client.send(new CancelImportTaskCommand({ ImportTaskId: ids[0] }))).rejects.toMatchObject({ name: 'IncorrectState' });

    await lab.emulator.advance(STAGE);
    expect((await describeTask(client, ids[0] ?? '')).Status).toBe('deleted');
    for (const id of [...ids.slice(1), replacement.ImportTaskId ?? '']) await client.send(new CancelImportTaskCommand({ ImportTaskId: id }));
    await ec2().send(new CancelImportTaskCommand({ ImportTaskId: east.ImportTaskId }));
  });

  it('fails an injected import with Status deleted and a ClientError', async () => {
    const client = ec2();
    const remove = lab.emulator.failImportAt({ match: /bad-os/, stage: 'converting' });
    try {
      await putDisk('vms/bad-os/disk1.vmdk');
      const { ImportTaskId } = await client.send(new ImportImageCommand(importInput('vms/bad-os/disk1.vmdk')));
      await lab.emulator.advance(STAGE);
      expect((await describeTask(client, ImportTaskId ?? '')).StatusMessage).toBe('converting');
      await lab.emulator.advance(STAGE);
      const task = await describeTask(client, ImportTaskId ?? '');
      expect([task.Status, task.StatusMessage, task.ImageId]).toEqual(['deleted', 'ClientError: Unknown OS / Missing OS files.', undefined]);
    } finally {
      remove();
    }
  });

  it('fails disk validation when the S3 object is missing', async () => {
    const client = ec2();
    const { ImportTaskId, Status } = await client.send(new ImportImageCommand(importInput('vms/nowhere/disk1.vmdk')));
    expect(Status).toBe('active');
    await lab.emulator.advance(STAGE);
    const task = await describeTask(client, ImportTaskId ?? '');
    expect([task.Status, task.StatusMessage]).toEqual(['deleted', DISK_VALIDATION_FAILED]);
    expect(DISK_VALIDATION_FAILED).toBe('ClientError: Disk validation failed [We do not have access to the given resource. Reason 403 Forbidden]');
  });

  it('rejects bad disk containers', async () => {
    const client = ec2();
    await expect(
      client.send(new ImportImageCommand(importInput('x', { DiskContainers: [{ Format: 'QCOW2' as 'VMDK', UserBucket: { S3Bucket: IMPORTS, S3Key: 'x.qcow2' } }] }))),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client.send(new ImportImageCommand(importInput('x', { DiskContainers: [] })))).rejects.toMatchObject({ name: 'MissingParameter' });
  });

  it('keeps tasks without Platform stuck in updating', async () => {
    const client = ec2();
    await putDisk('vms/noplatform/disk1.vmdk');
    const { ImportTaskId } = await client.send(new ImportImageCommand(importInput('vms/noplatform/disk1.vmdk', { Platform: undefined })));
    await lab.emulator.advance(10 * STAGE);
    const task = await describeTask(client, ImportTaskId ?? '');
    expect([task.Status, task.StatusMessage]).toEqual(['active', 'updating']);
    await client.send(new CancelImportTaskCommand({ ImportTaskId }));
  });

  it('filters by task-state, pages with MaxResults/NextToken and keeps regions apart', async () => {
    const client = ec2();
    const all: ImportImageTask[] = [];
    for await (const page of paginateDescribeImportImageTasks({ client, pageSize: 2 }, {})) all.push(...(page.ImportImageTasks ?? []));
    const unpaged = (await client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(all.length).toBeGreaterThan(4);
    expect(all.map((t) => t.ImportTaskId)).toEqual(unpaged.map((t) => t.ImportTaskId));

    const completed = await client.send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['completed'] }] }));
    expect(completed.ImportImageTasks?.length).toBeGreaterThan(0);
    expect(new Set(completed.ImportImageTasks?.map((t) => t.Status))).toEqual(new Set(['completed']));

    const eu = ec2('eu-west-1');
    expect((await eu.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? []).toEqual([]);
    await expect(eu.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [unpaged[0]?.ImportTaskId ?? ''] }))).rejects.toMatchObject({
      name: 'InvalidConversionTaskId',
    });
  });
});
