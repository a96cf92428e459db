// Issue 16: SIGKILL during "Bring back to vCenter"'s upload. The task runs in a child process (roundtrip-child.ts) on
// its own SQLite file and is killed mid-upload; a connector starting on that file (ReturnService.resume with the
// connector's vCenter account) aborts the old lease and removes the half-made VM: no VM, no open lease, the task
// failed saying what happened and what to do. Then the same import runs to one whole VM. A task started from Imported
// Instances killed during its export phase: the restarted connector cancels the export and removes its files.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateTagsCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportTask } from '../../connector/contract/index.ts';
import { ENVIRONMENT_TAG } from '../../connector/engine/aws-launch.ts';
import { ExportService } from '../../connector/engine/exports.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { ReturnService } from '../../connector/roundtrip/service.ts';
import { SqliteReturnTasks, type ReturnRecord } from '../../connector/roundtrip/store.ts';
import { el } from '../../connector/vsphere/soap.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { labS3ClientConfig } from '../../lab/s3/index.ts';
import { allowImports, migrationEnvironment, startApiLab, type ApiLab } from '../support/api-lab.ts';

const CHILD = join(import.meta.dirname, 'roundtrip-child.ts');
const ADMIN = { user: 'administrator@vsphere.local', password: 'Admin!23' };

let lab: ApiLab;
let dir: string;
let vim: Vim25Client;
let s3: S3Client;
let task: ChildTask;
const children = new Set<ChildProcess>();

type ChildTask = Omit<ReturnRecord, 'id' | 'seq' | 'state' | 'phase' | 'percent' | 'bytesUploaded' | 'createdAt' | 'updatedAt'>;

async function find(path: string): Promise<MoRef> {
  const ref = (await vim.invoke('FindByInventoryPath', vim.serviceContent.searchIndex!, el('inventoryPath', path))) as { '#text': string; '@_type': string } | undefined;
  if (!ref) throw new Error(`no ${path} in the lab inventory`);
  return { type: ref['@_type'], value: ref['#text'] };
}

beforeAll(async () => {
  // Export stages of 1.5 s: a task's export is still running when the restarted connector looks at it.
  lab = await startApiLab({ exportStageMs: 1_500 });
  dir = await mkdtemp(join(tmpdir(), 'rt-crash-'));
  const admin = await lab.login(ADMIN.user);
  await allowImports(lab);
  const { env, subnetId } = await migrationEnvironment(admin, 'Crash');
  expect((await admin.call('PUT', '/settings/instance-export', { bucketName: 'lab', expectedBucketName: null })).status).toBe(200);
  // An instance of the environment (a small imported image), exported to an OVA by the connector.
  const instanceId = await lab.runInstanceAt('us-east-1', subnetId, '10.0.1.91');
  await lab.ec2Client('us-east-1').send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: ENVIRONMENT_TAG, Value: env.id }] }));
  // EC2 exports only running or stopped instances; a loaded machine leaves it pending a while.
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const out = await lab.ec2Client('us-east-1').send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    if (out.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running') break;
  }
  const started = await admin.call('POST', '/exports', { environmentId: env.id, instanceId, s3Prefix: 'crash/' });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  let exp: ExportTask | undefined;
  for (const end = Date.now() + 60_000; !exp && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const e = ExportTask.parse((await admin.call<{ items: unknown[] }>('GET', '/exports')).body.items.find((x) => (x as ExportTask).id === (started.body as ExportTask).id));
    if (e.state !== 'active') exp = e;
  }
  expect(exp?.state).toBe('completed');

  vim = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
  await vim.login(ADMIN.user, ADMIN.password);
  const cluster = await find('DC0/host/DC0_C0');
  const pool = await find('DC0/host/DC0_C0/Resources');
  task = {
    environmentId: env.id,
    region: 'us-east-1',
    exportId: exp!.id,
    instanceId,
    bucket: exp!.bucket,
    s3Key: exp!.s3Key!,
    name: 'crash-back',
    folderId: (await find('DC0/vm/Production')).value,
    computeResource: { type: 'ClusterComputeResource', id: cluster.value },
    datastoreId: (await find('DC0/datastore/LocalDS_0')).value,
    networkMappings: [{ sourceNetwork: 'VM Network', network: { type: 'DistributedVirtualPortgroup', id: (await find('DC0/network/DC0_DVPG0')).value } }],
    diskProvisioning: 'thin',
    powerOn: false,
    requestedBy: ADMIN.user,
    poolId: pool.value,
  };
  s3 = new S3Client(labS3ClientConfig(lab.s3));
}, 300_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  s3?.destroy();
  if (vim) {
    await vim.logout().catch(() => undefined);
    vim.close();
  }
  await lab?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Seen = { id: string; phase: string; leaseId?: string; bytesUploaded: number };
const midUpload = (m: Seen) => m.phase === 'uploading' && !!m.leaseId && m.bytesUploaded > 0;

/** Starts the child; resolves with its task id once it reports the upload under way (or `at`), then SIGKILLs it. */
async function killMidUpload(file: string, at: (m: Seen) => boolean = midUpload, extra: Record<string, unknown> = {}): Promise<{ id: string; leaseId: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      ROUNDTRIP_CHILD: JSON.stringify({ file, sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem, ...ADMIN, s3: { endpoint: lab.s3.url, accessKeyId: lab.s3.accessKeyId, secretAccessKey: lab.s3.secretAccessKey }, task, chunkDelayMs: 100, ...extra }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => (children.delete(child), r())));
  const lines = createInterface({ input: child.stdout! });
  const seen = await new Promise<{ id: string; leaseId: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the child exited early (${code})`)));
    lines.on('line', (line) => {
      const m = JSON.parse(line) as Seen;
      if (at(m)) resolve({ id: m.id, leaseId: m.leaseId ?? '' });
    });
  });
  child.kill('SIGKILL');
  await exited;
  return seen;
}

describe('SIGKILL during Bring back to vCenter', { timeout: 300_000 }, () => {
  it('leaves no VM and no open lease once the connector is back, and the task says to start again', async () => {
    const file = join(dir, 'connector.sqlite');
    const killed = await killMidUpload(file);
    // Killed mid-upload: the half-made VM and its lease are still there.
    expect((await vim.listVirtualMachines()).map((v) => v.name)).toContain('crash-back');
    expect((await lab.vcsim.faultStatus()).openImportLeases).toBe(1);

    const repo = new SqliteReturnTasks(file);
    const service = new ReturnService({
      repo,
      s3: () => s3,
      serviceSession: async () => vim,
      connectorId: async () => 'roundtrip-child',
      keepAliveMs: 200,
      log: () => {},
    });
    try {
      await service.resume();
      const rec = (await repo.get(killed.id))!;
      expect(rec.state).toBe('failed');
      expect(rec.message).toBe(
        'The connector restarted while bringing the VM back; the user session the import ran in ended with it. The import was aborted and the half-made VM removed. Start Bring back to vCenter again.',
      );
      expect(rec.leaseId).toBeUndefined();
      expect((await vim.listVirtualMachines()).map((v) => v.name)).not.toContain('crash-back');
      expect((await lab.vcsim.faultStatus()).openImportLeases).toBe(0);

      // Started again, the same import makes exactly one VM.
      const client = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
      await client.login(ADMIN.user, ADMIN.password);
      const again = await service.start(task, client);
      for (const end = Date.now() + 60_000; Date.now() < end && (await repo.get(again.id))!.state === 'running'; ) await new Promise((r) => setTimeout(r, 100));
      expect((await repo.get(again.id))!.state).toBe('completed');
      expect((await vim.listVirtualMachines()).filter((v) => v.name === 'crash-back')).toHaveLength(1);
      expect((await lab.vcsim.faultStatus()).openImportLeases).toBe(0);
    } finally {
      await service.stop();
      await repo.close();
    }
  });

  it('killed during the export phase of a task from Imported Instances: the export is cancelled, its files removed, no VM', async () => {
    const file = join(dir, 'connector-instance.sqlite');
    const killed = await killMidUpload(file, (m) => m.phase === 'exporting', {
      task: { ...task, name: 'crash-from-instance' },
      fromInstance: { ec2Endpoint: lab.ec2.url, bucketName: 'lab' },
    });
    const exports = new ExportService({ store: new SqliteExportTasks(file), ec2: () => lab.ec2Client('us-east-1'), s3: () => s3, maxExportsPerRegion: 5 });
    const repo = new SqliteReturnTasks(file);
    const service = new ReturnService({ repo, s3: () => s3, serviceSession: async () => vim, connectorId: async () => 'roundtrip-child', keepAliveMs: 200, exports: () => exports, log: () => {} });
    try {
      const before = (await repo.get(killed.id))!;
      expect([before.state, before.phase, before.source]).toEqual(['running', 'exporting', 'instance']);
      expect((await exports.get(before.exportId))!.state).toBe('active');
      await service.resume();
      const rec = (await repo.get(killed.id))!;
      expect(rec.state).toBe('failed');
      expect(rec.message).toBe(
        `The connector restarted while bringing the VM back; the user session the import ran in ended with it. The export ${before.exportTaskId} was cancelled and its files removed from S3. Start Bring back to vCenter again.`,
      );
      expect((await exports.get(before.exportId))!.state).toBe('cancelled');
      const left = await s3.send(new ListObjectsV2Command({ Bucket: 'export-to-s3-lab-us-east-1', Prefix: 'bring-back/' }));
      expect(left.Contents ?? []).toEqual([]);
      expect((await vim.listVirtualMachines()).map((v) => v.name)).not.toContain('crash-from-instance');
    } finally {
      await service.stop();
      await repo.close();
    }
  });
});
