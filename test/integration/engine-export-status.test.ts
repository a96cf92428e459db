// What an instance export is doing, as EC2 reports it (DescribeExportTasks State/StatusMessage; EC2 reports no
// percentage for instance exports): recorded while active and not left behind once the state changes.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeExportTasksCommand, EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { labS3ClientConfig } from '../../lab/s3/index.ts';
import { ExportService } from '../../connector/engine/exports.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import type { ExportRecord } from '../../connector/engine/task-store.ts';
import { AWS_CREDENTIALS, REGION, startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

let lab: EngineLab;
let store: SqliteExportTasks;
let exportsSvc: ExportService;
let ec2: EC2Client;
let s3: S3Client;
let instanceId: string;

beforeAll(async () => {
  lab = await startEngineLab({ stageMs: 400 });
  ec2 = new EC2Client({ region: REGION, endpoint: lab.ec2.url, credentials: { ...AWS_CREDENTIALS } });
  s3 = new S3Client(labS3ClientConfig(lab.s3, REGION));
  store = new SqliteExportTasks(join(lab.dataDir, 'connector.sqlite'));
  exportsSvc = new ExportService({ store, ec2: () => ec2, s3: () => s3, maxExportsPerRegion: 5 });
  await exportsSvc.setBucketName('lab');
  const { id } = await lab.engine.submit(lab.request('bsd-firewall-01'));
  await lab.engine.idle();
  const done = (await lab.engine.get(id))!;
  expect(done.state).toBe('completed');
  instanceId = done.instanceId!;
}, 300_000);
afterAll(async () => {
  store?.close();
  ec2?.destroy();
  s3?.destroy();
  await lab?.stop();
});

describe('export status', { timeout: 300_000 }, () => {
  it("records EC2's status message while the export runs and drops it when the export completes", async () => {
    const exp = await exportsSvc.start({ environmentId: 'env-default', region: REGION, instanceId, s3Prefix: 'vms/', requestedBy: 'administrator@vsphere.local' });
    // The emulator answers as the API reference's sample does: active, "Running", and no progress field.
    const onEc2 = (await ec2.send(new DescribeExportTasksCommand({ ExportTaskIds: [exp.exportTaskId] }))).ExportTasks![0]!;
    expect([onEc2.State, onEc2.StatusMessage]).toEqual(['active', 'Running']);
    expect(Object.keys(onEc2)).not.toContain('Progress');

    const active = await exportsSvc.get(exp.id);
    expect([active?.state, active?.statusMessage]).toEqual(['active', 'Running']);

    const done = await waitFor(async () => {
      const r = await exportsSvc.get(exp.id);
      return r?.state === 'completed' ? r : undefined;
    }, `export ${exp.id} to complete`);
    expect(done.statusMessage).toBeUndefined();
    expect(done.s3Key).toBe(`vms/${exp.exportTaskId}.ova`);
    // Nothing about the ended export changes afterwards.
    const again: ExportRecord | undefined = await exportsSvc.get(exp.id);
    expect(again?.updatedAt).toBe(done.updatedAt);
  });
});
