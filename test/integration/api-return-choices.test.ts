// Issue 16, the "Bring back to vCenter" form's choices through the connector's real HTTPS API against the lab: the
// targets each user's own vCenter session sees, whether vCenter lets that user import there, and what the OVA needs.
// A choice offered as usable must pass the server's pre-flight; one the user lacks a privilege on must not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, ExportTask, MigrationTask, ReturnChoices, ReturnPreflight, type ReturnRequestInput } from '../../connector/contract/index.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { allowImports, loginLabUsers, migrationEnvironment, requestMigration, migrationUntil, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// A 512 MiB single-disk Linux VM: its instance's volume, and so the OVA's disk, is 1 GiB (EBS volumes are whole GiB).
const SOURCE = 'rhel-db-01';
const GiB = 1024 ** 3;

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let exp: ExportTask;

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 300_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const v = await probe();
    if (v !== undefined) return v;
  }
  throw new Error(`${what} did not happen within ${ms / 1000} s`);
}

const choicesOf = async (user: ApiUser) => {
  const res = await user.call('GET', `/returns/choices?exportId=${exp.id}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return ReturnChoices.parse(res.body);
};

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  await allowImports(lab);
  const { env, subnetId, groupId } = await migrationEnvironment(admin, 'Return choices');
  expect((await admin.call('PUT', '/settings/instance-export', { bucketName: 'lab', expectedBucketName: null })).status).toBe(200);
  const vim = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
  let vmId: string;
  try {
    await vim.login('administrator@vsphere.local', 'Admin!23');
    vmId = (await vim.listVirtualMachines()).find((v) => v.name === SOURCE)!.id;
    await vim.logout();
  } finally {
    vim.close();
  }
  const mig = await requestMigration(operator, { environmentId: env.id, vmId, subnetId, groupId });
  expect(mig.status, JSON.stringify(mig.body)).toBe(202);
  const migrated: MigrationTask = await migrationUntil(admin, (mig.body as { id: string }).id, (t) => ['completed', 'failed', 'cancelled'].includes(t.state), 720_000);
  expect([migrated.state, migrated.error]).toEqual(['completed', undefined]);
  const started = await admin.call('POST', '/exports', { environmentId: env.id, instanceId: migrated.instanceId, s3Prefix: 'choices/' });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  exp = await poll('the export', async () => {
    const e = ExportTask.parse((await admin.call<{ items: unknown[] }>('GET', '/exports')).body.items.find((x) => (x as ExportTask).id === (started.body as ExportTask).id));
    return e.state === 'active' || e.state === 'cancelling' ? undefined : e;
  });
  expect(exp.state).toBe('completed');
}, 1_200_000);

afterAll(async () => {
  await lab?.stop();
});

describe('GET /returns/choices', { timeout: 120_000 }, () => {
  it("lists the administrator's targets with paths, space and the OVA's networks, and a usable choice passes the pre-flight", async () => {
    const c = await choicesOf(admin);
    expect(c.sourceNetworks).toEqual(['VM Network']);
    expect(c.diskCapacityBytes).toBe(GiB);
    expect(c.suggestedName).toBe(exp.instanceId);
    // VM folders only (not host or datastore folders), as the vSphere Client shows their paths.
    expect(c.folders.map((f) => f.path)).toEqual(expect.arrayContaining(['DC0', 'DC0 / Migration', 'DC0 / Production']));
    expect(c.folders.every((f) => f.mayUse)).toBe(true);
    // The lab's cluster and its hosts (it has no resource pool below the cluster's root pool).
    expect(c.computeResources.filter((r) => r.type === 'HostSystem').map((r) => r.path)).toEqual(['DC0 / DC0_C0', 'DC0 / DC0_C0', 'DC0 / DC0_C0']);
    const cluster = c.computeResources.find((r) => r.name === 'DC0_C0')!;
    expect(cluster).toMatchObject({ type: 'ClusterComputeResource', path: 'DC0', mayUse: true });
    // Root pools ("Resources") stand behind their cluster or host and are not offered twice.
    expect(c.computeResources.some((r) => r.type === 'ResourcePool' && r.name === 'Resources')).toBe(false);
    const ds = c.datastores.find((d) => d.name === 'LocalDS_0')!;
    expect(ds.accessible).toBe(true);
    expect(ds.capacityBytes).toBeGreaterThan(0);
    expect(ds.freeBytes).toBeGreaterThan(0);
    expect(ds.freeBytes).toBeLessThanOrEqual(ds.capacityBytes);
    const names = c.networks.map((n) => n.name);
    expect(names).toEqual(expect.arrayContaining(['VM Network', 'DC0_DVPG0']));
    // The switch's uplink port group (DVS0-DVUplinks-…) carries no VM traffic.
    expect(names.some((n) => /uplink/i.test(n))).toBe(false);
    expect(c.networks.find((n) => n.name === 'DC0_DVPG0')!.type).toBe('DistributedVirtualPortgroup');

    const body: ReturnRequestInput = {
      exportId: exp.id,
      name: 'choices-back-01',
      folderId: c.folders.find((f) => f.path === 'DC0 / Production')!.id,
      computeResource: { type: cluster.type, id: cluster.id },
      datastoreId: ds.id,
      networkMappings: c.sourceNetworks.map((n) => {
        const net = c.networks.find((x) => x.name === 'DC0_DVPG0')!;
        return { sourceNetwork: n, network: { type: net.type, id: net.id } };
      }),
    };
    const pre = await admin.call('POST', '/returns/preflight', body);
    expect(pre.status, JSON.stringify(pre.body)).toBe(200);
    expect(ReturnPreflight.parse(pre.body).checks).toEqual([]);
  });

  it("marks what the user's vCenter role does not allow, and the pre-flight refuses the same", async () => {
    // The operator: read-only in vCenter but for exporting VMs in Migration; General in the environment.
    const c = await choicesOf(operator);
    expect(c.folders.length).toBeGreaterThan(0);
    expect(c.folders.some((f) => f.mayUse)).toBe(false);
    expect(c.datastores.find((d) => d.name === 'LocalDS_0')!.mayUse).toBe(false);
    expect(c.networks.some((n) => n.mayUse)).toBe(false);
    const cluster = c.computeResources.find((r) => r.name === 'DC0_C0')!;
    expect(cluster.mayUse).toBe(false);
    const net = c.networks[0]!;
    const pre = await operator.call('POST', '/returns/preflight', {
      exportId: exp.id,
      name: 'choices-back-02',
      folderId: c.folders[0]!.id,
      computeResource: { type: cluster.type, id: cluster.id },
      datastoreId: c.datastores[0]!.id,
      networkMappings: [{ sourceNetwork: 'VM Network', network: { type: net.type, id: net.id } }],
    });
    const checks = ReturnPreflight.parse(pre.body).checks;
    expect(new Set(checks.map((x) => x.privilege))).toEqual(new Set(['VApp.Import', 'Datastore.AllocateSpace', 'Network.Assign']));
  });

  it('refuses an unknown export, a malformed id and a missing session with a clear error', async () => {
    const unknown = await readonly.call('GET', '/returns/choices?exportId=exp-00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(ApiErrorBody.parse(unknown.body).code).toBe('NOT_FOUND');
    const bad = await admin.call('GET', '/returns/choices?exportId=web-01');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('Not an export id');
    const anonymous = await lab.anonymous().call('GET', `/returns/choices?exportId=${exp.id}`);
    expect(anonymous.status).toBe(401);
  });
});
