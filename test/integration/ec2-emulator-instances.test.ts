// The lab EC2 emulator's instances (RunInstances and their lifecycle, private IPs, client tokens, CreateImage, tags,
// network interfaces), driven only through the real AWS SDK v3 clients (reference §11.3).
import { randomUUID } from 'node:crypto';
import {
  CreateImageCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUESTER_MANAGED_DESCRIPTION } from '../../lab/ec2/index.ts';
import { ec2, EXPORTS, importedImage, IMPORTS, lab, STAGE, useEc2EmulatorLab } from '../support/ec2-emulator-lab.ts';

useEc2EmulatorLab([IMPORTS, EXPORTS]);

describe('instances', () => {
  let imageId: string;
  let subnetA: string;
  let web: string;
  const client = () => ec2();

  beforeAll(async () => {
    imageId = await importedImage(client(), 'vms/web-01/disk1.vmdk');
    const subnets = await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.1.0/24'] }] }));
    subnetA = subnets.Subnets?.[0]?.SubnetId ?? '';
    const groups = await client().send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['web'] }] }));
    web = groups.SecurityGroups?.[0]?.GroupId ?? '';
  });

  const freeIps = async () => (await client().send(new DescribeSubnetsCommand({ SubnetIds: [subnetA] }))).Subnets?.[0]?.AvailableIpAddressCount;

  it('launches into the chosen subnet, IP and security group, then runs, stops, starts and terminates', async () => {
    const before = await freeIps();
    const run = await client().send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't3.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetA,
        SecurityGroupIds: [web],
        PrivateIpAddress: '10.0.1.25',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'web-01' }] }],
      }),
    );
    const inst = run.Instances?.[0];
    expect(inst).toMatchObject({ ImageId: imageId, PrivateIpAddress: '10.0.1.25', SubnetId: subnetA, State: { Name: 'pending', Code: 0 } });
    expect(inst?.SecurityGroups?.map((g) => [g.GroupId, g.GroupName])).toEqual([[web, 'web']]);
    expect(inst?.Tags).toEqual([{ Key: 'Name', Value: 'web-01' }]);
    expect(await freeIps()).toBe((before ?? 0) - 1);
    const id = inst?.InstanceId ?? '';

    const byTag = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['web-01'] }] }));
    expect(byTag.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId))).toEqual([id]);
    const pending = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending'] }, { Name: 'tag-key', Values: ['Name'] }] }));
    expect(pending.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId))).toContain(id);

    await lab.emulator.advance(STAGE);
    const state = async () => (await client().send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
    expect(await state()).toBe('running');

    const stop = await client().send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]).toMatchObject({ PreviousState: { Name: 'running' }, CurrentState: { Name: 'stopping' } });
    await lab.emulator.advance(STAGE);
    expect(await state()).toBe('stopped');
    const start = await client().send(new StartInstancesCommand({ InstanceIds: [id] }));
    expect(start.StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    await lab.emulator.advance(STAGE);
    expect(await state()).toBe('running');

    const term = await client().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(term.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
    await lab.emulator.advance(STAGE);
    expect(await state()).toBe('terminated');
    expect(await freeIps()).toBe(before);
    await expect(client().send(new StartInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({ name: 'IncorrectInstanceState' });
  });

  it('validates the private IP against the subnet', async () => {
    const base = { ImageId: imageId, InstanceType: 't3.small' as const, MinCount: 1, MaxCount: 1, SubnetId: subnetA };
    const first = await client().send(new RunInstancesCommand(base));
    expect(first.Instances?.[0]?.PrivateIpAddress).toBe('10.0.1.4');
    await expect(client().send(new RunInstancesCommand({ ...base, PrivateIpAddress: '10.0.9.9' }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client().send(new RunInstancesCommand({ ...base, PrivateIpAddress: '10.0.1.1' }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(client().send(new RunInstancesCommand({ ...base, PrivateIpAddress: '10.0.1.4' }))).rejects.toMatchObject({ name: 'InvalidIPAddress.InUse' });
    await expect(client().send(new RunInstancesCommand({ ...base, ImageId: 'ami-0000000000000dead' }))).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });

    const full = (await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'cidr-block', Values: ['10.0.3.0/24'] }] }))).Subnets?.[0];
    expect(full?.AvailableIpAddressCount).toBe(3);
    await expect(client().send(new RunInstancesCommand({ ...base, SubnetId: full?.SubnetId, MinCount: 4, MaxCount: 4 }))).rejects.toMatchObject({
      name: 'InsufficientFreeAddressesInSubnet',
    });
    await client().send(new TerminateInstancesCommand({ InstanceIds: [first.Instances?.[0]?.InstanceId ?? ''] }));
  });

  it('returns the same instance for a repeated RunInstances ClientToken', async () => {
    const input = { ImageId: imageId, InstanceType: 't3.small' as const, MinCount: 1, MaxCount: 1, SubnetId: subnetA, ClientToken: randomUUID() };
    const first = await client().send(new RunInstancesCommand(input));
    const again = await client().send(new RunInstancesCommand(input));
    expect(again.Instances?.map((i) => i.InstanceId)).toEqual(first.Instances?.map((i) => i.InstanceId));
    expect(again.ReservationId).toBe(first.ReservationId);
    const byToken = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [input.ClientToken] }] }));
    expect(byToken.Reservations?.flatMap((r) => r.Instances ?? []).length).toBe(1);
    await client().send(new TerminateInstancesCommand({ InstanceIds: [first.Instances?.[0]?.InstanceId ?? ''] }));
  });

  it('answers DescribeInstances errors like EC2', async () => {
    await expect(client().send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
    });
    await expect(client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'colour', Values: ['blue'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('creates an AMI from an instance and tags resources', async () => {
    const run = await client().send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnetA }));
    const id = run.Instances?.[0]?.InstanceId ?? '';
    await lab.emulator.advance(STAGE);
    await client().send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'Owner', Value: 'migration' }] }));
    const tagged = await client().send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Owner', Values: ['migration'] }] }));
    expect(tagged.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(id);

    const { ImageId } = await client().send(new CreateImageCommand({ InstanceId: id, Name: 'web-01 backup' }));
    const img = async () => (await client().send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['web-01 backup'] }] }))).Images?.[0];
    expect((await img())?.State).toBe('pending');
    await lab.emulator.advance(STAGE);
    expect(await img()).toMatchObject({ ImageId, State: 'available', SourceInstanceId: id });
    await expect(client().send(new CreateImageCommand({ InstanceId: id, Name: 'web-01 backup' }))).rejects.toMatchObject({ name: 'InvalidAMIName.Duplicate' });
    await client().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('describes one network interface per instance and the ENIs holding the nearly full subnet, with filters', async () => {
    const enis = async (filters: Record<string, string[]>, ids?: string[]) =>
      (
        await client().send(
          new DescribeNetworkInterfacesCommand({ Filters: Object.entries(filters).map(([Name, Values]) => ({ Name, Values })), ...(ids ? { NetworkInterfaceIds: ids } : {}) }),
        )
      ).NetworkInterfaces ?? [];
    const run = await client().send(
      new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnetA, SecurityGroupIds: [web], PrivateIpAddress: '10.0.1.77' }),
    );
    const inst = run.Instances?.[0];
    const id = inst?.InstanceId ?? '';
    const vpcId = inst?.VpcId ?? '';

    const [mine, ...others] = await enis({ 'subnet-id': [subnetA], 'addresses.private-ip-address': ['10.0.1.77'] });
    expect(others).toEqual([]);
    expect(mine).toMatchObject({
      NetworkInterfaceId: inst?.NetworkInterfaces?.[0]?.NetworkInterfaceId,
      SubnetId: subnetA,
      VpcId: vpcId,
      PrivateIpAddress: '10.0.1.77',
      Status: 'in-use',
      RequesterManaged: false,
      Attachment: { InstanceId: id, DeviceIndex: 0, Status: 'attached', DeleteOnTermination: true },
      PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.77', Primary: true }],
      Groups: [{ GroupId: web, GroupName: 'web' }],
    });
    expect(mine?.NetworkInterfaceId).toMatch(/^eni-[0-9a-f]{17}$/);
    expect((await enis({ 'private-ip-address': ['10.0.1.77'], 'vpc-id': [vpcId] })).map((e) => e.NetworkInterfaceId)).toEqual([mine?.NetworkInterfaceId]);
    expect(await enis({ 'subnet-id': [subnetA], 'addresses.private-ip-address': ['10.0.1.78'] })).toEqual([]);
    expect(await enis({ 'vpc-id': ['vpc-0000000000000dead'] })).toEqual([]);
    expect((await enis({}, [mine?.NetworkInterfaceId ?? ''])).map((e) => e.PrivateIpAddress)).toEqual(['10.0.1.77']);

    // Every address DescribeSubnets counts as used in the nearly full subnet is a requester-managed ENI (10.0.3.4 …).
    const full = (await client().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['lab-nearly-full-c'] }] }))).Subnets?.[0];
    const held = await enis({ 'subnet-id': [full?.SubnetId ?? ''] });
    expect(held.length).toBe(256 - 5 - (full?.AvailableIpAddressCount ?? 0));
    expect(held[0]).toMatchObject({ PrivateIpAddress: '10.0.3.4', VpcId: vpcId, RequesterManaged: true, Description: REQUESTER_MANAGED_DESCRIPTION, Status: 'in-use' });
    expect(held[0]?.Attachment?.InstanceId).toBeUndefined();
    expect(held.every((e) => e.RequesterManaged === true && e.Description === REQUESTER_MANAGED_DESCRIPTION)).toBe(true);
    expect((await enis({ 'subnet-id': [full?.SubnetId ?? ''], 'addresses.private-ip-address': ['10.0.3.200'] })).length).toBe(1);
    expect(await enis({ 'subnet-id': [full?.SubnetId ?? ''], 'addresses.private-ip-address': ['10.0.3.253'] })).toEqual([]);

    await expect(client().send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0123456789abcdef0'] }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
    });
    await expect(client().send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'colour', Values: ['blue'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });

    // The instance's ENI goes away with the instance, freeing the address.
    await client().send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect((await enis({ 'attachment.instance-id': [id] })).length).toBe(1);
    await lab.emulator.advance(STAGE);
    expect(await enis({ 'subnet-id': [subnetA], 'addresses.private-ip-address': ['10.0.1.77'] })).toEqual([]);
  });
});
