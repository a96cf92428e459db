// The lab EC2 emulator's instance export tasks (CreateInstanceExportTask → OVA in S3), the SDK waiters on a running
// clock, and the retention of finished import and export tasks; driven only through the real AWS SDK v3 clients
// (reference §11.3).
import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  DescribeImportImageTasksCommand,
  DescribeSubnetsCommand,
  ImportImageCommand,
  RunInstancesCommand,
  waitUntilExportTaskCompleted,
  waitUntilInstanceRunning,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { describeTask, ec2, EXPORTS, importedImage, importInput, IMPORTS, lab, putDisk, s3, s3c, STAGE, useEc2EmulatorLab } from '../support/ec2-emulator-lab.ts';

useEc2EmulatorLab([IMPORTS, EXPORTS]);

describe('instance export tasks', () => {
  const instances: string[] = [];
  const client = () => ec2();

  beforeAll(async () => {
    const imageId = await importedImage(client(), 'vms/export-src/disk1.vmdk');
    const subnet = (await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.2.0/24'] }] }))).Subnets?.[0]?.SubnetId;
    const run = await client().send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.small', MinCount: 7, MaxCount: 7, SubnetId: subnet }));
    instances.push(...(run.Instances ?? []).map((i) => i.InstanceId ?? ''));
    await lab.emulator.advance(STAGE);
  });

  const exportInput = (instanceId: string, bucket = EXPORTS) => ({
    InstanceId: instanceId,
    TargetEnvironment: 'vmware' as const,
    ExportToS3Task: { ContainerFormat: 'ova' as const, DiskImageFormat: 'VMDK' as const, S3Bucket: bucket, S3Prefix: 'exports/' },
  });

  it('cancels an active export, which then cannot be cancelled again', async () => {
    const { ExportTask } = await client().send(new CreateInstanceExportTaskCommand(exportInput(instances[0] ?? '')));
    expect(ExportTask?.State).toBe('active');
    expect(ExportTask?.ExportToS3Task?.S3Key).toBe(`exports/${ExportTask?.ExportTaskId}.ova`);
    await client().send(new CancelExportTaskCommand({ ExportTaskId: ExportTask?.ExportTaskId }));
    const describe = async () => (await client().send(new DescribeExportTasksCommand({ ExportTaskIds: [ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
    expect((await describe())?.State).toBe('cancelling');
    await lab.emulator.advance(STAGE);
    expect((await describe())?.State).toBe('cancelled');
    await expect(client().send(new CancelExportTaskCommand({ ExportTaskId: ExportTask?.ExportTaskId }))).rejects.toMatchObject({ name: 'IncorrectState' });
    await expect(s3c.send(new HeadObjectCommand({ Bucket: EXPORTS, Key: ExportTask?.ExportToS3Task?.S3Key }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('completes an export into S3; a completed export cannot be cancelled', async () => {
    const { ExportTask } = await client().send(new CreateInstanceExportTaskCommand(exportInput(instances[1] ?? '')));
    await lab.emulator.advance(3 * STAGE);
    const done = (await client().send(new DescribeExportTasksCommand({ ExportTaskIds: [ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
    expect(done?.State).toBe('completed');
    const head = await s3c.send(new HeadObjectCommand({ Bucket: EXPORTS, Key: done?.ExportToS3Task?.S3Key }));
    expect(head.ContentLength).toBeGreaterThan(1024);
    await expect(client().send(new CancelExportTaskCommand({ ExportTaskId: ExportTask?.ExportTaskId }))).rejects.toMatchObject({ name: 'IncorrectState' });
  });

  it('caps concurrent exports per region and refuses a second export of one instance', async () => {
    const ids: string[] = [];
    for (const inst of instances.slice(2, 7)) ids.push((await client().send(new CreateInstanceExportTaskCommand(exportInput(inst)))).ExportTask?.ExportTaskId ?? '');
    await expect(client().send(new CreateInstanceExportTaskCommand(exportInput(instances[2] ?? '')))).rejects.toMatchObject({ name: 'IncorrectState' });
    await expect(client().send(new CreateInstanceExportTaskCommand(exportInput(instances[0] ?? '')))).rejects.toMatchObject({
      name: 'ResourceLimitExceeded',
    });
    for (const id of ids) await client().send(new CancelExportTaskCommand({ ExportTaskId: id }));
    const accepted = await client().send(new CreateInstanceExportTaskCommand(exportInput(instances[0] ?? '')));
    expect(accepted.ExportTask?.State).toBe('active');
    await client().send(new CancelExportTaskCommand({ ExportTaskId: accepted.ExportTask?.ExportTaskId }));
    await lab.emulator.advance(STAGE);
  });

  it('validates bucket and formats, and surfaces injected export failures', async () => {
    const inst = instances[0] ?? '';
    await expect(client().send(new CreateInstanceExportTaskCommand(exportInput(inst, 'no-such-bucket')))).rejects.toMatchObject({ name: 'InvalidParameter' });
    const bad = exportInput(inst);
    await expect(
      client().send(new CreateInstanceExportTaskCommand({ ...bad, ExportToS3Task: { ...bad.ExportToS3Task, ContainerFormat: 'zip' as 'ova' } })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      client().send(new CreateInstanceExportTaskCommand({ ...bad, ExportToS3Task: { ...bad.ExportToS3Task, DiskImageFormat: 'QCOW2' as 'VMDK' } })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });

    const remove = lab.emulator.failExport({ match: new RegExp(inst), message: 'ClientError: injected export failure' });
    try {
      const { ExportTask } = await client().send(new CreateInstanceExportTaskCommand(exportInput(inst)));
      await lab.emulator.advance(STAGE);
      const failed = (await client().send(new DescribeExportTasksCommand({ ExportTaskIds: [ExportTask?.ExportTaskId ?? ''] }))).ExportTasks?.[0];
      expect([failed?.State, failed?.StatusMessage]).toEqual(['cancelled', 'ClientError: injected export failure']);
    } finally {
      remove();
    }
  });
});

describe('with a running clock (waiters)', () => {
  let live: Ec2EmulatorHandle;
  beforeAll(async () => {
    live = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 40 });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it('imports, launches (waitUntilInstanceRunning), exports (waitUntilExportTaskCompleted) and writes a real OVA', async () => {
    const client = ec2('us-west-2', live.url);
    await putDisk('vms/live/disk1.vmdk');
    const { ImportTaskId } = await client.send(new ImportImageCommand(importInput('vms/live/disk1.vmdk')));
    // No SDK waiter exists for import tasks: poll like the connector does.
    let task = await describeTask(client, ImportTaskId ?? '');
    while (task.Status === 'active') {
      await new Promise((r) => setTimeout(r, 20));
      task = await describeTask(client, ImportTaskId ?? '');
    }
    expect(task.Status).toBe('completed');

    const subnet = (await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.1.1.0/24'] }] }))).Subnets?.[0]?.SubnetId;
    const run = await client.send(
      new RunInstancesCommand({ ImageId: task.ImageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1, SubnetId: subnet, PrivateIpAddress: '10.1.1.25' }),
    );
    const instanceId = run.Instances?.[0]?.InstanceId ?? '';
    const running = await waitUntilInstanceRunning({ client, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { InstanceIds: [instanceId] });
    expect(running.state).toBe('SUCCESS');

    const created = await client.send(
      new CreateInstanceExportTaskCommand({
        InstanceId: instanceId,
        TargetEnvironment: 'vmware',
        Description: 'back to vSphere',
        ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: EXPORTS, S3Prefix: 'exports/' },
      }),
    );
    const exportId = created.ExportTask?.ExportTaskId ?? '';
    expect(exportId).toMatch(/^export-i-[0-9a-f]{17}$/);
    await expect(
      client.send(
        new CreateInstanceExportTaskCommand({
          InstanceId: instanceId,
          TargetEnvironment: 'vmware',
          ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: EXPORTS, S3Prefix: 'again/' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'IncorrectState' });
    const done = await waitUntilExportTaskCompleted({ client, maxWaitTime: 30, minDelay: 0.05, maxDelay: 0.2 }, { ExportTaskIds: [exportId] });
    expect(done.state).toBe('SUCCESS');

    const obj = await s3c.send(new GetObjectCommand({ Bucket: EXPORTS, Key: `exports/${exportId}.ova` }));
    const ova = Buffer.from(await obj.Body?.transformToByteArray() ?? []);
    const entries = readTar(ova);
    expect(entries.map((e) => e.name)).toEqual([`${exportId}.ovf`, `${exportId}-disk1.vmdk`]);
    const ovf = entries[0]?.data.toString('utf8') ?? '';
    expect(ovf).toContain(`ovf:href="${exportId}-disk1.vmdk"`);
    expect(ovf).toContain(instanceId);
    expect(entries[1]?.data.subarray(0, 4).toString('latin1')).toBe('KDMV');
  });
});

describe('retention', () => {
  it('drops finished import and export tasks from Describe* after 7 days', async () => {
    const client = ec2();
    const finished = await client.send(new DescribeImportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['completed'] }] }));
    const oldId = finished.ImportImageTasks?.[0]?.ImportTaskId ?? '';
    expect(oldId).not.toBe('');
    const exportsBefore = (await client.send(new DescribeExportTasksCommand({}))).ExportTasks ?? [];
    expect(exportsBefore.length).toBeGreaterThan(0);

    await lab.emulator.advance(6 * 24 * 3600 * 1000);
    expect((await describeTask(client, oldId)).Status).toBe('completed');
    await lab.emulator.advance(2 * 24 * 3600 * 1000);
    await expect(describeTask(client, oldId)).rejects.toMatchObject({ name: 'InvalidConversionTaskId' });
    const remaining = (await client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(remaining.map((t) => t.Status).filter((s) => s !== 'active')).toEqual([]);
    expect((await client.send(new DescribeExportTasksCommand({}))).ExportTasks ?? []).toEqual([]);
  });
});

/** Minimal ustar reader for the assertions above. */
function readTar(buf: Buffer): { name: string; data: Buffer }[] {
  const out: { name: string; data: Buffer }[] = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    let sum = 0;
    header.forEach((b, i) => (sum += i >= 148 && i < 156 ? 32 : b));
    expect(parseInt(header.subarray(148, 156).toString('latin1'), 8)).toBe(sum);
    out.push({ name, data: buf.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
