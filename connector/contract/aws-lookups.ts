import { z } from 'zod';
import { AwsRegionName, InstanceTypeName, SecurityGroupId, SubnetId, VpcId } from './aws-ids.ts';

export const Region = z.object({
  name: AwsRegionName,
  /** e.g. "US East (N. Virginia)"; the code itself when unknown. */
  displayName: z.string(),
  /** The region a new default environment is created in. */
  isDefault: z.boolean(),
}).meta({ id: 'Region' });
export const RegionList = z.object({ regions: z.array(Region) }).meta({ id: 'RegionList' });
export type RegionList = z.infer<typeof RegionList>;

export const Vpc = z.object({
  id: VpcId,
  name: z.string().optional(),
  cidrBlock: z.string(),
  isDefault: z.boolean(),
}).meta({ id: 'Vpc' });
export type Vpc = z.infer<typeof Vpc>;
export const VpcList = z.object({ vpcs: z.array(Vpc) }).meta({ id: 'VpcList' });
export type VpcList = z.infer<typeof VpcList>;

export const RegionParams = z.object({ region: AwsRegionName });
/** Administrators' lookups while editing an environment: the VPC whose subnets or groups to list. */
export const VpcQuery = z.strictObject({ vpcId: VpcId });

export const Subnet = z.object({
  id: SubnetId,
  vpcId: VpcId,
  name: z.string().optional(),
  cidrBlock: z.string(),
  availabilityZone: z.string(),
  /** Free addresses AWS reports (the five reserved ones are never counted). */
  availableIpAddressCount: z.number().int().nonnegative(),
}).meta({ id: 'Subnet' });
export type Subnet = z.infer<typeof Subnet>;
export const SubnetList = z.object({ subnets: z.array(Subnet) }).meta({ id: 'SubnetList' });
export type SubnetList = z.infer<typeof SubnetList>;

export const SecurityGroup = z.object({
  id: SecurityGroupId,
  vpcId: VpcId,
  name: z.string(),
  description: z.string(),
}).meta({ id: 'SecurityGroup' });
export type SecurityGroup = z.infer<typeof SecurityGroup>;
export const SecurityGroupList = z.object({ securityGroups: z.array(SecurityGroup) }).meta({ id: 'SecurityGroupList' });
export type SecurityGroupList = z.infer<typeof SecurityGroupList>;

export const InstanceType = z.object({ name: InstanceTypeName }).meta({ id: 'InstanceType' });
export const InstanceTypeList = z.object({ instanceTypes: z.array(InstanceType) }).meta({ id: 'InstanceTypeList' });
/** bootMode uefi: only the types that can boot a UEFI guest (DescribeInstanceTypes SupportedBootModes). */
export const InstanceTypeQuery = z.strictObject({ bootMode: z.enum(['legacy-bios', 'uefi']).optional() });
export type InstanceTypeList = z.infer<typeof InstanceTypeList>;
