// Issue 16, "Bring back to vCenter" from Imported Instances, through the connector's real HTTPS API against the lab:
// one task exports the instance to S3 (the connector's own export path) and then imports the OVA into vCenter. The new
// VM holds the original VM's bytes; a cancel during the export phase cancels the export and leaves no file and no VM;
// only administrators may (an export is theirs to start).
import { createHash } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, AuditPage, ExportTask, ReturnChoices, ReturnPreflight, ReturnTask, type ReturnRequestInput } from '../../connector/contract/index.ts';
import { el } from '../../connector/vsphere/soap.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { labS3ClientConfig } from '../../lab/s3/index.ts';
import { expectedRawGrain, GRAIN_BYTES } from '../support/lab-disk-content.ts';
import { allowImports, loginLabUsers, migrationEnvironment, migrationUntil, requestMigration, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// 512 MiB (seed 2 in the lab): its instance's volume is 1 GiB, so the VM brought back holds the original's bytes, then zeros.
const SOURCE = 'rhel-db-01';
const GiB = 1024 ** 3;
const BUCKET = 'export-to-s3-lab-us-east-1';

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let vim: Vim25Client;
let s3: S3Client;
let environmentId: string;
let instanceId: string;
let expectedSha: string;
const ids: Record<'folder' | 'cluster' | 'datastore' | 'network', string> = { folder: '', cluster: '', datastore: '', network: '' };

async function find(path: string): Promise<MoRef> {
  const ref = (await vim.invoke('FindByInventoryPath', vim.serviceContent.searchIndex!, el('inventoryPath', path))) as { '#text': string; '@_type': string } | undefined;
  if (!ref) throw new Error(`no ${path} in the lab inventory`);
  return { type: ref['@_type'], value: ref['#text'] };
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 300_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const v = await probe();
    if (v !== undefined) return v;
  }
  throw new Error(`${what} did not happen within ${ms / 1000} s`);
}

const returnOf = async (id: string) => ReturnTask.parse((await admin.call('GET', `/returns/${id}`)).body);
const exportOf = async (id: string) => ExportTask.parse((await admin.call<{ items: unknown[] }>('GET', '/exports')).body.items.find((x) => (x as ExportTask).id === id));
const objectsUnder = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key);

function request(name: string, extra: Partial<ReturnRequestInput> = {}): ReturnRequestInput {
  return {
    instanceId,
    environmentId,
    name,
    folderId: ids.folder,
    computeResource: { type: 'ClusterComputeResource', id: ids.cluster },
    datastoreId: ids.datastore,
    networkMappings: [{ sourceNetwork: 'VM Network', network: { type: 'DistributedVirtualPortgroup', id: ids.network } }],
    diskProvisioning: 'thin',
    powerOn: false,
    ...extra,
  };
}

beforeAll(async () => {
  // Export stages of 1.5 s: long enough to cancel a task while its export runs.
  lab = await startApiLab({ exportStageMs: 1_500 });
  ({ admin, operator } = await loginLabUsers(lab));
  await allowImports(lab);
  const { env, subnetId, groupId } = await migrationEnvironment(admin, 'Return from instance');
  environmentId = env.id;
  expect((await admin.call('PUT', '/settings/instance-export', { bucketName: 'lab', expectedBucketName: null })).status).toBe(200);
  s3 = new S3Client(labS3ClientConfig(lab.s3));

  vim = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
  await vim.login('administrator@vsphere.local', 'Admin!23');
  ids.folder = (await find('DC0/vm/Production')).value;
  ids.cluster = (await find('DC0/host/DC0_C0')).value;
  ids.datastore = (await find('DC0/datastore/LocalDS_0')).value;
  ids.network = (await find('DC0/network/DC0_DVPG0')).value;
  const vm = (await vim.listVirtualMachines()).find((v) => v.name === SOURCE)!;
  const padded = createHash('sha256');
  for (let g = 0; g < vm.disks[0]!.capacityBytes / GRAIN_BYTES; g++) padded.update(expectedRawGrain(2, g));
  const zeros = Buffer.alloc(1 << 20);
  for (let n = vm.disks[0]!.capacityBytes; n < GiB; n += zeros.length) padded.update(zeros);
  expectedSha = padded.digest('hex');

  const mig = await requestMigration(operator, { environmentId: env.id, vmId: vm.id, subnetId, groupId });
  expect(mig.status, JSON.stringify(mig.body)).toBe(202);
  const migrated = await migrationUntil(admin, (mig.body as { id: string }).id, (t) => ['completed', 'failed', 'cancelled'].includes(t.state), 720_000);
  expect([migrated.state, migrated.error]).toEqual(['completed', undefined]);
  instanceId = migrated.instanceId!;
}, 900_000);

afterAll(async () => {
  s3?.destroy();
  if (vim) {
    await vim.logout().catch(() => undefined);
    vim.close();
  }
  await lab?.stop();
});

describe('Bring back to vCenter from Imported Instances', { timeout: 600_000 }, () => {
  it('offers the choices with the OVA VM Export will write, and refuses a non-administrator (403, audited)', async () => {
    const res = await admin.call('GET', `/returns/choices?instanceId=${instanceId}&environmentId=${environmentId}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const c = ReturnChoices.parse(res.body);
    expect([c.instanceId, c.exportId, c.sourceNetworks, c.diskCapacityBytes, c.suggestedName]).toEqual([instanceId, undefined, ['VM Network'], GiB, instanceId]);
    const pre = ReturnPreflight.parse((await admin.call('POST', '/returns/preflight', request('from-instance-01'))).body);
    expect(pre.checks).toEqual([]);
    expect(pre.diskCapacityBytes).toBe(GiB);

    const refused = await operator.call('POST', '/returns', request('from-instance-operator'));
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(ApiErrorBody.parse(refused.body).code).toBe('RETURN_NOT_ALLOWED');
    const audit = AuditPage.parse((await admin.call('GET', '/audit?action=return.request&limit=50')).body).entries;
    expect(audit.find((e) => e.actor === 'operator@vsphere.local' && e.code === 'RETURN_NOT_ALLOWED' && (e.details as { instanceId?: string }).instanceId === instanceId)).toBeDefined();
    const both = await admin.call('POST', '/returns', { ...request('x'), exportId: 'exp-00000000-0000-4000-8000-000000000000' });
    expect(both.status).toBe(400);
    expect(JSON.stringify(both.body)).toContain('not both');
  });

  it('cancel during the export phase cancels the export and leaves no file in S3 and no VM', async () => {
    const res = await admin.call('POST', '/returns', request('from-instance-cancelled'));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const task = ReturnTask.parse(res.body);
    expect([task.source, task.phase, task.state]).toEqual(['instance', 'exporting', 'running']);
    expect(task.exportTaskId).toMatch(/^export-i-/);
    const cancel = await admin.call('POST', `/returns/${task.id}/cancel`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    const after = ReturnTask.parse(cancel.body);
    expect(after.state).toBe('cancelled');
    expect(after.message).toBe(`Cancelled by administrator@vsphere.local. The export ${task.exportTaskId} was cancelled and its files removed from S3.`);
    expect((await exportOf(task.exportId)).state).toBe('cancelled');
    expect(await poll('the export files gone', async () => ((await objectsUnder('bring-back/')).length === 0 ? true : undefined), 30_000)).toBe(true);
    expect((await vim.listVirtualMachines()).map((v) => v.name)).not.toContain('from-instance-cancelled');
    expect((await lab.vcsim.faultStatus()).openImportLeases).toBe(0);
  });

  it('exports the instance, then imports it as a new VM with the original disk content, in one task', async () => {
    const res = await admin.call('POST', '/returns', request('from-instance-back'));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = ReturnTask.parse(res.body).id;
    // While the task's export runs, the instance's export is taken: a second request is blocked up front.
    const second = ReturnPreflight.parse((await admin.call('POST', '/returns/preflight', request('from-instance-second'))).body);
    expect(second.checks.map((c) => c.code)).toEqual(['EXPORT_ALREADY_RUNNING']);

    const phases = new Set<string>();
    const done = await poll('the task ending', async () => {
      const t = await returnOf(id);
      phases.add(t.phase);
      return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
    });
    expect([done.state, done.message]).toEqual(['completed', undefined]);
    expect(phases.has('exporting')).toBe(true);
    expect(done.percent).toBe(100);
    expect(done.bytesUploaded).toBe(done.bytesTotal);
    const exp = await exportOf(done.exportId);
    expect([exp.state, exp.instanceId, exp.exportTaskId]).toEqual(['completed', instanceId, done.exportTaskId]);
    expect([done.bucket, done.s3Key]).toEqual([exp.bucket, exp.s3Key]);
    expect(done.s3Key).toMatch(/^bring-back\/export-i-.*\.ova$/);

    const back = (await vim.listVirtualMachines()).find((v) => v.name === 'from-instance-back')!;
    expect(back.id).toBe(done.vmId);
    expect(back.folderId).toBe(ids.folder);
    expect(back.nics.map((n) => n.network)).toEqual(['DC0_DVPG0']);
    expect(back.disks[0]!.capacityBytes).toBe(GiB);
    expect(await lab.vcsim.diskSha256(back.id, back.disks[0]!.key)).toBe(expectedSha);

    const exportAudit = AuditPage.parse((await admin.call('GET', '/audit?action=export.request&limit=50')).body).entries;
    expect(exportAudit.find((e) => e.outcome === 'granted' && (e.details as { exportId?: string }).exportId === done.exportId)).toBeDefined();
    const returnAudit = AuditPage.parse((await admin.call('GET', '/audit?action=return.request&limit=50')).body).entries;
    expect(returnAudit.find((e) => e.outcome === 'granted' && (e.details as { returnId?: string }).returnId === id)).toBeDefined();
  });

  it("cancel during the import phase removes the half-made VM and the export's OVA", async () => {
    const res = await admin.call('POST', '/returns', request('from-instance-cancel-upload'));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = ReturnTask.parse(res.body).id;
    const uploading = await poll('the upload', async () => {
      const t = await returnOf(id);
      return t.phase === 'uploading' || t.state !== 'running' ? t : undefined;
    });
    expect(uploading.phase).toBe('uploading');
    const cancel = await admin.call('POST', `/returns/${id}/cancel`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    const after = ReturnTask.parse(cancel.body);
    expect(after.state).toBe('cancelled');
    expect(after.message).toBe(
      `Cancelled by administrator@vsphere.local. The import was aborted and the half-made VM removed. The export's OVA file s3://${BUCKET}/${uploading.s3Key} was deleted.`,
    );
    expect(await objectsUnder(uploading.s3Key)).toEqual([]);
    expect((await vim.listVirtualMachines()).map((v) => v.name)).not.toContain('from-instance-cancel-upload');
    expect((await lab.vcsim.faultStatus()).openImportLeases).toBe(0);
  });
});
