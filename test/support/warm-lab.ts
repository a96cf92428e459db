// The lab of the warm replication cycle tests (test/integration/warm-cycle.test.ts, warm-cycle-recovery.test.ts): the
// lab vCenter with the file's VMs, lab S3 and the EC2 emulator with its EBS direct APIs, a logged-in Vim25Client and an
// EC2Client, plus the helpers the tests share. `useWarmLab` registers the file's beforeAll/afterAll; the handles below
// are live bindings, set once the lab runs (vitest loads this module afresh for each test file).
import { createHash } from 'node:crypto';
import { DescribeSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EBSClient } from '@aws-sdk/client-ebs';
import { afterAll, beforeAll } from 'vitest';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type LabVmSpec, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { createEbsClient } from '../../connector/aws/ebs-writer.ts';
import { ensureChangeTracking, type CycleDeps } from '../../connector/engine/warm/cycle.ts';
import { blockRuns } from '../../connector/engine/warm/ebs.ts';
import { EBS_BLOCK_BYTES, type WarmRecord } from '../../connector/engine/warm/types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { admin } from '../integration/engine-helpers.ts';

const REGION = 'us-east-1';
const CREDS = { accessKeyId: 'lab', secretAccessKey: 'lab' };
export const MiB = 1024 * 1024;
export const GRAIN = 64 * 1024;
export const SNAPSHOT_NAME = 'vm2ec2-warm-test';

export let vcsim: VcsimHandle;
let s3: S3Handle;
export let ec2Lab: Ec2EmulatorHandle;
export let vc: Vim25Client;
export let ec2: EC2Client;
export const vmIds = new Map<string, string>();

/** Starts the lab with these VMs before the file's tests and stops it after them. */
export function useWarmLab(vms: LabVmSpec[]): void {
  beforeAll(async () => {
    vcsim = await startVcsim({ vms });
    s3 = await startS3({ buckets: ['lab-imports'] });
    ec2Lab = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 1000 });
    vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vc.login(admin.name, admin.password);
    for (const vm of await vc.listVirtualMachines()) vmIds.set(vm.name, vm.id);
    ec2 = new EC2Client({ region: REGION, endpoint: ec2Lab.url, credentials: CREDS });
  }, 180_000);

  afterAll(async () => {
    ec2?.destroy();
    await vc?.logout().catch(() => undefined);
    vc?.close();
    await ec2Lab?.stop();
    await s3?.stop();
    await vcsim?.stop();
  });
}

/** An EBS client that counts accepted PutSnapshotBlock calls and can fire a callback after each. */
export function countingEbs(onPut?: (n: number) => void): { ebs: EBSClient; puts: () => number } {
  const ebs = createEbsClient({ region: REGION, endpoint: ec2Lab.ebsUrl, credentials: CREDS });
  let n = 0;
  ebs.middlewareStack.add(
    (next, ctx) => async (args) => {
      const out = await next(args);
      if (ctx.commandName === 'PutSnapshotBlockCommand') {
        n += 1;
        onPut?.(n);
      }
      return out;
    },
    { step: 'initialize', name: 'countPuts' },
  );
  return { ebs, puts: () => n };
}

/** Deps for a VM whose every checkpoint is kept as JSON, as the task store would persist it. */
export function depsFor(vmName: string, ebs: EBSClient, w: WarmRecord, extra: Partial<CycleDeps> = {}) {
  const saved: string[] = [];
  const deps: CycleDeps = {
    vc,
    ebs,
    vmId: vmIds.get(vmName)!,
    snapshotName: SNAPSHOT_NAME,
    tags: [{ Key: 'vm2ec2:test', Value: vmName }],
    signal: new AbortController().signal,
    now: () => new Date(),
    checkpoint: () => saved.push(JSON.stringify(w)),
    ...extra,
  };
  return { deps, saved };
}

export async function newRecord(vmName: string): Promise<WarmRecord> {
  const { enabledByUs, disks } = await ensureChangeTracking(vc, vmIds.get(vmName)!);
  return { intervalMinutes: 15, shutdown: 'guest', cbtEnabledByUs: enabledByUs, disks, cycles: 0, supersededSnapshots: [] };
}

export async function snapshotsOf(vmName: string): Promise<string[]> {
  return (await vc.getVirtualMachine(vmIds.get(vmName)!)).snapshots.map((s) => s.name);
}

export async function ebsSnapshotIds(vmName: string): Promise<string[]> {
  const out = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:vm2ec2:test', Values: [vmName] }] }));
  return (out.Snapshots ?? []).map((s) => s.SnapshotId ?? '').sort();
}

/** SHA-256 of the first `capacityBytes` of an EBS snapshot as its chain reconstructs it (zeros where never written). */
export function chainSha256(snapshotId: string, capacityBytes: number): string {
  const snap = ec2Lab.ebs.get(snapshotId);
  if (!snap) throw new Error(`no EBS snapshot ${snapshotId}`);
  const blocks = ec2Lab.ebs.flatten(snap);
  const zero = Buffer.alloc(EBS_BLOCK_BYTES);
  const h = createHash('sha256');
  for (let i = 0; i * EBS_BLOCK_BYTES < capacityBytes; i++) {
    const key = blocks.get(i);
    h.update((key === undefined ? zero : ec2Lab.ebs.blockData(key)).subarray(0, Math.min(EBS_BLOCK_BYTES, capacityBytes - i * EBS_BLOCK_BYTES)));
  }
  return h.digest('hex');
}

/** Blocks touched by grain writes `[offset, length]`. */
export function blocksOf(writes: [number, number][]): number {
  return blockRuns(writes.map(([start, length]) => ({ start, length })), 1024 * MiB).reduce((n, [a, b]) => n + b - a + 1, 0);
}
