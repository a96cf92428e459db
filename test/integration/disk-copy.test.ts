// The connector's vCenter → S3 copy (`streamDiskToS3`) against the lab vCenter's export lease, the discarding S3 sink
// and s3rver: every byte arrives in order and part by part, and a cancel or a failed part leaves no multipart upload.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { labS3ClientConfig, startS3, type LabS3Handle, type S3SinkHandle } from '../../lab/s3/index.ts';
import { partSizeFor, streamDiskToS3, type DiskSource } from '../../connector/engine/disk-copy.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { recordFaultTally } from '../support/fault-summary.ts';

const MiB = 1024 * 1024;
const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as { users: { name: string; password: string }[] };
const admin = inventory.users.find((u) => u.name.startsWith('administrator@'))!;
const VM = 'bsd-firewall-01'; // one 64 MiB disk

let vc: VcsimHandle;
let vim: Vim25Client;
let sink: S3SinkHandle;
let s3rver: LabS3Handle;
let sinkClient: S3Client;
let s3rverClient: S3Client;
const leases: MoRef[] = [];
const tally = { faultsInjected: 0, failed: 0, completed: 0, orphans: 0 };

/** A fresh export lease of the VM's first disk. */
async function lease(): Promise<{ source: DiskSource; bytes: number }> {
  const vm = (await vim.listVirtualMachines()).find((v) => v.name === VM)!;
  const ref = await vim.exportVm(vm.id);
  leases.push(ref);
  const info = await vim.waitForLease(ref);
  const dev = info.deviceUrl.find((d) => d.disk)!;
  return { source: { url: vim.resolveDeviceUrl(dev.url), thumbprint: dev.sslThumbprint!, cookie: vim.sessionCookie! }, bytes: dev.fileSize! };
}

async function openUploads(client: S3Client, bucket: string): Promise<number> {
  return (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
}

beforeAll(async () => {
  vc = await startVcsim();
  vim = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  await vim.login(admin.name, admin.password);
  sink = await startS3({ sink: true });
  s3rver = await startS3();
  sinkClient = new S3Client(labS3ClientConfig(sink));
  s3rverClient = new S3Client(labS3ClientConfig(s3rver));
  await sinkClient.send(new CreateBucketCommand({ Bucket: 'disks' }));
  await s3rverClient.send(new CreateBucketCommand({ Bucket: 'disks' }));
});

afterAll(async () => {
  recordFaultTally({ suite: 'disk-copy', faultsInjected: tally.faultsInjected, migrationsCompleted: tally.completed, migrationsFailed: tally.failed, tasksLost: 0, duplicates: 0, orphans: tally.orphans });
  // Each step bounded: one hung close must not fail the suite's teardown.
  const bounded = (p: Promise<unknown> | undefined) => Promise.race([(p ?? Promise.resolve()).catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
  for (const l of leases) await bounded(vim?.leaseComplete(l));
  await bounded(vim?.logout());
  sinkClient?.destroy();
  s3rverClient?.destroy();
  await bounded(sink?.stop());
  await bounded(s3rver?.stop());
  await bounded(vc?.stop());
});

describe('streamDiskToS3', () => {
  it('sizes parts for 10,000 parts, at least 16 MiB, within S3 limits', () => {
    expect(partSizeFor(1024 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(2 * 1024 * 1024 * MiB)).toBe(210 * MiB);
    expect(partSizeFor(2 * 1024 * 1024 * MiB) * 10_000).toBeGreaterThanOrEqual(2 * 1024 * 1024 * MiB);
    expect(partSizeFor(100 * 1024 * 1024 * MiB)).toBe(5 * 1024 * MiB);
  });

  it('streams a disk into S3 part by part, byte for byte, reporting progress', async () => {
    const { source, bytes } = await lease();
    // The reference: the same lease URL read directly, hashed per 5 MiB part.
    const { stream } = await openNfcDownload(source.url, { thumbprint: source.thumbprint!, cookie: source.cookie! });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const whole = Buffer.concat(chunks);
    expect(whole.length).toBe(bytes);
    const expected: string[] = [];
    for (let at = 0; at < whole.length; at += 5 * MiB) expected.push(createHash('sha256').update(whole.subarray(at, at + 5 * MiB)).digest('hex'));

    const progress: number[] = [];
    const result = await streamDiskToS3(source, { s3: sinkClient, bucket: 'disks', key: 'd1.vmdk', expectedBytes: bytes, partSize: 5 * MiB, queueSize: 3 }, { onProgress: (b) => progress.push(b) });
    tally.completed += 1;
    const stats = sink.sinkStats('disks', 'd1.vmdk')!;
    expect(result).toEqual({ bytes, parts: expected.length });
    expect(stats.bytes).toBe(bytes);
    expect(stats.parts.map((p) => p.sha256)).toEqual(expected);
    expect(progress.at(-1)).toBe(bytes);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('writes a small stream with one PutObject', async () => {
    const { source } = await lease();
    // A 64 MiB stream with 100 MiB parts fits one PutObject.
    const result = await streamDiskToS3(source, { s3: sinkClient, bucket: 'disks', key: 'one.vmdk', expectedBytes: 1, partSize: 100 * MiB });
    expect(result.parts).toBe(1);
    expect(sink.sinkStats('disks', 'one.vmdk')?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('cancelled mid-stream: rejects with AbortError and aborts its multipart upload', async () => {
    const { source, bytes } = await lease();
    const ac = new AbortController();
    const run = streamDiskToS3(
      source,
      { s3: s3rverClient, bucket: 'disks', key: 'cancelled.vmdk', expectedBytes: bytes, partSize: 5 * MiB, queueSize: 2 },
      { signal: ac.signal, onProgress: (b) => b >= 10 * MiB && ac.abort() },
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    tally.failed += 1;
    const left = await openUploads(s3rverClient, 'disks');
    tally.orphans += left;
    expect(left).toBe(0);
  });

  it('a part that keeps failing: rejects with the S3 error and aborts its multipart upload', async () => {
    const { source, bytes } = await lease();
    const before = s3rver.faults.injected;
    s3rver.resetUploadParts(50); // more resets than the SDK's retries (the last test: leftovers do not matter)
    await expect(
      streamDiskToS3(source, { s3: s3rverClient, bucket: 'disks', key: 'failed.vmdk', expectedBytes: bytes, partSize: 5 * MiB, queueSize: 2 }),
    ).rejects.toThrow(/ECONNRESET|EPIPE|socket hang up|aborted/i);
    tally.faultsInjected += s3rver.faults.injected - before;
    expect(s3rver.faults.injected - before).toBeGreaterThan(0);
    tally.failed += 1;
    const left = await openUploads(s3rverClient, 'disks');
    tally.orphans += left;
    expect(left).toBe(0);
  });
});
