// The lab EC2 emulator's seeded networking (VPCs, subnets, security groups), instance type offerings, regions and
// account attributes, injected throttling and 500s, and its little IAM (the vmimport role); driven only through the
// real AWS SDK v3 clients (reference §11.3).
import {
  DescribeAccountAttributesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ImportImageCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { startEc2Emulator } from '../../lab/ec2/index.ts';
import { clients, creds, ec2, EXPORTS, importInput, IMPORTS, lab, putDisk, s3, useEc2EmulatorLab } from '../support/ec2-emulator-lab.ts';

useEc2EmulatorLab([IMPORTS, EXPORTS]);

describe('networking and account', () => {
  it('seeds one VPC per region with three subnets and three security groups', async () => {
    const cidrs: Record<string, string> = { 'us-east-1': '10.0.0.0/16', 'us-west-2': '10.1.0.0/16', 'eu-west-1': '10.2.0.0/16' };
    for (const [region, cidr] of Object.entries(cidrs)) {
      const client = ec2(region);
      const vpcs = (await client.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
      expect(vpcs.map((v) => v.CidrBlock)).toEqual([cidr]);
      const vpcId = vpcs[0]?.VpcId ?? '';
      const subnets = (await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? [];
      expect(subnets.map((s) => [s.AvailabilityZone, s.VpcId])).toEqual(['a', 'b', 'c'].map((az) => [`${region}${az}`, vpcId]));
      expect(subnets.map((s) => s.CidrBlock?.endsWith('.0/24'))).toEqual([true, true, true]);
      const groups = (await client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups ?? [];
      expect(groups.map((g) => g.GroupName)).toEqual(['default', 'web', 'db']);
      const one = await client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [groups[1]?.GroupId ?? ''] }] }));
      expect(one.SecurityGroups?.map((g) => g.GroupName)).toEqual(['web']);
      expect(one.SecurityGroups?.[0]?.IpPermissions?.map((p) => p.FromPort)).toEqual([80, 443, 22]);
    }
    const nearlyFull = (await ec2().send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['lab-nearly-full-c'] }] }))).Subnets;
    expect(nearlyFull?.[0]?.AvailableIpAddressCount).toBe(3);
  });

  it('offers different instance types per region and per AZ', async () => {
    const offered = async (region: string, pattern: string) =>
      ((await ec2(region).send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'region', Filters: [{ Name: 'instance-type', Values: [pattern] }] })))
        .InstanceTypeOfferings ?? []).map((o) => [o.InstanceType, o.Location]);
    expect(await offered('us-east-1', 'm7i.large')).toEqual([['m7i.large', 'us-east-1']]);
    expect(await offered('eu-west-1', 'm7i.*')).toEqual([]);
    expect((await offered('eu-west-1', 'm6i.*')).length).toBe(4);
    const byAz = await ec2().send(
      new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: ['t2.micro'] }] }),
    );
    expect(byAz.InstanceTypeOfferings?.map((o) => o.Location)).toEqual(['us-east-1a', 'us-east-1b']);
  });

  it('lists regions and account attributes, and refuses unknown regions', async () => {
    const regions = await ec2().send(new DescribeRegionsCommand({}));
    expect(regions.Regions?.map((r) => r.RegionName)).toEqual(['us-east-1', 'us-west-2', 'eu-west-1']);
    const attrs = await ec2().send(new DescribeAccountAttributesCommand({ AttributeNames: ['supported-platforms'] }));
    expect(attrs.AccountAttributes?.[0]?.AttributeValues?.map((v) => v.AttributeValue)).toEqual(['VPC']);
    await expect(ec2('ap-south-1').send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'AuthFailure', message: expect.stringMatching(/ap-south-1/) });
  });

  it('is reachable through AWS_ENDPOINT_URL_EC2 alone', async () => {
    process.env.AWS_ENDPOINT_URL_EC2 = lab.url;
    try {
      const client = new EC2Client({ region: 'eu-west-1', credentials: creds });
      clients.push(client);
      expect((await client.send(new DescribeVpcsCommand({}))).Vpcs?.[0]?.CidrBlock).toBe('10.2.0.0/16');
    } finally {
      delete process.env.AWS_ENDPOINT_URL_EC2;
    }
  });

  it('injects throttling and server errors', async () => {
    lab.emulator.throttle('DescribeRegions', 1);
    await expect(ec2('us-east-1', lab.url, 1).send(new DescribeRegionsCommand({}))).rejects.toMatchObject({
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503 },
    });
    lab.emulator.throttle('DescribeRegions', 1);
    const retried = await ec2('us-east-1', lab.url, 2).send(new DescribeRegionsCommand({}));
    expect(retried.$metadata.attempts).toBe(2);
    lab.emulator.serverError('DescribeVpcs', 1);
    await expect(ec2('us-east-1', lab.url, 1).send(new DescribeVpcsCommand({}))).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
  });
});

describe('IAM', () => {
  const iam = () => {
    const c = new IAMClient({ region: 'us-east-1', endpoint: lab.url, credentials: creds });
    clients.push(c);
    return c;
  };

  it('serves the seeded vmimport role and round-trips an inline policy', async () => {
    const role = (await iam().send(new GetRoleCommand({ RoleName: 'vmimport' }))).Role;
    expect(role?.Arn).toBe('arn:aws:iam::111122223333:role/vmimport');
    const trust = JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '')) as { Statement: { Principal: { Service: string } }[] };
    expect(trust.Statement[0]?.Principal.Service).toBe('vmie.amazonaws.com');
    expect((await iam().send(new ListRolePoliciesCommand({ RoleName: 'vmimport' }))).PolicyNames).toEqual([]);
    expect((await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: 'vmimport' }))).AttachedPolicies).toEqual([]);

    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'], Resource: ['arn:aws:s3:::lab-imports', 'arn:aws:s3:::lab-imports/*'] }],
    });
    await iam().send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'vmimport', PolicyDocument: policy }));
    expect((await iam().send(new ListRolePoliciesCommand({ RoleName: 'vmimport' }))).PolicyNames).toEqual(['vmimport']);
    const got = await iam().send(new GetRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'vmimport' }));
    expect(decodeURIComponent(got.PolicyDocument ?? '')).toBe(policy);

    await iam().send(new UpdateAssumeRolePolicyCommand({ RoleName: 'vmimport', PolicyDocument: decodeURIComponent(role?.AssumeRolePolicyDocument ?? '') }));
    await expect(iam().send(new GetRoleCommand({ RoleName: 'nobody' }))).rejects.toMatchObject({ name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } });
    await expect(iam().send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'x', PolicyDocument: '{not json' }))).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    await expect(
      iam().send(new CreateRoleCommand({ RoleName: 'vmimport', AssumeRolePolicyDocument: decodeURIComponent(role?.AssumeRolePolicyDocument ?? '') })),
    ).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
  });

  it('makes ImportImage depend on the service role when enforceServiceRole is set', async () => {
    const strict = await startEc2Emulator({ s3: { endpoint: s3.url, ...creds, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, manualClock: true, enforceServiceRole: true });
    try {
      await putDisk('vms/strict/disk1.vmdk');
      const client = ec2('us-east-1', strict.url);
      await expect(client.send(new ImportImageCommand(importInput('vms/strict/disk1.vmdk')))).rejects.toMatchObject({
        name: 'InvalidParameter',
        message: 'The service role vmimport provided does not exist or does not have sufficient permissions',
      });
      const iamStrict = new IAMClient({ region: 'us-east-1', endpoint: strict.url, credentials: creds });
      clients.push(iamStrict);
      await iamStrict.send(
        new PutRolePolicyCommand({
          RoleName: 'vmimport',
          PolicyName: 'vmimport',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] }),
        }),
      );
      expect((await client.send(new ImportImageCommand(importInput('vms/strict/disk1.vmdk')))).Status).toBe('active');
    } finally {
      await strict.stop();
    }
  });
});
