// The lab-only "Change disk blocks" card of the vSphere Client stand-in: its endpoint writes whole 512 KiB blocks of a
// running VM's first disk through the lab vCenter (what a warm migration's next cycle must send), its guest shutdown
// powers the VM off (the lab's VMs run no VMware Tools) and its Power on undoes that, each refuses what it cannot do
// with a reason, and none exists outside the lab.
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { startVsphereClient, type VsphereClientHandle } from '../../lab/vsphere-client/index.ts';
import type { InventoryDto, InventoryFolderDto, LabDiskWriteDto, SessionDto } from '../../lab/vsphere-client/api-types.ts';
import { powerOff, powerOn, powerState } from '../../connector/vsphere/cbt.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';

const ADMIN = { username: 'administrator@vsphere.local', password: 'Admin!23' };
const BLOCK = 512 * 1024;

let vcsim: VcsimHandle;
let lab: VsphereClientHandle;
let plain: VsphereClientHandle;
let ids: { on: string; off: string; diskKey: number };
let state: (vmId: string) => Promise<string>;

async function call(client: VsphereClientHandle, path: string, opts: { method?: string; cookie?: string; body?: unknown } = {}): Promise<{ status: number; json: unknown }> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(body ? { 'content-type': 'application/json' } : {}), ...(opts.cookie ? { cookie: opts.cookie } : {}) };
    const req = https.request(new URL(path, client.origin), { method: opts.method ?? 'GET', headers, ca: client.certPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function login(client: VsphereClientHandle): Promise<{ cookie: string; session: SessionDto }> {
  const r = await new Promise<{ status: number; cookie: string; json: unknown }>((resolve, reject) => {
    const body = JSON.stringify(ADMIN);
    const req = https.request(new URL('/ui/api/login', client.origin), { method: 'POST', headers: { 'content-type': 'application/json' }, ca: client.certPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie']).split(';')[0] ?? '', json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
  expect(r.status).toBe(200);
  return { cookie: r.cookie, session: r.json as SessionDto };
}

const allVms = (f: InventoryFolderDto): InventoryFolderDto['vms'] => [...f.vms, ...f.children.flatMap(allVms)];

beforeAll(async () => {
  vcsim = await startVcsim({
    vms: [
      { name: 'lab-write-on', powerState: 'poweredOn', disks: [{ capacityMiB: 8, seed: 3 }] },
      { name: 'lab-write-off', powerState: 'poweredOff', disks: [{ capacityMiB: 8, seed: 4 }] },
    ],
  });
  const vcenter = { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid };
  const asAdmin = async <T>(fn: (vc: Vim25Client) => Promise<T>): Promise<T> => {
    const vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    try {
      await vc.login(ADMIN.username, ADMIN.password);
      return await fn(vc);
    } finally {
      await vc.logout().catch(() => undefined);
      vc.close();
    }
  };
  state = (vmId) => asAdmin((vc) => powerState(vc, vmId));
  lab = await startVsphereClient({
    vcenter,
    plugins: [],
    labDiskWriter: (vmId, key, w) => vcsim.writeDisk(vmId, key, w),
    labGuestShutdown: (vmId) => asAdmin((vc) => powerOff(vc, vmId)),
    labPowerOn: (vmId) => asAdmin((vc) => powerOn(vc, vmId)),
  });
  plain = await startVsphereClient({ vcenter, plugins: [] });
  const { cookie } = await login(lab);
  const inv = (await call(lab, '/ui/api/inventory', { cookie })).json as InventoryDto;
  const vms = inv.datacenters.flatMap((d) => allVms(d.vmFolder));
  const on = vms.find((v) => v.name === 'lab-write-on')!.id;
  const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
  await vim.login(ADMIN.username, ADMIN.password);
  const diskKey = (await vim.getVirtualMachine(on)).disks[0]!.key;
  await vim.logout();
  ids = { on, off: vms.find((v) => v.name === 'lab-write-off')!.id, diskKey };
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  await plain?.stop();
  await vcsim?.stop();
});

describe('Change disk blocks (lab only)', () => {
  it('writes the asked number of whole 512 KiB blocks of the running VM\'s first disk', async () => {
    const { cookie, session } = await login(lab);
    expect(session.labTools).toBe(true);
    const before = await vcsim.diskSha256(ids.on, ids.diskKey);
    const r = await call(lab, `/ui/api/lab/vms/${ids.on}/disk-writes`, { method: 'POST', cookie, body: { blocks: 3 } });
    expect(r.status).toBe(200);
    const w = r.json as LabDiskWriteDto;
    expect(w).toMatchObject({ disk: 'Hard disk 1', deviceKey: ids.diskKey, blocks: 3, bytes: 3 * BLOCK });
    expect(new Set(w.offsets).size).toBe(3);
    for (const o of w.offsets) {
      expect(o % BLOCK).toBe(0);
      expect(o + BLOCK).toBeLessThanOrEqual(8 * 1024 * 1024);
    }
    expect(await vcsim.diskSha256(ids.on, ids.diskKey)).not.toBe(before);
  });

  it('refuses a number of blocks out of range, a powered-off VM and a caller without a session, saying what to do', async () => {
    const { cookie } = await login(lab);
    for (const blocks of [0, 1.5, 1025, '4']) {
      const r = await call(lab, `/ui/api/lab/vms/${ids.on}/disk-writes`, { method: 'POST', cookie, body: { blocks } });
      expect(r.status).toBe(400);
      expect((r.json as { message: string }).message).toBe('Enter a whole number of blocks from 1 to 1024.');
    }
    const before = await vcsim.diskSha256(ids.off, ids.diskKey).catch(() => undefined);
    const off = await call(lab, `/ui/api/lab/vms/${ids.off}/disk-writes`, { method: 'POST', cookie, body: { blocks: 1 } });
    expect(off.status).toBe(409);
    expect((off.json as { message: string }).message).toMatch(/lab-write-off is powered off.*Power it on first/);
    if (before !== undefined) expect(await vcsim.diskSha256(ids.off, ids.diskKey)).toBe(before);
    const anon = await call(lab, `/ui/api/lab/vms/${ids.on}/disk-writes`, { method: 'POST', body: { blocks: 1 } });
    expect(anon.status).toBe(401);
  });

  it('does not exist in a vSphere Client that is not the lab\'s', async () => {
    const { cookie, session } = await login(plain);
    expect(session.labTools).toBeUndefined();
    const before = await vcsim.diskSha256(ids.on, ids.diskKey);
    const r = await call(plain, `/ui/api/lab/vms/${ids.on}/disk-writes`, { method: 'POST', cookie, body: { blocks: 1 } });
    expect(r.status).toBe(404);
    expect((r.json as { message: string }).message).toMatch(/lab-only tool/);
    expect(await vcsim.diskSha256(ids.on, ids.diskKey)).toBe(before);
  });

  it('shuts the guest of a running VM down, as from inside it, and says so when it is already off', async () => {
    const { cookie } = await login(lab);
    expect(await state(ids.on)).toBe('poweredOn');
    const r = await call(lab, `/ui/api/lab/vms/${ids.on}/guest-shutdown`, { method: 'POST', cookie, body: {} });
    expect(r.status).toBe(200);
    expect(await state(ids.on)).toBe('poweredOff');
    const again = await call(lab, `/ui/api/lab/vms/${ids.on}/guest-shutdown`, { method: 'POST', cookie, body: {} });
    expect(again.status).toBe(409);
    expect((again.json as { message: string }).message).toBe('lab-write-on is already powered off.');
    const plainLogin = await login(plain);
    const elsewhere = await call(plain, `/ui/api/lab/vms/${ids.off}/guest-shutdown`, { method: 'POST', cookie: plainLogin.cookie, body: {} });
    expect(elsewhere.status).toBe(404);
  });

  it('powers the shut-down VM on again, and says so when it is already on', async () => {
    const { cookie } = await login(lab);
    expect(await state(ids.on)).toBe('poweredOff');
    const r = await call(lab, `/ui/api/lab/vms/${ids.on}/power-on`, { method: 'POST', cookie, body: {} });
    expect(r.status).toBe(200);
    expect(await state(ids.on)).toBe('poweredOn');
    const again = await call(lab, `/ui/api/lab/vms/${ids.on}/power-on`, { method: 'POST', cookie, body: {} });
    expect(again.status).toBe(409);
    expect((again.json as { message: string }).message).toBe('lab-write-on is already powered on.');
    const plainLogin = await login(plain);
    const elsewhere = await call(plain, `/ui/api/lab/vms/${ids.off}/power-on`, { method: 'POST', cookie: plainLogin.cookie, body: {} });
    expect(elsewhere.status).toBe(404);
  });
});
