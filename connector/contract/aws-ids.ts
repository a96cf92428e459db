import { z } from 'zod';

// AWS identifiers as the EC2 API spells them; validated at the edge so nothing malformed reaches AWS.

export const AwsRegionName = z
  .string()
  .max(32)
  .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'An AWS region looks like us-east-1.');

const hexId = (prefix: string, example: string) =>
  z
    .string()
    .max(32)
    .regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `An id looks like ${example}.`);

export const VpcId = hexId('vpc', 'vpc-0a1b2c3d4e5f67890');
export const SubnetId = hexId('subnet', 'subnet-0a1b2c3d4e5f67890');
export const SecurityGroupId = hexId('sg', 'sg-0a1b2c3d4e5f67890');

export const InstanceTypeName = z
  .string()
  .max(32)
  .regex(/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/, 'An instance type looks like m5.large.');

export const PrivateIpv4 = z.ipv4({ error: 'A private IP address looks like 10.0.1.25.' });

/** A list without repeats: the same id twice is a mistake the caller should hear about. */
export const uniqueList = <T extends z.ZodType<string>>(item: T, max: number) =>
  z
    .array(item)
    .max(max)
    .refine((a) => new Set(a).size === a.length, 'must not list the same value twice');
