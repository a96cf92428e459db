// Issue 18 for "Replicate, then cut over": the replicated EBS snapshots are encrypted with the chosen KMS key. Only
// each disk's first snapshot asks for it (EBS refuses Encrypted with a parent and gives the child the parent's key),
// checked against the lab vCenter and the lab EBS direct APIs through the real clients.
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { createEbsClient } from '../../connector/aws/ebs-writer.ts';
import { ensureChangeTracking, runCycle, type CycleDeps } from '../../connector/engine/warm/cycle.ts';
import type { WarmRecord } from '../../connector/engine/warm/types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { admin } from './engine-helpers.ts';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'lab', secretAccessKey: 'lab' };
const MiB = 1024 * 1024;

let vcsim: VcsimHandle;
let s3: S3Handle;
let lab: Ec2EmulatorHandle;
let vc: Vim25Client;
let ec2: EC2Client;
let vmId: string;

beforeAll(async () => {
  vcsim = await startVcsim({ vms: [{ name: 'warm-encrypted', powerState: 'poweredOn', disks: [{ capacityMiB: 16, seed: 1801 }] }] });
  s3 = await startS3({ buckets: ['lab-imports'] });
  lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 1000 });
  vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
  await vc.login(admin.name, admin.password);
  vmId = (await vc.listVirtualMachines()).find((v) => v.name === 'warm-encrypted')!.id;
  ec2 = new EC2Client({ region: REGION, endpoint: lab.url, credentials: CREDS });
}, 180_000);

afterAll(async () => {
  ec2?.destroy();
  await vc?.logout().catch(() => undefined);
  vc?.close();
  await lab?.stop();
  await s3?.stop();
  await vcsim?.stop();
});

describe('encrypted replication', () => {
  it('encrypts the chain with the chosen key: the first snapshot asks for it, the next cycle inherits it', async () => {
    const kms = new KMSClient({ region: REGION, endpoint: lab.kmsUrl, credentials: CREDS });
    const arn = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/vm2ec2-lab' }))).KeyMetadata!.Arn!;
    kms.destroy();
    const { enabledByUs, disks } = await ensureChangeTracking(vc, vmId);
    const w: WarmRecord = { intervalMinutes: 15, shutdown: 'guest', cbtEnabledByUs: enabledByUs, disks, cycles: 0, supersededSnapshots: [] };
    const ebs = createEbsClient({ region: REGION, endpoint: lab.ebsUrl, credentials: CREDS });
    const deps: CycleDeps = {
      vc,
      ebs,
      vmId,
      snapshotName: 'vm2ec2-warm-encryption-test',
      tags: [{ Key: 'CostCenter', Value: '4711' }],
      encryption: { kmsKeyArn: arn },
      signal: new AbortController().signal,
      now: () => new Date(),
      checkpoint: () => undefined,
    };
    await runCycle(w, deps);
    const first = w.disks[0]!.ebsSnapshotId!;
    await vcsim.writeDisk(vmId, w.disks[0]!.deviceKey, { offset: 4 * MiB, length: 64 * 1024, seed: 1802 });
    // Sending Encrypted again with the parent would be refused by EBS: the cycle completing proves it is not sent.
    await runCycle(w, deps);
    const second = w.disks[0]!.ebsSnapshotId!;
    expect(second).not.toBe(first);
    expect(lab.ebs.get(second)?.parentId).toBe(first);
    const snaps = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [first, second] }))).Snapshots ?? [];
    expect(snaps).toHaveLength(2);
    for (const s of snaps) {
      expect(s).toMatchObject({ Encrypted: true, KmsKeyId: arn });
      expect(s.Tags).toEqual(expect.arrayContaining([{ Key: 'CostCenter', Value: '4711' }]));
    }
    ebs.destroy();
  }, 300_000);
});
