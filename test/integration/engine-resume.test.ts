// Durability: the engine runs in a child process that is SIGKILLed in each phase (export, upload, import,
// launch). A new process on the same database finishes every task with exactly one EC2 import and one
// instance per task, and no orphan multipart upload.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import type { MigrationPhase } from '../../connector/contract/index.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { TASK_TAG } from '../../connector/engine/engine.ts';
import { startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';
import { engineChildren, type EngineChildren } from '../support/engine-child.ts';

let lab: EngineLab;
let tasks: SqliteMigrationTasks;
let children: EngineChildren;

beforeAll(async () => {
  lab = await startEngineLab({ stageMs: 300, startEngine: false });
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
  children = engineChildren(lab);
});
afterAll(async () => {
  children?.killAll();
  tasks?.close();
  await lab?.stop();
});

async function crashIn(vmName: string, phase: MigrationPhase, ready: (t: NonNullable<Awaited<ReturnType<SqliteMigrationTasks['get']>>>) => boolean = () => true): Promise<string> {
  const first = await children.start([lab.request(vmName)]);
  const id = first.ids[0]!;
  await waitFor(async () => {
    const t = await tasks.get(id);
    if (t && t.state !== 'running' && t.state !== 'queued') throw new Error(`task ended ${t.state} before ${phase}: ${t.error ?? ''}`);
    return t?.phase === phase && ready(t);
  }, `phase ${phase}`);
  await children.kill(first.child);
  expect((await tasks.get(id))!.phase).toBe(phase);

  const second = await children.start();
  const end = await waitFor(async () => {
    const t = await tasks.get(id);
    return t && ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  }, 'the resumed task to finish', 180_000);
  await children.kill(second.child);
  expect(end.error).toBeUndefined();
  expect(end.state).toBe('completed');

  const imports = [...lab.ec2.emulator.region('us-east-1')!.imports.values()].filter((i) => i.clientToken === id);
  expect(imports).toHaveLength(1);
  const res = await lab.ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${TASK_TAG}`, Values: [id] }] }));
  const instances = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  expect(instances).toHaveLength(1);
  expect(instances[0]!.State?.Name).toBe('stopped');
  const uploads = await lab.s3Client.send(new ListMultipartUploadsCommand({ Bucket: 'vm2ec2-staging-us-east-1', Prefix: `vm2ec2/${id}/` }));
  expect(uploads.Uploads ?? []).toEqual([]);
  return id;
}

describe('resume after SIGKILL', { timeout: 300_000 }, () => {
  it('in the upload phase (orphan multipart aborted, snapshot removed)', async () => {
    const vmId = lab.vmIds.get('rhel-db-01')!;
    const vim = await lab.vim();
    const before = (await vim.getVirtualMachine(vmId)).snapshotCount;
    await crashIn('rhel-db-01', 'uploading', (t) => (t.disks[0]?.bytesUploaded ?? 0) > 0);
    expect((await vim.getVirtualMachine(vmId)).snapshotCount).toBe(before);
  });

  it('in the export phase', async () => {
    await crashIn('bsd-firewall-01', 'exporting');
  });

  it('in the import phase (the import is found again by its client token)', async () => {
    await crashIn('bsd-firewall-01', 'importing', (t) => Boolean(t.importTaskId));
  });

  it('in the launch phase (the instance is found again by its tag)', async () => {
    await crashIn('bsd-firewall-01', 'launching');
  });
});
