import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiErrorBody,
  AuditPage,
  DynamicItemsResponse,
  Environment,
  EnvironmentList,
  EnvironmentPermissions,
  InstanceTypeList,
  Me,
  RegionList,
  SecurityGroupList,
  SubnetList,
  VpcList,
} from '../../connector/contract/index.ts';
import { startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// Environments, permissions, lookups, audit and the dynamic menu item, through the real connector against
// the lab vCenter (vcsim behind the vSphere Client stand-in) and the lab EC2/IAM emulator.
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;

const errorOf = (body: unknown) => ApiErrorBody.parse(body);

beforeAll(async () => {
  lab = await startApiLab();
  [admin, operator, readonly] = await Promise.all([
    lab.login('administrator@vsphere.local'),
    lab.login('operator@vsphere.local'),
    lab.login('readonly@vsphere.local'),
  ]);
});
afterAll(async () => lab?.stop());

interface RegionAws {
  vpcId: string;
  subnets: SubnetList['subnets'];
  groups: SecurityGroupList['securityGroups'];
}
async function regionAws(region: string): Promise<RegionAws> {
  const vpcs = VpcList.parse((await admin.call('GET', `/regions/${region}/vpcs`)).body);
  const vpcId = vpcs.vpcs[0]!.id;
  const subnets = SubnetList.parse((await admin.call('GET', `/regions/${region}/subnets?vpcId=${vpcId}`)).body).subnets;
  const groups = SecurityGroupList.parse((await admin.call('GET', `/regions/${region}/security-groups?vpcId=${vpcId}`)).body).securityGroups;
  return { vpcId, subnets, groups };
}
const byName = <T extends { name?: string }>(list: T[], name: string): T => {
  const found = list.find((x) => x.name === name);
  if (!found) throw new Error(`no ${name} in ${JSON.stringify(list)}`);
  return found;
};

describe('identity', () => {
  it('knows the caller and whether they administer the portal', async () => {
    expect(Me.parse((await admin.call('GET', '/me')).body)).toEqual({ userName: 'administrator@vsphere.local', isAdministrator: true });
    expect(Me.parse((await operator.call('GET', '/me')).body)).toEqual({ userName: 'operator@vsphere.local', isAdministrator: false });
  });

  it('refuses callers without a valid vSphere Client session', async () => {
    for (const user of [lab.anonymous(), lab.anonymous('not-a-session-token')]) {
      const res = await user.call('GET', '/environments');
      expect(res.status).toBe(401);
      expect(errorOf(res.body).code).toBe('NOT_AUTHENTICATED');
    }
  });
});

describe('regions and administrator lookups', () => {
  it('lists the enabled regions', async () => {
    const res = await operator.call('GET', '/regions');
    expect(res.status).toBe(200);
    expect(RegionList.parse(res.body).regions).toEqual([
      { name: 'us-east-1', displayName: 'US East (N. Virginia)', isDefault: true },
      { name: 'us-west-2', displayName: 'US West (Oregon)', isDefault: false },
      { name: 'eu-west-1', displayName: 'Europe (Ireland)', isDefault: false },
    ]);
  });

  it('shows administrators what AWS has in a region', async () => {
    const { subnets, groups } = await regionAws('us-east-1');
    expect(subnets.map((s) => s.name).sort()).toEqual(['lab-app-a', 'lab-app-b', 'lab-nearly-full-c']);
    expect(byName(subnets, 'lab-app-a')).toMatchObject({ cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 });
    expect(byName(subnets, 'lab-nearly-full-c').availableIpAddressCount).toBe(3);
    expect(groups.map((g) => g.name).sort()).toEqual(['db', 'default', 'web']);
    const east = InstanceTypeList.parse((await admin.call('GET', '/regions/us-east-1/instance-types')).body).instanceTypes.map((t) => t.name);
    const eu = InstanceTypeList.parse((await admin.call('GET', '/regions/eu-west-1/instance-types')).body).instanceTypes.map((t) => t.name);
    expect(east).toContain('m7i.large');
    expect(eu).not.toContain('m7i.large');
    expect(eu).toContain('m5.large');
  });

  it('keeps those lookups for administrators', async () => {
    const res = await operator.call('GET', '/regions/us-east-1/vpcs');
    expect(res.status).toBe(403);
    expect(errorOf(res.body).code).toBe('ADMIN_REQUIRED');
    const off = await admin.call('GET', '/regions/ap-south-1/vpcs');
    expect(off.status).toBe(404);
  });
});

describe('environments and permissions', () => {
  let east: RegionAws;
  let prod: Environment;

  beforeAll(async () => {
    east = await regionAws('us-east-1');
  });

  const input = (over: Record<string, unknown> = {}) => ({
    name: 'Production',
    description: 'Migrated production workloads',
    region: 'us-east-1',
    vpcId: east.vpcId,
    subnetIds: [byName(east.subnets, 'lab-app-a').id, byName(east.subnets, 'lab-nearly-full-c').id],
    securityGroupIds: [byName(east.groups, 'web').id, byName(east.groups, 'db').id],
    instanceTypes: ['t3.micro', 'm5.large'],
    ...over,
  });

  it('starts with the default environment', async () => {
    const list = EnvironmentList.parse((await admin.call('GET', '/environments')).body).environments;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'env-default', isDefault: true, region: 'us-east-1', vpcId: null, myRole: 'Owner' });
  });

  it('lets administrators create environments that match AWS', async () => {
    const res = await admin.call('POST', '/environments', input());
    expect(res.status).toBe(201);
    prod = Environment.parse(res.body);
    expect(prod).toMatchObject({ name: 'Production', region: 'us-east-1', isDefault: false, myRole: 'Owner', instanceTypes: ['t3.micro', 'm5.large'] });

    const taken = await admin.call('POST', '/environments', input({ name: 'PRODUCTION' }));
    expect(taken.status).toBe(409);
    expect(errorOf(taken.body).code).toBe('ENVIRONMENT_NAME_TAKEN');
  });

  it('refuses environments that do not match AWS, naming what is wrong', async () => {
    const west = await regionAws('us-west-2');
    const cases: [Record<string, unknown>, RegExp, Record<string, unknown>?][] = [
      [{ name: 'Wrong subnet', subnetIds: [west.subnets[0]!.id] }, /subnets not in vpc-/, { subnetIds: [west.subnets[0]!.id] }],
      [{ name: 'Wrong group', securityGroupIds: [west.groups[0]!.id] }, /security groups not in vpc-/],
      [{ name: 'No such VPC', vpcId: 'vpc-00000000000000000' }, /does not exist in us-east-1/],
      [{ name: 'Off region', region: 'ap-south-1' }, /not enabled on this connector/],
      [
        { name: 'No m7i in Ireland', region: 'eu-west-1', vpcId: (await regionAws('eu-west-1')).vpcId, subnetIds: [(await regionAws('eu-west-1')).subnets[0]!.id], securityGroupIds: [(await regionAws('eu-west-1')).groups[0]!.id], instanceTypes: ['m7i.large'] },
        /instance types not offered in eu-west-1: m7i\.large/,
      ],
    ];
    for (const [over, message, details] of cases) {
      const res = await admin.call('POST', '/environments', input(over));
      expect(res.status, JSON.stringify(over)).toBe(422);
      const body = errorOf(res.body);
      expect(body.code).toBe('ENVIRONMENT_INVALID');
      expect(body.message).toMatch(message);
      if (details) expect(body.details).toMatchObject(details);
    }
  });

  it('keeps environment management for administrators and audits the refusal', async () => {
    for (const [method, path, body] of [
      ['POST', '/environments', input({ name: 'Mine' })],
      ['PUT', `/environments/${prod.id}`, input()],
      ['DELETE', `/environments/${prod.id}`, undefined],
      ['GET', `/environments/${prod.id}/permissions`, undefined],
      ['PUT', `/environments/${prod.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'Owner' }] }],
    ] as const) {
      const res = await operator.call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorOf(res.body).code).toBe('ADMIN_REQUIRED');
      expect(errorOf(res.body).message).toMatch(/Only administrators/);
    }
  });

  it('shows everyone only the environments they hold a role in', async () => {
    expect(EnvironmentList.parse((await operator.call('GET', '/environments')).body).environments).toEqual([]);
    const denied = await operator.call('GET', `/environments/${prod.id}`);
    expect(denied.status).toBe(403);
    expect(errorOf(denied.body)).toMatchObject({ code: 'NO_ENVIRONMENT_PERMISSION', message: expect.stringMatching(/Ask your administrator to grant you permission/) });

    const put = await admin.call('PUT', `/environments/${prod.id}/permissions`, {
      permissions: [
        { userName: 'operator@vsphere.local', role: 'General' },
        { userName: 'VSPHERE.LOCAL\\readonly', role: 'ReadOnly' },
      ],
    });
    expect(put.status).toBe(200);
    expect(EnvironmentPermissions.parse(put.body).permissions).toEqual([
      { userName: 'operator@vsphere.local', role: 'General' },
      { userName: 'readonly@vsphere.local', role: 'ReadOnly' },
    ]);
    expect(EnvironmentPermissions.parse((await admin.call('GET', `/environments/${prod.id}/permissions`)).body)).toEqual(EnvironmentPermissions.parse(put.body));

    const mine = EnvironmentList.parse((await operator.call('GET', '/environments')).body).environments;
    expect(mine.map((e) => [e.name, e.myRole])).toEqual([['Production', 'General']]);
    expect(Environment.parse((await readonly.call('GET', `/environments/${prod.id}`)).body).myRole).toBe('ReadOnly');

    const twice = await admin.call('PUT', `/environments/${prod.id}/permissions`, {
      permissions: [
        { userName: 'operator@vsphere.local', role: 'General' },
        { userName: 'VSPHERE.LOCAL\\operator', role: 'Owner' },
      ],
    });
    expect(twice.status).toBe(400);
    expect(errorOf(twice.body).code).toBe('VALIDATION_FAILED');
  });

  it('looks up the environment’s own subnets, security groups and instance types, live', async () => {
    const subnets = SubnetList.parse((await operator.call('GET', `/environments/${prod.id}/subnets`)).body).subnets;
    expect(subnets.map((s) => [s.name, s.cidrBlock, s.availableIpAddressCount])).toEqual([
      ['lab-app-a', '10.0.1.0/24', 251],
      ['lab-nearly-full-c', '10.0.3.0/24', 3],
    ]);
    const groups = SecurityGroupList.parse((await readonly.call('GET', `/environments/${prod.id}/security-groups`)).body).securityGroups;
    expect(groups.map((g) => g.name)).toEqual(['web', 'db']);
    const types = InstanceTypeList.parse((await operator.call('GET', `/environments/${prod.id}/instance-types`)).body).instanceTypes;
    expect(types.map((t) => t.name)).toEqual(['m5.large', 't3.micro']);

    const notMine = await operator.call('GET', '/environments/env-default/subnets');
    expect(notMine.status).toBe(403);
    const noVpc = await admin.call('GET', '/environments/env-default/subnets');
    expect(noVpc.status).toBe(409);
    expect(errorOf(noVpc.body).message).toMatch(/has no VPC yet/);
  });

  it('offers only types the region offers when the environment allows every type', async () => {
    const eu = await regionAws('eu-west-1');
    const res = await admin.call('POST', '/environments', {
      name: 'Ireland',
      region: 'eu-west-1',
      vpcId: eu.vpcId,
      subnetIds: [eu.subnets[0]!.id],
      securityGroupIds: [eu.groups[0]!.id],
    });
    expect(res.status).toBe(201);
    const ireland = Environment.parse(res.body);
    const types = InstanceTypeList.parse((await admin.call('GET', `/environments/${ireland.id}/instance-types`)).body).instanceTypes.map((t) => t.name);
    expect(types).toContain('m5.large');
    expect(types).not.toContain('m7i.large');
    expect(types.indexOf('m5.large')).toBeLessThan(types.indexOf('m5.xlarge'));
    expect((await admin.call('DELETE', `/environments/${ireland.id}`)).status).toBe(204);
  });

  it('lets administrators change, but not delete, the default environment', async () => {
    const res = await admin.call('PUT', '/environments/env-default', input({ name: 'Default', instanceTypes: [] }));
    expect(res.status).toBe(200);
    expect(Environment.parse(res.body)).toMatchObject({ isDefault: true, vpcId: east.vpcId });
    const del = await admin.call('DELETE', '/environments/env-default');
    expect(del.status).toBe(409);
    expect(errorOf(del.body).code).toBe('DEFAULT_ENVIRONMENT_PROTECTED');
  });

  it('updates and deletes environments, permissions included', async () => {
    const res = await admin.call('PUT', `/environments/${prod.id}`, input({ name: 'Production EC2', instanceTypes: ['m5.large'] }));
    expect(Environment.parse(res.body)).toMatchObject({ name: 'Production EC2', instanceTypes: ['m5.large'] });
    const scratch = Environment.parse((await admin.call('POST', '/environments', input({ name: 'Scratch' }))).body);
    await admin.call('PUT', `/environments/${scratch.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'Owner' }] });
    expect(EnvironmentList.parse((await operator.call('GET', '/environments')).body).environments.map((e) => e.name)).toEqual(['Production EC2', 'Scratch']);
    expect((await admin.call('DELETE', `/environments/${scratch.id}`)).status).toBe(204);
    expect((await admin.call('GET', `/environments/${scratch.id}`)).status).toBe(404);
    expect(errorOf((await admin.call('DELETE', `/environments/${scratch.id}`)).body).code).toBe('ENVIRONMENT_NOT_FOUND');
    expect(EnvironmentList.parse((await operator.call('GET', '/environments')).body).environments.map((e) => e.name)).toEqual(['Production EC2']);
  });

  it('audits every change and refusal, for administrators only', async () => {
    const denied = await operator.call('GET', '/audit');
    expect(denied.status).toBe(403);
    const page = AuditPage.parse((await admin.call('GET', '/audit?limit=500')).body);
    const actions = page.entries.map((e) => `${e.action}:${e.outcome}`);
    expect(actions).toEqual(
      expect.arrayContaining(['environment.create:changed', 'environment.update:changed', 'environment.delete:changed', 'environment.permissions:changed', 'admin.access:denied']),
    );
    const change = page.entries.find((e) => e.action === 'environment.permissions' && e.environmentId === prod.id);
    expect(change).toMatchObject({ actor: 'administrator@vsphere.local', message: expect.stringMatching(/operator@vsphere\.local NoAccess → General/) });
    const refusal = page.entries.find((e) => e.action === 'admin.access');
    expect(refusal).toMatchObject({ actor: 'operator@vsphere.local', code: 'ADMIN_REQUIRED' });

    const first = AuditPage.parse((await admin.call('GET', '/audit?limit=2')).body);
    expect(first.entries).toHaveLength(2);
    const second = AuditPage.parse((await admin.call('GET', `/audit?limit=2&before=${first.nextBefore}`)).body);
    expect(second.entries[0]!.id).toBeLessThan(first.entries[1]!.id);
    const mineOnly = AuditPage.parse((await admin.call('GET', '/audit?actor=VSPHERE.LOCAL%5Coperator')).body);
    expect(mineOnly.entries.length).toBeGreaterThan(0);
    expect(mineOnly.entries.every((e) => e.actor === 'operator@vsphere.local')).toBe(true);
  });
});

describe('the VM action’s dynamic item', () => {
  async function visible(user: ApiUser, vmName: string): Promise<boolean> {
    const id = (await lab.vmIds()).get(vmName)!;
    const res = await user.call('POST', '/dynamic-items/vm/actions', { apiVersion: '1.0.0', objectIds: [lab.contextId(id)], locale: 'en-US' });
    expect(res.status).toBe(200);
    const item = DynamicItemsResponse.parse(res.body).dynamicItems.find((i) => i.id === 'migrateVmToEc2');
    return item?.visible ?? false;
  }

  it('is enabled on every VM the user sees, whatever their rights: the modal says what is missing (issue 12 item 15)', async () => {
    // Before, a user without VApp.Export or an environment role got a disabled item with no reason.
    expect(await visible(readonly, 'ubuntu-web-01')).toBe(true);
    expect(await visible(operator, 'win2019-app-01')).toBe(true);
    expect(await visible(admin, 'win2019-app-01')).toBe(true);
    const hostId = lab.contextId('host-21').replace('VirtualMachine', 'HostSystem');
    const res = await readonly.call('POST', '/dynamic-items/vm/actions', { apiVersion: '1.0.0', objectIds: [hostId], locale: 'en-US' });
    expect(DynamicItemsResponse.parse(res.body).dynamicItems[0]!.visible).toBe(false);
  });

  it('offers Migrate VMs to EC2 for one or several VMs, and the single-VM form for one VM only (issue 14)', async () => {
    const vms = await lab.vmIds();
    const items = async (names: string[]) => {
      const res = await operator.call('POST', '/dynamic-items/vm/actions', { apiVersion: '1.0.0', objectIds: names.map((n) => lab.contextId(vms.get(n)!)), locale: 'en-US' });
      expect(res.status).toBe(200);
      return Object.fromEntries(DynamicItemsResponse.parse(res.body).dynamicItems.map((i) => [i.id, i.visible]));
    };
    expect(await items(['ubuntu-web-01'])).toEqual({ migrateVmToEc2: true, migrateVmsToEc2: true });
    expect(await items(['ubuntu-web-01', 'win2019-app-01'])).toEqual({ migrateVmToEc2: false, migrateVmsToEc2: true });
  });
});
