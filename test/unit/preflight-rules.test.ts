import { describe, expect, it } from 'vitest';
import { classifyGuest } from '../../connector/preflight/guest-os.ts';
import { placeInSubnet, usableRange } from '../../connector/preflight/ipv4.ts';
import { diskChecks, guestChecks, importRoleChecks, MULTI_DISK_MESSAGE, privateIpChecks, privilegeChecks, stateChecks } from '../../connector/preflight/rules.ts';
import { importRolePolicies, missingImportActions, trustsVmie } from '../../connector/aws/vmimport-role.ts';
import type { VmInfo } from '../../connector/vsphere/types.ts';

const GiB = 1024 ** 3;
const vm = (over: Partial<VmInfo> = {}): VmInfo => ({
  id: 'vm-1',
  name: 'web-01',
  guestId: 'ubuntu64Guest',
  guestFullName: 'Ubuntu Linux (64-bit)',
  powerState: 'poweredOff',
  numCpu: 2,
  memoryMB: 4096,
  disks: [{ key: 2000, label: 'Hard disk 1', capacityBytes: 10 * GiB, diskMode: 'persistent', backingType: 'VirtualDiskFlatVer2BackingInfo' }],
  nics: [{ key: 4000, label: 'Network adapter 1' }],
  snapshotCount: 0,
  snapshots: [],
  ...over,
});
const codes = (checks: { code: string }[]) => checks.map((c) => c.code);

describe('AWS subnet addresses', () => {
  it.each([
    ['10.0.1.4', '10.0.1.0/24', 'usable'],
    ['10.0.1.254', '10.0.1.0/24', 'usable'],
    ['10.0.1.0', '10.0.1.0/24', 'reserved'],
    ['10.0.1.3', '10.0.1.0/24', 'reserved'],
    ['10.0.1.255', '10.0.1.0/24', 'reserved'],
    ['10.0.2.10', '10.0.1.0/24', 'outside'],
    ['10.0.0.255', '10.0.1.0/24', 'outside'],
    ['172.16.5.20', '172.16.0.0/20', 'usable'],
    ['172.16.15.255', '172.16.0.0/20', 'reserved'],
    ['300.1.1.1', '10.0.1.0/24', 'outside'],
  ] as const)('%s in %s is %s', (ip, cidr, expected) => {
    expect(placeInSubnet(ip, cidr)).toBe(expected);
  });

  it('names the usable range', () => {
    expect(usableRange('10.0.1.0/24')).toBe('10.0.1.4 to 10.0.1.254');
  });

  it('blocks outside, reserved and used addresses with a fix', () => {
    const subnet = { id: 'subnet-1', cidrBlock: '10.0.1.0/24' };
    expect(codes(privateIpChecks('10.0.9.9', subnet, false))).toEqual(['PRIVATE_IP_OUTSIDE_SUBNET']);
    expect(codes(privateIpChecks('10.0.1.1', subnet, false))).toEqual(['PRIVATE_IP_RESERVED']);
    expect(codes(privateIpChecks('10.0.1.50', subnet, true))).toEqual(['PRIVATE_IP_IN_USE']);
    expect(privateIpChecks('10.0.1.50', subnet, false)).toEqual([]);
    expect(privateIpChecks('10.0.1.1', subnet, false)[0]?.fix).toMatch(/10\.0\.1\.4 to 10\.0\.1\.254/);
  });
});

describe('guest operating systems', () => {
  it.each([
    ['ubuntu64Guest', 'supported', 'Linux'],
    ['rhel8_64Guest', 'supported', 'Linux'],
    ['centos7_64Guest', 'supported', 'Linux'],
    ['debian11_64Guest', 'supported', 'Linux'],
    ['amazonlinux2_64Guest', 'supported', 'Linux'],
    ['windows2019srv_64Guest', 'supported', 'Windows'],
    ['windows9Server64Guest', 'supported', 'Windows'],
    ['windows9_64Guest', 'supported', 'Windows'],
    ['winXPProGuest', 'unsupported', 'Windows'],
    ['freebsd13_64Guest', 'unsupported', undefined],
    ['solaris11_64Guest', 'unsupported', undefined],
    ['darwin20_64Guest', 'unsupported', undefined],
    ['ubuntuGuest', 'unsupported', 'Linux'],
    ['otherLinux64Guest', 'unknown', 'Linux'],
    ['otherGuest64', 'unknown', undefined],
  ] as const)('%s is %s', (guestId, support, platform) => {
    const v = classifyGuest(guestId);
    expect(v.support).toBe(support);
    expect(v.platform).toBe(platform);
  });

  it('blocks unsupported guests, warns about unknown ones and about a platform that does not match', () => {
    expect(codes(guestChecks(vm({ guestId: 'freebsd13_64Guest', guestFullName: 'FreeBSD 13 (64-bit)' })).checks)).toEqual(['GUEST_OS_UNSUPPORTED']);
    expect(codes(guestChecks(vm({ guestId: 'otherLinux64Guest' })).checks)).toEqual(['GUEST_OS_UNVERIFIED']);
    const r = guestChecks(vm(), 'Windows');
    expect(codes(r.checks)).toEqual(['PLATFORM_MISMATCH']);
    expect(r.suggestedPlatform).toBe('Linux');
  });
});

describe('disk and state rules', () => {
  it('blocks disks above 215 GB, RDMs, encrypted disks and more than 21 disks', () => {
    const big = { key: 1, label: 'Hard disk 2', capacityBytes: 300 * GiB, backingType: 'VirtualDiskFlatVer2BackingInfo' };
    const limit = { key: 2, label: 'Hard disk 3', capacityBytes: 215 * GiB, backingType: 'VirtualDiskFlatVer2BackingInfo' };
    const rdm = { key: 3, label: 'Hard disk 4', capacityBytes: GiB, backingType: 'VirtualDiskRawDiskMappingVer1BackingInfo' };
    const encrypted = { key: 4, label: 'Hard disk 5', capacityBytes: GiB, backingType: 'VirtualDiskFlatVer2BackingInfo', encrypted: true };
    const checks = diskChecks(vm({ disks: [big, limit, rdm, encrypted] }));
    expect(codes(checks)).toEqual(['DISK_TOO_LARGE', 'DISK_RDM', 'DISK_ENCRYPTED']);
    expect(checks[0]?.message).toMatch(/Hard disk 2 .* 300 GB; its compressed size may be greater than 215 GB/);
    const many = Array.from({ length: 22 }, (_, i) => ({ key: i, label: `Hard disk ${i + 1}`, capacityBytes: GiB, backingType: 'VirtualDiskFlatVer2BackingInfo' }));
    expect(codes(diskChecks(vm({ disks: many })))).toEqual(['TOO_MANY_DISKS']);
  });

  it('blocks independent disks only when the VM runs (a snapshot cannot capture them)', () => {
    const disks = [{ key: 1, label: 'Hard disk 1', capacityBytes: GiB, diskMode: 'independent_persistent', backingType: 'VirtualDiskFlatVer2BackingInfo' }];
    expect(diskChecks(vm({ disks }))).toEqual([]);
    expect(codes(diskChecks(vm({ disks, powerState: 'poweredOn' })))).toEqual(['DISK_INDEPENDENT']);
  });

  it('warns about snapshots and a running VM, and notes extra network adapters', () => {
    const checks = stateChecks(vm({ snapshotCount: 2, powerState: 'poweredOn', nics: [{ key: 1, label: 'a' }, { key: 2, label: 'b' }] }));
    expect(checks.map((c) => [c.code, c.severity])).toEqual([
      ['SNAPSHOTS_PRESENT', 'warning'],
      ['POWERED_ON', 'warning'],
      ['MULTIPLE_NICS', 'info'],
    ]);
    expect(checks[1]?.message).toMatch(/export it from a temporary snapshot/);
  });

  it('needs snapshot privileges only for a running VM', () => {
    const none = { export: true, createSnapshot: false, removeSnapshot: false };
    expect(privilegeChecks(vm(), none)).toEqual([]);
    expect(codes(privilegeChecks(vm({ powerState: 'poweredOn' }), none))).toEqual(['SNAPSHOT_PRIVILEGE_MISSING']);
    expect(codes(privilegeChecks(vm(), { ...none, export: false }))).toEqual(['VM_EXPORT_DENIED']);
  });
});

describe('the vmimport role', () => {
  const { trust, permissions } = importRolePolicies();

  it('reads trust and permission policies', () => {
    expect(trustsVmie(trust)).toBe(true);
    expect(trustsVmie({ Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] })).toBe(false);
    expect(missingImportActions([permissions])).toEqual([]);
    expect(missingImportActions([])).toHaveLength(7);
    expect(missingImportActions([{ Statement: { Effect: 'Allow', Action: ['s3:*', 'ec2:*'], Resource: '*' } }])).toEqual([]);
    expect(missingImportActions([{ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: 's3:GetObject', Resource: '*' }] }])).toEqual([
      's3:GetObject',
    ]);
    expect(missingImportActions([{ Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeImages' }] }])).toContain('ec2:Describe*');
  });

  it('reports a broken role with the seed’s multi-disk error for VMs with several disks', () => {
    const role = { roleName: 'vmimport', exists: true, trustPolicy: trust, policies: [] };
    expect(codes(importRoleChecks(role, 1))).toEqual(['VMIMPORT_POLICY_MISSING']);
    const [multi] = importRoleChecks(role, 3);
    expect(multi?.code).toBe('MULTI_DISK_PERMISSION_MISSING');
    expect(multi?.message).toBe(MULTI_DISK_MESSAGE);
    expect(multi?.fix).toMatch(/VMImportExportRoleForAWSConnector/);
    expect(codes(importRoleChecks({ ...role, exists: false }, 1))).toEqual(['VMIMPORT_ROLE_MISSING']);
    expect(codes(importRoleChecks({ ...role, trustPolicy: {} }, 1))).toEqual(['VMIMPORT_ROLE_UNTRUSTED']);
    expect(importRoleChecks({ ...role, policies: [permissions] }, 3)).toEqual([]);
  });
});
