// NFC disk downloads from the lab vCenter: `*` host rewriting, cancellation, and the VMDK validator
// rejecting real export streams that were damaged in transit.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { openNfcDownload } from '../../connector/vsphere/nfc.ts';
import { Vim25Client, type HttpNfcLeaseDeviceUrl, type MoRef } from '../../connector/vsphere/vim25.ts';
import { decodeStreamOptimizedVmdk, SECTOR, VmdkFormatError } from '../support/vmdk.ts';
import { expectedRawSha256 } from '../support/lab-disk-content.ts';

interface Inventory {
  users: { name: string; password: string }[];
  vms: { name: string; disks: { capacityMiB: number; seed: number }[] }[];
}
const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
const admin = inventory.users.find((u) => u.name.startsWith('administrator@'))!;
const VM = 'bsd-firewall-01';
const seed = inventory.vms.find((v) => v.name === VM)!.disks[0]!.seed;

let vc: VcsimHandle;
let client: Vim25Client;
let lease: MoRef;
let disk: HttpNfcLeaseDeviceUrl;
let original: Buffer;

async function download(url = disk.url, extra: { vcenterHost?: string; signal?: AbortSignal } = {}): Promise<Readable> {
  const { stream } = await openNfcDownload(url, { thumbprint: disk.sslThumbprint!, cookie: client.sessionCookie!, ...extra });
  return stream;
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Validates `bytes` delivered in 64 KiB chunks, like a network stream. */
async function validate(bytes: Buffer): Promise<Awaited<ReturnType<typeof decodeStreamOptimizedVmdk>>> {
  const chunks = function* (): Generator<Buffer> {
    for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
  };
  return decodeStreamOptimizedVmdk(Readable.from(chunks()), { hashRaw: true });
}

function damaged(mutate: (b: Buffer) => Buffer | void): Buffer {
  const copy = Buffer.from(original);
  return mutate(copy) ?? copy;
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  vc = await startVcsim();
  client = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  await client.login(admin.name, admin.password);
  const vm = (await client.listVirtualMachines()).find((v) => v.name === VM)!;
  lease = await client.exportVm(vm.id);
  disk = (await client.waitForLease(lease)).deviceUrl.find((d) => d.disk)!;
  original = await collect(await download());
});

afterAll(async () => {
  if (client) {
    await client.leaseAbort(lease).catch(() => undefined);
    await client.logout().catch(() => undefined);
    client.close();
  }
  await vc?.stop();
});

describe('NFC download', () => {
  it('downloads a complete, valid stream whose size matches the lease', async () => {
    expect(original.length).toBe(disk.fileSize);
    const report = await validate(original);
    expect(report.rawSha256).toBe(expectedRawSha256(seed, report.capacityBytes));
  });

  it('rewrites a "*" host in a lease URL to the vCenter host', async () => {
    const star = disk.url.replace(/^https:\/\/[^/]+/, 'https://*');
    const vcenterHost = new URL(vc.sdkUrl).host;
    expect(client.resolveDeviceUrl(star)).toBe(disk.url);
    const bytes = await collect(await download(star, { vcenterHost }));
    expect(bytes.equals(original)).toBe(true);
    await expect(openNfcDownload(star, { thumbprint: disk.sslThumbprint! })).rejects.toThrow(/host "\*"/);
  });

  it('stops a download when its AbortSignal fires', async () => {
    const ac = new AbortController();
    const stream = await download(disk.url, { signal: ac.signal });
    let received = 0;
    const err = await rejectionOf(
      (async () => {
        for await (const c of stream) {
          received += (c as Buffer).length;
          if (received > 1024 * 1024) ac.abort();
        }
      })(),
    );
    expect(err.name).toBe('AbortError');
    expect(received).toBeLessThan(original.length);
    await expect(openNfcDownload(disk.url, { thumbprint: disk.sslThumbprint!, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('VMDK validator on damaged export streams', () => {
  const grainTableAt = (): number => {
    // The first grain-table marker follows 512 grain records of 129 sectors after the 128-sector overhead.
    const at = (128 + 512 * 129) * SECTOR;
    expect(original.readUInt32LE(at + 12)).toBe(1);
    return at;
  };

  it('rejects a wrong magic number', async () => {
    const err = await rejectionOf(validate(damaged((b) => void b.write('XXXX', 0, 'latin1'))));
    expect(err).toBeInstanceOf(VmdkFormatError);
    expect(err.message).toMatch(/magic/);
  });

  it('rejects a descriptor that is not streamOptimized', async () => {
    const at = original.indexOf('streamOptimized', SECTOR, 'latin1');
    expect(at).toBeGreaterThan(0);
    const err = await rejectionOf(validate(damaged((b) => void b.write('monolithicFlat\n', at, 'latin1'))));
    expect(err.message).toMatch(/createType/);
  });

  it('rejects a grain whose data was altered', async () => {
    const at = 128 * SECTOR + 3000;
    const err = await rejectionOf(validate(damaged((b) => void b.writeUInt8(b.readUInt8(at) ^ 0xff, at))));
    expect(err).toBeInstanceOf(VmdkFormatError);
  });

  it('rejects a grain marker with a wrong LBA', async () => {
    const secondGrain = (128 + 129) * SECTOR;
    const err = await rejectionOf(validate(damaged((b) => void b.writeBigUInt64LE(4n, secondGrain))));
    expect(err.message).toMatch(/LBA 4 is not grain aligned/);
  });

  it('rejects a grain table entry that does not point at its grain', async () => {
    const at = grainTableAt();
    const err = await rejectionOf(validate(damaged((b) => void b.writeUInt32LE(7, at + SECTOR + 4))));
    expect(err.message).toMatch(/grain table 0 entry 1/);
  });

  it('rejects a footer whose gdOffset does not point at the grain directory', async () => {
    // Tail: footer marker, footer, end-of-stream marker.
    const footer = original.length - 2 * SECTOR;
    expect(original.readUInt32LE(footer - SECTOR + 12)).toBe(3);
    const err = await rejectionOf(
      validate(damaged((b) => void b.writeBigUInt64LE(b.readBigUInt64LE(footer + 56) + 1n, footer + 56))),
    );
    expect(err.message).toMatch(/footer gdOffset/);
  });

  it('rejects a truncated stream and bytes after the end-of-stream marker', async () => {
    const cut = await rejectionOf(validate(original.subarray(0, original.length - SECTOR)));
    expect(cut.message).toMatch(/stream ended/);
    const extra = await rejectionOf(validate(Buffer.concat([original, Buffer.alloc(SECTOR)])));
    expect(extra.message).toMatch(/after the end-of-stream marker/);
  });

  it('notices raw content that differs from the lab pattern', async () => {
    // Swap two whole grain records: the stream stays well-formed only if markers are fixed, so swap the payloads.
    const rec = 129 * SECTOR;
    const a = 128 * SECTOR;
    const b = a + rec;
    const swapped = damaged((buf) => {
      const first = Buffer.from(buf.subarray(a + 12, a + rec));
      buf.subarray(b + 12, b + rec).copy(buf, a + 12);
      first.copy(buf, b + 12);
    });
    const report = await validate(swapped);
    expect(report.rawSha256).not.toBe(expectedRawSha256(seed, report.capacityBytes));
  });
});
