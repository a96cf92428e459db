// Imported instances (list, start, stop, backup) and instance exports (bucket setting, per-region limit,
// 409 on a second export, cancel, seven-day listing, OVA in the bucket) against the EC2 emulator and lab S3.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateInstanceExportTaskCommand, EC2Client } from '@aws-sdk/client-ec2';
import { HeadBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { labS3ClientConfig } from '../../lab/s3/index.ts';
import { ExportService } from '../../connector/engine/exports.ts';
import { InstanceService } from '../../connector/engine/instances.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { AppError } from '../../connector/errors.ts';
import { AWS_CREDENTIALS, REGION, startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

let lab: EngineLab;
let store: SqliteExportTasks;
let exportsSvc: ExportService;
let instances: InstanceService;
let ec2: EC2Client;
let s3: S3Client;
const instanceIds: string[] = [];
/** Every observed export save: id, state before, state after, and what the store held then. */
const observed: { id: string; before: string | undefined; state: string; stored: string | undefined }[] = [];

const req = (instanceId: string) => ({ environmentId: 'env-default', region: REGION, instanceId, s3Prefix: 'exports/', requestedBy: 'administrator@vsphere.local' });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return `${err.statusCode} ${err.code}`;
    throw err;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  lab = await startEngineLab({ stageMs: 250 });
  ec2 = new EC2Client({ region: REGION, endpoint: lab.ec2.url, credentials: { ...AWS_CREDENTIALS } });
  s3 = new S3Client(labS3ClientConfig(lab.s3, REGION));
  store = new SqliteExportTasks(join(lab.dataDir, 'connector.sqlite'));
  exportsSvc = new ExportService({
    store,
    ec2: () => ec2,
    s3: () => s3,
    maxExportsPerRegion: 1,
    observers: [{ exportSaved: async (e, before) => observed.push({ id: e.id, before: before?.state, state: e.state, stored: (await store.get(e.id))?.state }) }],
  });
  instances = new InstanceService(() => ec2);
  // Two instances of one VM: one migration after the other (a VM has one active migration at a time).
  const a = await lab.engine.submit(lab.request('bsd-firewall-01'));
  await lab.engine.idle();
  const b = await lab.engine.submit(lab.request('bsd-firewall-01'));
  await lab.engine.idle();
  for (const t of [a, b]) {
    const done = (await lab.engine.get(t.id))!;
    expect(done.state).toBe('completed');
    instanceIds.push(done.instanceId!);
  }
}, 300_000);
afterAll(async () => {
  store?.close();
  ec2?.destroy();
  s3?.destroy();
  await lab?.stop();
});

describe('imported instances', { timeout: 300_000 }, () => {
  it("lists the environment's imported instances, starts, stops and backs one up", async () => {
    const listed = await instances.list('env-default', REGION);
    expect(listed.map((i) => i.instanceId).sort()).toEqual([...instanceIds].sort());
    expect(listed.every((i) => i.state === 'stopped' && i.sourceVmId === lab.vmIds.get('bsd-firewall-01'))).toBe(true);
    expect(await instances.list('env-other', REGION)).toEqual([]);

    const id = instanceIds[0]!;
    await instances.start('env-default', REGION, id);
    await waitFor(async () => (await instances.find('env-default', REGION, id)).State?.Name === 'running', 'running');
    await instances.stop('env-default', REGION, id);
    await waitFor(async () => (await instances.find('env-default', REGION, id)).State?.Name === 'stopped', 'stopped');
    const backup = await instances.backup('env-default', REGION, id, new Date());
    expect(backup.imageId).toMatch(/^ami-/);
    expect(await codeOf(instances.start('env-other', REGION, id))).toBe('404 INSTANCE_NOT_FOUND');
  });
});

describe('instance export', { timeout: 300_000 }, () => {
  it('needs the bucket setting, creates the bucket, refuses a second export and the per-region excess, and writes the OVA', async () => {
    const [first, second] = instanceIds as [string, string];
    expect(await codeOf(exportsSvc.start(req(first)))).toBe('409 EXPORT_NOT_CONFIGURED');
    await exportsSvc.setBucketName('lab');
    expect(await exportsSvc.bucketName()).toBe('lab');

    const exp = await exportsSvc.start(req(first));
    expect(exp.bucket).toBe(`export-to-s3-lab-${REGION}`);
    expect(exp.exportTaskId).toMatch(/^export-i-/);
    await s3.send(new HeadBucketCommand({ Bucket: exp.bucket }));
    expect(await codeOf(exportsSvc.start(req(first)))).toBe('409 EXPORT_ALREADY_RUNNING');
    expect(await codeOf(exportsSvc.start(req(second)))).toBe('429 EXPORT_LIMIT_REACHED');

    const done = await waitFor(async () => {
      const r = await exportsSvc.get(exp.id);
      return r?.state === 'completed' ? r : undefined;
    }, 'the export to complete');
    expect(done.s3Key).toMatch(/^exports\/export-i-.*\.ova$/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: done.bucket, Key: done.s3Key }));
    expect(head.ContentLength).toBeGreaterThan(0);

    // The slot is free again; this one is cancelled.
    const other = await exportsSvc.start(req(second));
    const cancelling = await exportsSvc.cancel(other.id, 'administrator@vsphere.local');
    expect(['cancelling', 'cancelled']).toContain(cancelling!.state);
    const cancelled = await waitFor(async () => ((await exportsSvc.get(other.id))?.state === 'cancelled' ? true : undefined), 'the cancel');
    expect(cancelled).toBe(true);

    // Observers heard each export from EC2's acceptance (before undefined) to its end, as the store held it.
    const transitions = (id: string) => observed.filter((o) => o.id === id && o.before !== o.state).map((o) => `${o.before ?? '-'}>${o.state}`);
    expect(transitions(exp.id)).toEqual(['->active', 'active>completed']);
    expect(transitions(other.id)).toEqual(['->active', 'active>cancelling', 'cancelling>cancelled']);
    expect(observed.every((o) => o.stored === o.state)).toBe(true);
  });

  it('lists the last seven days by default', async () => {
    const old = new Date(Date.now() - 8 * 86_400_000).toISOString();
    await store.insert({ id: 'exp-old-000000', state: 'completed', environmentId: 'env-default', region: REGION, instanceId: 'i-0000000000000000a', exportTaskId: 'export-i-old', bucket: 'b', s3Prefix: '', requestedBy: 'x', createdAt: old, updatedAt: old });
    const week = await exportsSvc.list(7);
    expect(week.map((e) => e.id)).not.toContain('exp-old-000000');
    expect(week).toHaveLength(2);
    expect((await exportsSvc.list(10)).map((e) => e.id)).toContain('exp-old-000000');
  });

  it('settles reservations a stopped connector left: adopts the export EC2 started for one, drops one EC2 never started', async () => {
    const [first, second] = instanceIds as [string, string];
    const bucket = `export-to-s3-lab-${REGION}`;
    const reservation = async (id: string, instanceId: string, createdAt: string) =>
      await store.insert({ id, state: 'active', environmentId: 'env-default', region: REGION, instanceId, exportTaskId: '', bucket, s3Prefix: 'orphans/', requestedBy: 'administrator@vsphere.local', createdAt, updatedAt: createdAt });
    const longAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    reservation('exp-orphan-none', first, longAgo);
    // EC2 accepted this one just before the connector stopped: it carries the reservation's tag.
    const started = await ec2.send(
      new CreateInstanceExportTaskCommand({
        InstanceId: second,
        TargetEnvironment: 'vmware',
        ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: bucket, S3Prefix: 'orphans/' },
        TagSpecifications: [{ ResourceType: 'export-instance-task', Tags: [{ Key: 'vm2ec2:export-id', Value: 'exp-orphan-started' }] }],
      }),
    );
    reservation('exp-orphan-started', second, longAgo);
    // Not shown until EC2's task is known; and while it exists, the instance is held.
    expect((await exportsSvc.list(1)).map((e) => e.id)).not.toContain('exp-orphan-none');
    expect(await store.get('exp-orphan-none')).toBeUndefined();
    expect(await store.holderOf(first)).toBeUndefined();
    expect(await store.get('exp-orphan-started')).toMatchObject({ state: 'active', exportTaskId: started.ExportTask!.ExportTaskId });
    expect(await codeOf(exportsSvc.start(req(second)))).toBe('409 EXPORT_ALREADY_RUNNING');
    // A recent reservation may still be in flight in another process: left alone.
    reservation('exp-orphan-recent', first, new Date().toISOString());
    await exportsSvc.refresh();
    expect((await store.get('exp-orphan-recent'))?.exportTaskId).toBe('');
    await store.remove('exp-orphan-recent');
  });
});
