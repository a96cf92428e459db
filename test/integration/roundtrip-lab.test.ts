// The round trip's data path through the lab (issue 16), without the connector task that will drive it: a VM's
// disk exported from vCenter into S3, imported by VM Import, the instance exported as an OVA, and the OVA read from
// S3 as a stream (connector/roundtrip/ova-read.ts) straight into a vCenter import lease. The new VM's disk must hold
// the original VM's bytes (then zeros: EBS volumes are whole GiB).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  ImportImageCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labS3ClientConfig, startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { openOva } from '../../connector/roundtrip/ova-read.ts';
import { createImportSpec, importVApp, uploadLeaseDisk, uploadTargets } from '../../connector/vsphere/import-lease.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { el } from '../../connector/vsphere/soap.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { expectedRawGrain, GRAIN_BYTES } from '../support/lab-disk-content.ts';

interface Inventory {
  users: { name: string; password: string }[];
  vms: { name: string; disks: { capacityMiB: number; seed: number }[] }[];
}
const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
const admin = inventory.users.find((u) => u.name.startsWith('administrator@'))!;
const SOURCE = 'bsd-firewall-01';
const seed = inventory.vms.find((v) => v.name === SOURCE)!.disks[0]!.seed;
const GiB = 1024 ** 3;
const BUCKET = 'roundtrip';
const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };

let vc: VcsimHandle;
let s3: S3Handle;
let s3c: S3Client;
let lab: Ec2EmulatorHandle;
let ec2: EC2Client;
let client: Vim25Client;

async function find(path: string): Promise<MoRef> {
  const ref = (await client.invoke('FindByInventoryPath', client.serviceContent.searchIndex!, el('inventoryPath', path))) as { '#text': string; '@_type': string } | undefined;
  if (!ref) throw new Error(`no ${path} in the lab inventory`);
  return { type: ref['@_type'], value: ref['#text'] };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [vc, s3] = await Promise.all([startVcsim(), startS3({ buckets: [BUCKET] })]);
  s3c = new S3Client(labS3ClientConfig(s3));
  lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 40 });
  ec2 = new EC2Client({ region: 'us-east-1', endpoint: lab.url, credentials: creds });
  client = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  await client.login(admin.name, admin.password);
});

afterAll(async () => {
  if (client) {
    await client.logout().catch(() => undefined);
    client.close();
  }
  ec2?.destroy();
  s3c?.destroy();
  await lab?.stop();
  await s3?.stop();
  await vc?.stop();
});

describe('round trip through the lab', () => {
  it("brings an exported instance back into vCenter with the original VM's disk content", async () => {
    // 1. The VM's disk into S3, as a migration stages it.
    const source = (await client.listVirtualMachines()).find((v) => v.name === SOURCE)!;
    const out = await client.exportVm(source.id);
    const device = (await client.waitForLease(out)).deviceUrl.find((d) => d.disk)!;
    const { stream } = await openNfcDownload(device.url, { thumbprint: device.sslThumbprint!, cookie: client.sessionCookie! });
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(c as Buffer);
    await client.leaseComplete(out);
    await s3c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'staging/disk-1.vmdk', Body: Buffer.concat(parts) }));

    // 2. VM Import, an instance, VM Export to an OVA.
    const started = await ec2.send(
      new ImportImageCommand({ Platform: 'Linux', LicenseType: 'BYOL', DiskContainers: [{ Format: 'VMDK', UserBucket: { S3Bucket: BUCKET, S3Key: 'staging/disk-1.vmdk' } }] }),
    );
    const imported = await until('the import', async () => {
      const t = (await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [started.ImportTaskId!] }))).ImportImageTasks?.[0];
      return t?.Status === 'active' ? undefined : t;
    });
    expect([imported.Status, imported.StatusMessage]).toEqual(['completed', undefined]);
    const subnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: imported.ImageId, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1, SubnetId: subnet }));
    const instanceId = run.Instances![0]!.InstanceId!;
    await until('the instance running', async () => {
      const st = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
      return st === 'running' ? st : undefined;
    });
    const created = await ec2.send(
      new CreateInstanceExportTaskCommand({
        InstanceId: instanceId,
        TargetEnvironment: 'vmware',
        ExportToS3Task: { ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: BUCKET, S3Prefix: 'exports/' },
      }),
    );
    const exported = await until('the export', async () => {
      const t = (await ec2.send(new DescribeExportTasksCommand({ ExportTaskIds: [created.ExportTask!.ExportTaskId!] }))).ExportTasks?.[0];
      return t?.State === 'active' ? undefined : t;
    });
    expect(exported.State).toBe('completed');

    // 3. Back into vCenter: the OVA streamed from S3 into the import lease, no local copy.
    const obj = await s3c.send(new GetObjectCommand({ Bucket: BUCKET, Key: exported.ExportToS3Task!.S3Key }));
    const ova = await openOva(obj.Body as Readable);
    const [pool, datastore, folder] = [await find('DC0/host/DC0_C0/Resources'), await find('DC0/datastore/LocalDS_0'), await find('DC0/vm/Migration')];
    const spec = await createImportSpec(client, { ovfDescriptor: ova.descriptor, resourcePool: pool, datastore, entityName: `${SOURCE}-back` });
    const lease = await importVApp(client, { resourcePool: pool, spec, folder });
    const targets = uploadTargets(spec, await client.waitForLease(lease));
    let uploaded = 0;
    for await (const file of ova.files) {
      const target = targets.find((t) => t.item.path === file.name);
      if (!target) continue;
      await uploadLeaseDisk(client, target.device, file.body, { contentLength: file.size });
      uploaded += 1;
      await client.leaseProgress(lease, Math.round((uploaded / targets.length) * 100));
    }
    expect(uploaded).toBe(targets.length);
    await client.leaseComplete(lease);

    // 4. The new VM: in the chosen folder, a 1 GiB disk holding the original 64 MiB, then zeros.
    const back = (await client.listVirtualMachines()).find((v) => v.name === `${SOURCE}-back`)!;
    expect(back.folderId).toBe(folder.value);
    expect(back.disks.map((d) => d.capacityBytes)).toEqual([GiB]);
    const expected = createHash('sha256');
    const original = source.disks[0]!.capacityBytes;
    for (let g = 0; g < original / GRAIN_BYTES; g += 1) expected.update(expectedRawGrain(seed, g));
    const zeros = Buffer.alloc(1 << 20);
    for (let n = original; n < GiB; n += zeros.length) expected.update(zeros);
    expect(await vc.diskSha256(back.id, back.disks[0]!.key)).toBe(expected.digest('hex'));
  });
});
