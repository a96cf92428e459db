// The lab vCenter (lab/vcsim) with a running VM to track and a VM to export, the connector's vim25 client logged in as
// the administrator, and the raw vSphere calls and /folder reads the tests make, for
// test/integration/vcsim-cbt.test.ts and vcsim-datastore.test.ts. `useCbtLab` registers the file's beforeAll/afterAll;
// the handles below are live bindings, set once the lab runs (vitest loads this module afresh for each test file).
import { createHash } from 'node:crypto';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { Vim25Client, type MoRef } from '../../connector/vsphere/vim25.ts';
import { arr, child, moRefXml, num, str, text, xsiType } from '../../connector/vsphere/soap.ts';

interface Inventory {
  datacenter: string;
  users: { name: string; password: string }[];
}
const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
const user = (prefix: string) => inventory.users.find((u) => u.name.startsWith(prefix))!;
export const ADMIN = user('administrator@');
export const READONLY = user('readonly@');
export const OPERATOR = user('operator@');
export const MiB = 1024 * 1024;

// A running VM with a disk bigger than one QueryChangedDiskAreas page (1 GiB) and a small one, and a VM to export.
export const BIG = { capacityMiB: 1280, seed: 3 };
export const SMALL = { capacityMiB: 64, seed: 5 };
export const COLD = { capacityMiB: 32, seed: 6 };

export let vc: VcsimHandle;
export let client: Vim25Client;
export let vm: MoRef;
export let coldVm: MoRef;
export let bigKey: number;
export let smallKey: number;

interface Disk {
  key: number;
  fileName: string;
  changeId?: string;
}

/** The VirtualDisk devices of a VM or snapshot `config.hardware.device`. */
export async function disksOf(obj: MoRef): Promise<Disk[]> {
  const r = await client.invoke(
    'RetrievePropertiesEx',
    { type: 'PropertyCollector', value: 'propertyCollector' },
    `<specSet><propSet><type>${obj.type}</type><all>false</all><pathSet>config.hardware.device</pathSet></propSet>` +
      `<objectSet>${moRefXml('obj', obj)}<skip>false</skip></objectSet></specSet><options></options>`,
  );
  const val = child(child(child(r, 'objects'), 'propSet'), 'val');
  return arr(child(val, 'VirtualDevice'))
    .filter((d) => xsiType(d) === 'VirtualDisk')
    .map((d) => ({ key: num(d, 'key')!, fileName: str(child(d, 'backing'), 'fileName')!, changeId: str(child(d, 'backing'), 'changeId') }));
}

export async function task(method: string, obj: MoRef, body = ''): Promise<unknown> {
  const t = await client.invoke(method, obj, body);
  return client.waitForTask({ type: 'Task', value: text(t)! });
}

export async function snapshotDisk(name: string, key: number): Promise<{ snap: MoRef; disk: Disk }> {
  const snap = await client.createSnapshot(vm.value, name);
  const disk = (await disksOf(snap)).find((d) => d.key === key)!;
  return { snap, disk };
}

/** GET /folder/<dir>/<name>-flat.vmdk for a disk's "[ds] dir/name.vmdk", optionally a byte range (cookie: `name=value`). */
export function folderGet(
  fileName: string,
  opts: { range?: [number, number]; cookie?: string | null; origin?: string; ca?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; sha256: string }> {
  const m = /^\[([^\]]+)\] (.+)\.vmdk$/.exec(fileName);
  if (!m) throw new Error(`not a datastore path: ${fileName}`);
  const url = new URL(`/folder/${m[2]}-flat.vmdk`, opts.origin ?? vc.origin);
  url.searchParams.set('dcPath', inventory.datacenter);
  url.searchParams.set('dsName', m[1]!);
  const cookie = opts.cookie === undefined ? client.sessionCookie : opts.cookie;
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: opts.ca ?? vc.certPem,
        agent: false,
        headers: { ...(cookie ? { cookie } : {}), ...(opts.range ? { range: `bytes=${opts.range[0]}-${opts.range[1]}` } : {}) },
      },
      (res) => {
        const h = createHash('sha256');
        const parts: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          h.update(c);
          if (kept < 8 * MiB) {
            parts.push(c);
            kept += c.length;
          }
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), sha256: h.digest('hex') }));
      },
    );
    req.on('error', reject);
  });
}

/** Starts the lab vCenter with the two VMs and logs the administrator in before the file's tests; stops after them. */
export function useCbtLab(): void {
  beforeAll(async () => {
    vc = await startVcsim({
      vms: [
        { name: 'cbt-db-01', powerState: 'poweredOn', disks: [BIG, SMALL] },
        { name: 'cbt-cold-01', powerState: 'poweredOn', disks: [COLD] },
      ],
    });
    client = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    await client.login(ADMIN.name, ADMIN.password);
    const vms = await client.listVirtualMachines();
    vm = { type: 'VirtualMachine', value: vms.find((v) => v.name === 'cbt-db-01')!.id };
    coldVm = { type: 'VirtualMachine', value: vms.find((v) => v.name === 'cbt-cold-01')!.id };
    const disks = await disksOf(vm);
    bigKey = disks[0]!.key;
    smallKey = disks[1]!.key;
  }, 120_000);

  afterAll(async () => {
    if (client) {
      await client.logout().catch(() => undefined);
      client.close();
    }
    await vc?.stop();
  });
}
