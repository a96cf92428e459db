import { DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, Environment, PreflightResult, VmDetail, type PreflightCheck } from '../../connector/contract/index.ts';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { MULTI_DISK_MESSAGE } from '../../connector/preflight/rules.ts';
import { loginLabUsers, regionNetwork, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

// Pre-flight checks on the seeded lab VMs (lab/inventory.json), both ends: the lab vCenter and the lab AWS.
let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;
let vms: Map<string, string>;
let env: Environment;
let narrow: Environment;
let appA: string;
let full: string;
let otherSubnet: string;

const GiB = 1024 ** 3;

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
  vms = await lab.vmIds();
  const { vpcId, subnets, groups } = await regionNetwork(admin);
  appA = subnets.find((s) => s.name === 'lab-app-a')!.id;
  full = subnets.find((s) => s.name === 'lab-nearly-full-c')!.id;
  otherSubnet = subnets.find((s) => s.name === 'lab-app-b')!.id;
  const web = groups.find((g) => g.name === 'web')!.id;
  const create = async (name: string, instanceTypes: string[]) =>
    Environment.parse((await admin.call('POST', '/environments', { name, region: 'us-east-1', vpcId, subnetIds: [appA, full], securityGroupIds: [web], instanceTypes })).body);
  env = await create('Lab', []);
  narrow = await create('Narrow', ['m5.large']);
  for (const e of [env, narrow]) {
    await admin.call('PUT', `/environments/${e.id}/permissions`, {
      permissions: [
        { userName: 'operator@vsphere.local', role: 'General' },
        { userName: 'readonly@vsphere.local', role: 'ReadOnly' },
      ],
    });
  }
});
afterAll(async () => lab?.stop());

const id = (name: string) => {
  const v = vms.get(name);
  if (!v) throw new Error(`no VM ${name}`);
  return v;
};

async function preflight(user: ApiUser, vmName: string, query: Record<string, string> = {}, environment = env): Promise<PreflightResult> {
  const qs = new URLSearchParams({ environmentId: environment.id, ...query });
  const res = await user.call('GET', `/vms/${id(vmName)}/preflight?${qs.toString()}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return PreflightResult.parse(res.body);
}
const blockers = (r: PreflightResult) => r.checks.filter((c) => c.severity === 'blocker').map((c) => c.code);
const find = (r: PreflightResult, code: PreflightCheck['code']) => r.checks.find((c) => c.code === code);

async function setImportRolePolicy(present: boolean): Promise<void> {
  const iam = lab.iamClient();
  if (present) {
    await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  } else {
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME })).catch(() => undefined);
  }
}

describe('GET /vms/{vmId}', () => {
  it('describes the VM as the form needs it', async () => {
    const res = await operator.call('GET', `/vms/${id('warehouse-01')}`);
    expect(res.status).toBe(200);
    const vm = VmDetail.parse(res.body);
    expect(vm).toMatchObject({ name: 'warehouse-01', guestId: 'centos7_64Guest', guestFullName: 'CentOS 7 (64-bit)', powerState: 'poweredOff', numCpu: 8, memoryMB: 32768 });
    expect(vm.disks.map((d) => d.capacityBytes)).toEqual([64 * 1024 ** 2, 300 * GiB]);
    expect(vm.nics).toHaveLength(1);
    const missing = await operator.call('GET', '/vms/vm-999999');
    expect(missing.status).toBe(404);
    expect(ApiErrorBody.parse(missing.body).code).toBe('VM_NOT_FOUND');
  });
});

describe('pre-flight with the lab’s vmimport role as seeded (no permissions policy)', () => {
  beforeAll(async () => setImportRolePolicy(false));

  it('blocks a single-disk VM on the missing policy, naming the missing permissions', async () => {
    const r = await preflight(operator, 'ubuntu-web-01');
    expect(r.ready).toBe(false);
    expect(blockers(r)).toEqual(['VMIMPORT_POLICY_MISSING']);
    expect(find(r, 'VMIMPORT_POLICY_MISSING')).toMatchObject({
      message: expect.stringMatching(/s3:GetObject/),
      fix: expect.stringMatching(/VMImportExportRoleForAWSConnector/),
    });
  });

  it('blocks the multi-disk VM with the seed’s troubleshooting error and its fix', async () => {
    const r = await preflight(operator, 'app-multidisk-01');
    expect(blockers(r)).toEqual(['MULTI_DISK_PERMISSION_MISSING']);
    expect(find(r, 'MULTI_DISK_PERMISSION_MISSING')).toMatchObject({ message: MULTI_DISK_MESSAGE, fix: expect.stringMatching(/attach the VMImportExportRoleForAWSConnector policy/) });
  });
});

describe('pre-flight with a complete vmimport role', () => {
  beforeAll(async () => setImportRolePolicy(true));

  it('passes a supported, powered-off, single-disk VM', async () => {
    const r = await preflight(operator, 'ubuntu-web-01', { subnetId: appA, instanceType: 'm5.large', platform: 'Linux' });
    // The only note: Linux is imported with its own licence, whatever the environment's default (issue 18).
    expect(r).toMatchObject({ ready: true, suggestedPlatform: 'Linux' });
    expect(r.checks.map((c) => [c.code, c.severity])).toEqual([['LICENSE_TYPE_ADJUSTED', 'info']]);
  });

  it('passes the multi-disk VM once the role is complete', async () => {
    expect((await preflight(operator, 'app-multidisk-01')).ready).toBe(true);
  });

  it('blocks the unsupported guest OS', async () => {
    const r = await preflight(operator, 'bsd-firewall-01');
    expect(blockers(r)).toEqual(['GUEST_OS_UNSUPPORTED']);
    expect(find(r, 'GUEST_OS_UNSUPPORTED')?.message).toMatch(/FreeBSD 13 \(64-bit\)/);
  });

  it('blocks the disk whose compressed size may exceed 215 GB', async () => {
    const r = await preflight(operator, 'warehouse-01');
    expect(blockers(r)).toEqual(['DISK_TOO_LARGE']);
    expect(find(r, 'DISK_TOO_LARGE')).toMatchObject({ message: expect.stringMatching(/300 GB; its compressed size may be greater than 215 GB/), details: { capacityBytes: 300 * GiB } });
  });

  it('warns that a powered-on VM is exported from a snapshot (the operator may snapshot it)', async () => {
    const r = await preflight(operator, 'rhel-db-01');
    expect(r.ready).toBe(true);
    expect(r.checks.map((c) => [c.code, c.severity])).toEqual([
      ['POWERED_ON', 'warning'],
      ['LICENSE_TYPE_ADJUSTED', 'info'],
    ]);
  });

  it('blocks bad private IP addresses: outside the subnet, reserved, in use', async () => {
    const taken = '10.0.1.50';
    await lab.runInstanceAt('us-east-1', appA, taken);
    const cases: [string, PreflightCheck['code'] | undefined][] = [
      ['10.0.9.9', 'PRIVATE_IP_OUTSIDE_SUBNET'],
      ['10.0.1.0', 'PRIVATE_IP_RESERVED'],
      ['10.0.1.3', 'PRIVATE_IP_RESERVED'],
      ['10.0.1.255', 'PRIVATE_IP_RESERVED'],
      [taken, 'PRIVATE_IP_IN_USE'],
      ['10.0.1.51', undefined],
    ];
    for (const [ip, code] of cases) {
      const r = await preflight(operator, 'ubuntu-web-01', { subnetId: appA, privateIpAddress: ip });
      expect(blockers(r), ip).toEqual(code ? [code] : []);
    }
    const outside = await preflight(operator, 'ubuntu-web-01', { subnetId: appA, privateIpAddress: '10.0.9.9' });
    expect(find(outside, 'PRIVATE_IP_OUTSIDE_SUBNET')?.fix).toMatch(/10\.0\.1\.4 to 10\.0\.1\.254, or leave the field empty and we'll select one for you/);
  });

  it('blocks choices the environment does not offer', async () => {
    expect(blockers(await preflight(operator, 'ubuntu-web-01', { subnetId: otherSubnet }))).toEqual(['SUBNET_NOT_IN_ENVIRONMENT']);
    expect(blockers(await preflight(operator, 'ubuntu-web-01', { instanceType: 'x9.large' }))).toEqual(['INSTANCE_TYPE_NOT_OFFERED']);
    expect(blockers(await preflight(operator, 'ubuntu-web-01', { instanceType: 't3.micro' }, narrow))).toEqual(['INSTANCE_TYPE_NOT_ALLOWED']);
    const mismatch = await preflight(operator, 'ubuntu-web-01', { platform: 'Windows' });
    expect(mismatch.checks.map((c) => [c.code, c.severity])).toEqual([['PLATFORM_MISMATCH', 'warning']]);
  });

  it('reports missing vCenter privileges and environment role as blockers', async () => {
    const prod = await preflight(operator, 'win2019-app-01');
    expect(blockers(prod)).toEqual(['VM_EXPORT_DENIED']);
    const running = await preflight(readonly, 'debian-tools-01');
    expect(blockers(running).sort()).toEqual(['NO_MIGRATE_PERMISSION', 'SNAPSHOT_PRIVILEGE_MISSING', 'VM_EXPORT_DENIED']);
    expect(find(running, 'NO_MIGRATE_PERMISSION')?.fix).toMatch(/Ask your administrator to grant you permission/);
  });

  it('refuses users without any role in the environment and environments without a VPC', async () => {
    await admin.call('PUT', `/environments/${narrow.id}/permissions`, { permissions: [] });
    const res = await operator.call('GET', `/vms/${id('ubuntu-web-01')}/preflight?environmentId=${narrow.id}`);
    expect(res.status).toBe(403);
    expect(ApiErrorBody.parse(res.body).code).toBe('NO_ENVIRONMENT_PERMISSION');
    const r = await preflight(admin, 'ubuntu-web-01', {}, { id: 'env-default' } as Environment);
    expect(blockers(r)).toEqual(['ENVIRONMENT_INCOMPLETE']);
  });
});
