// Issue 16, "Bring back to vCenter", through the connector's real HTTPS API against the lab: a VM migrated to an
// instance, the instance exported as an OVA, the OVA brought back as a new VM whose disk holds the original's bytes,
// with the chosen name, folder, datastore and network. Refusals (privilege, pre-flight) and cancel mid-upload too.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, AuditPage, ExportTask, ImportAuthorization, MigrationTask, ReturnPreflight, ReturnTask, type ReturnRequestInput } from '../../connector/contract/index.ts';
import { openOva } from '../../connector/roundtrip/ova-read.ts';
import { readProps } from '../../connector/roundtrip/vcenter.ts';
import { el, text } from '../../connector/vsphere/soap.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { labS3ClientConfig } from '../../lab/s3/index.ts';
import { expectedRawGrain, expectedRawSha256, GRAIN_BYTES } from '../support/lab-disk-content.ts';
import { allowImports, loginLabUsers, migrationEnvironment, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

const run = promisify(execFile);
// 512 MiB, powered on (exported from a temporary snapshot): the instance's volume is 1 GiB (EBS volumes are whole GiB),
// so the VM brought back holds the original's bytes, then zeros.
const SOURCE = 'rhel-db-01';
const GiB = 1024 ** 3;

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let vim: Vim25Client;
let s3: S3Client;
let exp: ExportTask;
let expectedSha: string;
let sourceVm: { id: string; diskKey: number };
const ids: Record<'folder' | 'cluster' | 'datastore' | 'network', string> = { folder: '', cluster: '', datastore: '', network: '' };

async function find(path: string): Promise<MoRef> {
  const ref = (await vim.invoke('FindByInventoryPath', vim.serviceContent.searchIndex!, el('inventoryPath', path))) as { '#text': string; '@_type': string } | undefined;
  if (!ref) throw new Error(`no ${path} in the lab inventory`);
  return { type: ref['@_type'], value: ref['#text'] };
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 600_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${ms / 1000} s`);
}

const returnOf = async (user: ApiUser, id: string) => ReturnTask.parse((await user.call('GET', `/returns/${id}`)).body);
const ended = (user: ApiUser, id: string) =>
  poll(`return ${id} ending`, async () => {
    const t = await returnOf(user, id);
    return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  });

function request(name: string, extra: Partial<ReturnRequestInput> = {}): ReturnRequestInput {
  return {
    exportId: exp.id,
    name,
    folderId: ids.folder,
    computeResource: { type: 'ClusterComputeResource', id: ids.cluster },
    datastoreId: ids.datastore,
    networkMappings: [{ sourceNetwork: 'VM Network', network: { type: 'DistributedVirtualPortgroup', id: ids.network } }],
    diskProvisioning: 'thin',
    powerOn: true,
    ...extra,
  };
}

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator } = await loginLabUsers(lab));
  await allowImports(lab);
  const { env, subnetId, groupId } = await migrationEnvironment(admin, 'Round trip');
  expect((await admin.call('PUT', '/settings/instance-export', { bucketName: 'lab', expectedBucketName: null })).status).toBe(200);

  vim = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
  await vim.login('administrator@vsphere.local', 'Admin!23');
  ids.folder = (await find('DC0/vm/Production')).value;
  ids.cluster = (await find('DC0/host/DC0_C0')).value;
  ids.datastore = (await find('DC0/datastore/LocalDS_0')).value;
  ids.network = (await find('DC0/network/DC0_DVPG0')).value;
  const vm = (await vim.listVirtualMachines()).find((v) => v.name === SOURCE)!;
  sourceVm = { id: vm.id, diskKey: vm.disks[0]!.key };
  // The original's raw content as the lab generates it, then the same padded with zeros to the volume's 1 GiB.
  const seed = 2;
  expect(await lab.vcsim.diskSha256(vm.id, sourceVm.diskKey)).toBe(expectedRawSha256(seed, vm.disks[0]!.capacityBytes));
  const padded = createHash('sha256');
  for (let g = 0; g < vm.disks[0]!.capacityBytes / GRAIN_BYTES; g++) padded.update(expectedRawGrain(seed, g));
  const zeros = Buffer.alloc(1 << 20);
  for (let n = vm.disks[0]!.capacityBytes; n < GiB; n += zeros.length) padded.update(zeros);
  expectedSha = padded.digest('hex');

  // Migrate (as the operator, General in the environment), then export the instance (administrator).
  const auth = await operator.call('POST', '/import-authorizations', { environmentId: env.id, vmId: vm.id });
  expect(auth.status, JSON.stringify(auth.body)).toBe(201);
  const mig = await operator.call('POST', '/migrations', {
    token: ImportAuthorization.parse(auth.body).token,
    environmentId: env.id,
    vmId: vm.id,
    platform: 'Linux',
    subnetId,
    instanceType: 'm5.large',
    securityGroupIds: [groupId],
  });
  expect(mig.status, JSON.stringify(mig.body)).toBe(202);
  const migrated = await poll('the migration', async () => {
    const t = MigrationTask.parse((await admin.call('GET', `/migrations/${(mig.body as { id: string }).id}`)).body);
    return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
  });
  expect([migrated.state, migrated.error]).toEqual(['completed', undefined]);
  const started = await admin.call('POST', '/exports', { environmentId: env.id, instanceId: migrated.instanceId, s3Prefix: 'roundtrip/' });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  exp = await poll('the export', async () => {
    const e = ExportTask.parse((await admin.call<{ items: unknown[] }>('GET', '/exports')).body.items.find((x) => (x as ExportTask).id === (started.body as ExportTask).id));
    return e.state === 'active' || e.state === 'cancelling' ? undefined : e;
  });
  expect(exp.state).toBe('completed');
  s3 = new S3Client(labS3ClientConfig(lab.s3));
}, 900_000);

afterAll(async () => {
  s3?.destroy();
  if (vim) {
    await vim.logout().catch(() => undefined);
    vim.close();
  }
  await lab?.stop();
});

describe('Bring back to vCenter', { timeout: 600_000 }, () => {
  it('brings the exported instance back as a new VM with the original disk content, name, folder, datastore and network', async () => {
    const pre = ReturnPreflight.parse((await admin.call('POST', '/returns/preflight', request('web-01-back'))).body);
    expect(pre.checks).toEqual([]);
    expect(pre.sourceNetworks).toEqual(['VM Network']);
    expect(pre.diskCapacityBytes).toBe(GiB);

    const res = await admin.call('POST', '/returns', request('web-01-back'));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const done = await ended(admin, ReturnTask.parse(res.body).id);
    expect([done.state, done.message]).toEqual(['completed', undefined]);
    expect(done.percent).toBe(100);
    expect(done.bytesUploaded).toBe(done.bytesTotal);
    expect(done.throughputBps).toBeGreaterThan(0);

    const back = (await vim.listVirtualMachines()).find((v) => v.name === 'web-01-back')!;
    expect(back.id).toBe(done.vmId);
    expect(back.folderId).toBe(ids.folder);
    expect(back.powerState).toBe('poweredOn');
    expect(back.nics.map((n) => n.network)).toEqual(['DC0_DVPG0']);
    expect(back.disks).toHaveLength(1);
    expect(back.disks[0]!.fileName).toMatch(/^\[LocalDS_0\] /);
    expect(back.disks[0]!.capacityBytes).toBe(GiB);
    expect(await lab.vcsim.diskSha256(back.id, back.disks[0]!.key)).toBe(expectedSha);
    const notes = text((await readProps(vim, { type: 'VirtualMachine', value: back.id }, ['config.annotation']))?.get('config.annotation'));
    expect(notes).toContain(`instance ${exp.instanceId}`);
    expect(notes).toContain(`export ${exp.id}`);

    const audit = AuditPage.parse((await admin.call('GET', '/audit?action=return.request&limit=20')).body).entries;
    expect(audit.find((e) => e.outcome === 'granted' && (e.details as { returnId?: string }).returnId === done.id)).toBeDefined();
  });

  it("the export's OVA disk passes qemu-img check", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rt-ova-'));
    try {
      const obj = await s3.send(new GetObjectCommand({ Bucket: exp.bucket, Key: exp.s3Key! }));
      const ova = await openOva(obj.Body as Readable);
      let checked = 0;
      for await (const f of ova.files) {
        if (!f.name.endsWith('.vmdk')) continue;
        const file = join(dir, 'disk.vmdk');
        await pipeline(Readable.from(f.body), createWriteStream(file));
        const { stdout } = await run('qemu-img', ['check', file]);
        expect(stdout).toMatch(/No errors were found/);
        checked += 1;
      }
      expect(checked).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a user without vApp > Import on the target (403, audited) and creates nothing', async () => {
    const res = await operator.call('POST', '/returns', request('web-01-operator'));
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    const err = ApiErrorBody.parse(res.body);
    expect(err.code).toBe('PRIVILEGE_MISSING');
    expect(err.message).toContain('vApp > Import on Production');
    const missing = (err.details as { checks: { code: string; privilege?: string }[] }).checks.filter((c) => c.code === 'PRIVILEGE_MISSING').map((c) => c.privilege);
    // Power on after import is asked: the new VM inherits the folder's permissions, so that privilege is checked there too.
    expect(missing).toEqual(expect.arrayContaining(['VApp.Import', 'Datastore.AllocateSpace', 'Network.Assign', 'VirtualMachine.Interact.PowerOn']));
    const audit = AuditPage.parse((await admin.call('GET', '/audit?action=return.request&limit=20')).body).entries;
    expect(audit.find((e) => e.actor === 'operator@vsphere.local' && e.outcome === 'denied' && e.code === 'PRIVILEGE_MISSING')).toBeDefined();
    expect((await vim.listVirtualMachines()).map((v) => v.name)).not.toContain('web-01-operator');
  });

  it('blocks a datastore without room for the disks, with every other blocker, before anything starts', async () => {
    await lab.vcsim.setDatastoreFree('LocalDS_0', 512 * 2 ** 20);
    try {
      const body = request('web-01-back', { networkMappings: [] });
      const pre = ReturnPreflight.parse((await admin.call('POST', '/returns/preflight', body)).body);
      expect(pre.checks.map((c) => c.code).sort()).toEqual(['DATASTORE_SPACE', 'NAME_TAKEN', 'NETWORK_NOT_MAPPED']);
      expect(pre.checks.find((c) => c.code === 'DATASTORE_SPACE')!.message).toBe(
        'The datastore LocalDS_0 has 512 MB free, but the virtual disks need 1.0 GB. Choose another datastore or free space on it.',
      );
      const res = await admin.call('POST', '/returns', body);
      expect(res.status).toBe(422);
      const err = ApiErrorBody.parse(res.body);
      expect(err.code).toBe('RETURN_BLOCKED');
      expect((err.details as { checks: unknown[] }).checks).toHaveLength(3);
    } finally {
      await lab.vcsim.setDatastoreFree('LocalDS_0', 2 ** 40);
    }
  });

  it('cancel during the upload aborts the lease and leaves no VM', async () => {
    const res = await admin.call('POST', '/returns', request('web-01-cancelled', { powerOn: false }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = ReturnTask.parse(res.body).id;
    await poll('the upload', async () => ((await returnOf(admin, id)).phase === 'uploading' ? true : undefined), 120_000);
    const cancel = await admin.call('POST', `/returns/${id}/cancel`);
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    const after = ReturnTask.parse(cancel.body);
    expect(after.state).toBe('cancelled');
    expect(after.message).toBe('Cancelled by administrator@vsphere.local. The import was aborted and the half-made VM removed.');
    expect(after.vmId).toBeUndefined();
    expect((await vim.listVirtualMachines()).map((v) => v.name)).not.toContain('web-01-cancelled');
    expect((await lab.vcsim.faultStatus()).openImportLeases).toBe(0);
  });
});
