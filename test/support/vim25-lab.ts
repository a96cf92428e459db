// The lab vCenter (lab/vcsim, the inventory of lab/inventory.json) with the connector's vim25 client logged in as the
// administrator, the operator and the read-only user, for test/integration/vcsim-sessions.test.ts and
// vcsim-export.test.ts. `useVim25Lab` registers the file's beforeAll/afterAll; the handles below are live bindings,
// set once the lab runs (vitest loads this module afresh for each test file).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { Vim25Client, VimFault, type MoRef, type VmInfo } from '../../connector/vsphere/vim25.ts';

interface InventoryVm {
  name: string;
  folder: string;
  guestId: string;
  guestFullName: string;
  powerState: string;
  numCpu: number;
  memoryMB: number;
  disks: { capacityMiB: number; seed: number }[];
}
interface Inventory {
  datacenter: string;
  folders: string[];
  users: { name: string; password: string }[];
  vms: InventoryVm[];
}

export const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
export const MiB = 1024 * 1024;

function user(prefix: string): { name: string; password: string } {
  const u = inventory.users.find((x) => x.name.startsWith(prefix));
  if (!u) throw new Error(`lab/inventory.json has no ${prefix} user`);
  return u;
}
export const ADMIN = user('administrator@');
export const OPERATOR = user('operator@');
export const READONLY = user('readonly@');

export function invVm(name: string): InventoryVm {
  const v = inventory.vms.find((x) => x.name === name);
  if (!v) throw new Error(`lab/inventory.json has no VM ${name}`);
  return v;
}

/** Resolves with the rejection of `p` (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

export async function expectFault(p: Promise<unknown>, faultType: string): Promise<VimFault> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(VimFault);
  expect((err as VimFault).faultType).toBe(faultType);
  return err as VimFault;
}

export let vc: VcsimHandle;
const clients: Vim25Client[] = [];
export let admin: Vim25Client;
export let operator: Vim25Client;
export let readonly: Vim25Client;
export let vmsByName: Map<string, VmInfo>;

export async function connect(opts: { ca?: string; thumbprint?: string } = { ca: '' }): Promise<Vim25Client> {
  const c = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ...(opts.ca === '' ? { ca: vc.certPem } : opts) });
  clients.push(c);
  return c;
}

async function loggedIn(u: { name: string; password: string }): Promise<Vim25Client> {
  const c = await connect();
  await c.login(u.name, u.password);
  return c;
}

export function vmId(name: string): string {
  const v = vmsByName.get(name);
  if (!v) throw new Error(`VM ${name} not listed by the lab vCenter`);
  return v.id;
}

export const vmRef = (name: string): MoRef => ({ type: 'VirtualMachine', value: vmId(name) });

/** Starts the lab vCenter and logs the three users in before the file's tests; logs out and stops after them. */
export function useVim25Lab(): void {
  beforeAll(async () => {
    vc = await startVcsim();
    admin = await loggedIn(ADMIN);
    operator = await loggedIn(OPERATOR);
    readonly = await loggedIn(READONLY);
    vmsByName = new Map((await admin.listVirtualMachines()).map((v) => [v.name, v]));
  });

  afterAll(async () => {
    for (const c of clients) {
      await c.logout().catch(() => undefined);
      c.close();
    }
    await vc?.stop();
  });
}
