import {
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeInstanceTypesCommand,
  DescribeVpcsCommand,
  EC2Client,
  paginateDescribeInstanceTypeOfferings,
  type Subnet as Ec2Subnet,
} from '@aws-sdk/client-ec2';
import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import type { ConnectorConfig } from '../config.ts';
import type { SecurityGroup, Subnet, Vpc } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { awsErrorName, toAwsAppError } from './errors.ts';

export interface ImportRoleFacts {
  roleName: string;
  exists: boolean;
  /** The role's ARN (key policies name it). */
  arn?: string;
  trustPolicy?: unknown;
  /** Inline and attached permission policies, parsed. */
  policies: unknown[];
}

const OFFERINGS_TTL_MS = 10 * 60_000;
/** IAM is global; its API lives in us-east-1. */
const IAM_REGION = 'us-east-1';

/**
 * The connector's AWS door: EC2 and IAM clients per region, from configuration. Production uses the SDK's
 * default credential chain (nothing secret is stored by the connector); the lab sets an emulator endpoint.
 */
export class AwsGateway {
  private readonly ec2Clients = new Map<string, EC2Client>();
  private iamClient: IAMClient | undefined;
  private readonly kmsClients = new Map<string, KMSClient>();
  private readonly offerings = new Map<string, { at: number; types: Promise<string[]> }>();
  /** region/type → SupportedBootModes (a type's boot modes never change). */
  private readonly bootModeCache = new Map<string, string[]>();

  constructor(
    private readonly config: ConnectorConfig['aws'],
    private readonly now: () => number = Date.now,
  ) {}

  get regions(): readonly string[] {
    return this.config.regions;
  }

  get defaultRegion(): string {
    return this.config.regions[0] ?? 'us-east-1';
  }

  get importRoleName(): string {
    return this.config.importRoleName;
  }

  isRegionEnabled(region: string): boolean {
    return this.config.regions.includes(region);
  }

  ec2(region: string): EC2Client {
    if (!this.isRegionEnabled(region)) {
      throw new AppError(
        400,
        'VALIDATION_FAILED',
        `The region ${region} is not enabled on this connector. Enabled regions: ${this.config.regions.join(', ')}. An administrator can add it to the connector configuration (aws.regions).`,
      );
    }
    let client = this.ec2Clients.get(region);
    if (!client) {
      client = new EC2Client({ region, ...this.clientConfig() });
      this.ec2Clients.set(region, client);
    }
    return client;
  }

  iam(): IAMClient {
    this.iamClient ??= new IAMClient({ region: IAM_REGION, ...this.clientConfig() });
    return this.iamClient;
  }

  /** KMS in the region (import encryption keys); aws.kmsEndpoint overrides AWS's own endpoint (the lab). */
  kms(region: string): KMSClient {
    this.ec2(region); // the same "region not enabled" refusal
    let client = this.kmsClients.get(region);
    if (!client) {
      // aws.endpoint is the EC2/IAM emulator's: KMS has its own.
      const { endpoint: _ec2Endpoint, ...rest } = this.clientConfig();
      const { kmsEndpoint } = this.config;
      client = new KMSClient({ region, ...rest, ...(kmsEndpoint ? { endpoint: kmsEndpoint } : {}) });
      this.kmsClients.set(region, client);
    }
    return client;
  }

  /** The region's VPCs. */
  async vpcs(region: string): Promise<Vpc[]> {
    const out: Vpc[] = [];
    try {
      let token: string | undefined;
      do {
        const page = await this.ec2(region).send(new DescribeVpcsCommand({ NextToken: token, MaxResults: 1000 }));
        for (const v of page.Vpcs ?? []) {
          if (!v.VpcId) continue;
          const name = v.Tags?.find((t) => t.Key === 'Name')?.Value;
          out.push({ id: v.VpcId, ...(name ? { name } : {}), cidrBlock: v.CidrBlock ?? '', isDefault: v.IsDefault === true });
        }
        token = page.NextToken;
      } while (token);
    } catch (err) {
      throw toAwsAppError(err, { action: 'ec2:DescribeVpcs', where: `EC2 in ${region}` });
    }
    return out;
  }

  /** Whether the VPC exists in the region. */
  async vpcExists(region: string, vpcId: string): Promise<boolean> {
    try {
      const out = await this.ec2(region).send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
      return (out.Vpcs ?? []).some((v) => v.VpcId === vpcId);
    } catch (err) {
      if (awsErrorName(err) === 'InvalidVpcID.NotFound') return false;
      throw toAwsAppError(err, { action: 'ec2:DescribeVpcs', where: `EC2 in ${region}` });
    }
  }

  /** Subnets of a VPC (optionally only these ids); ids that do not exist are simply absent. */
  async subnets(region: string, vpcId: string, ids?: readonly string[]): Promise<Subnet[]> {
    const found: Ec2Subnet[] = [];
    try {
      let token: string | undefined;
      do {
        const out = await this.ec2(region).send(
          new DescribeSubnetsCommand({
            Filters: [{ Name: 'vpc-id', Values: [vpcId] }],
            NextToken: token,
            // AWS accepts either explicit ids or a page size, not both.
            ...(ids?.length ? { SubnetIds: [...ids] } : { MaxResults: 1000 }),
          }),
        );
        found.push(...(out.Subnets ?? []));
        token = out.NextToken;
      } while (token);
    } catch (err) {
      // Asking for ids of which one is gone fails as a whole: ask again for the VPC's subnets and filter.
      if (awsErrorName(err) === 'InvalidSubnetID.NotFound' && ids?.length) {
        const all = await this.subnets(region, vpcId);
        return all.filter((s) => ids.includes(s.id));
      }
      throw toAwsAppError(err, { action: 'ec2:DescribeSubnets', where: `EC2 in ${region}` });
    }
    return found
      .filter((s) => s.SubnetId && s.VpcId && s.CidrBlock)
      .map((s) => {
        const name = s.Tags?.find((t) => t.Key === 'Name')?.Value;
        return {
          id: s.SubnetId!,
          vpcId: s.VpcId!,
          ...(name ? { name } : {}),
          cidrBlock: s.CidrBlock!,
          availabilityZone: s.AvailabilityZone ?? '',
          availableIpAddressCount: s.AvailableIpAddressCount ?? 0,
        };
      });
  }

  /** Security groups of a VPC (optionally only these ids). */
  async securityGroups(region: string, vpcId: string, ids?: readonly string[]): Promise<SecurityGroup[]> {
    const out: SecurityGroup[] = [];
    try {
      let token: string | undefined;
      do {
        const page = await this.ec2(region).send(
          new DescribeSecurityGroupsCommand({
            Filters: [{ Name: 'vpc-id', Values: [vpcId] }],
            NextToken: token,
            ...(ids?.length ? { GroupIds: [...ids] } : { MaxResults: 1000 }),
          }),
        );
        for (const g of page.SecurityGroups ?? []) {
          if (g.GroupId && g.VpcId) out.push({ id: g.GroupId, vpcId: g.VpcId, name: g.GroupName ?? g.GroupId, description: g.Description ?? '' });
        }
        token = page.NextToken;
      } while (token);
    } catch (err) {
      if (awsErrorName(err) === 'InvalidGroup.NotFound' && ids?.length) {
        const all = await this.securityGroups(region, vpcId);
        return all.filter((g) => ids.includes(g.id));
      }
      throw toAwsAppError(err, { action: 'ec2:DescribeSecurityGroups', where: `EC2 in ${region}` });
    }
    return out;
  }

  /** Instance types offered in the region (cached for a few minutes: offerings change rarely). */
  offeredInstanceTypes(region: string): Promise<string[]> {
    const hit = this.offerings.get(region);
    if (hit && this.now() - hit.at < OFFERINGS_TTL_MS) return hit.types;
    const client = this.ec2(region);
    const types = (async () => {
      const names = new Set<string>();
      try {
        for await (const page of paginateDescribeInstanceTypeOfferings({ client }, { LocationType: 'region', MaxResults: 1000 })) {
          for (const o of page.InstanceTypeOfferings ?? []) if (o.InstanceType) names.add(o.InstanceType);
        }
      } catch (err) {
        this.offerings.delete(region);
        throw toAwsAppError(err, { action: 'ec2:DescribeInstanceTypeOfferings', where: `EC2 in ${region}` });
      }
      return [...names].sort(compareInstanceTypes);
    })();
    this.offerings.set(region, { at: this.now(), types });
    return types;
  }

  /** The boot modes each instance type supports (DescribeInstanceTypes SupportedBootModes), e.g. uefi for Nitro types. */
  async supportedBootModes(region: string, types: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const missing = [...new Set(types)].filter((t) => {
      const hit = this.bootModeCache.get(`${region}/${t}`);
      if (hit) out.set(t, hit);
      return !hit;
    });
    try {
      for (let i = 0; i < missing.length; i += 100) {
        const page = await this.ec2(region).send(new DescribeInstanceTypesCommand({ InstanceTypes: missing.slice(i, i + 100) as never[] }));
        for (const info of page.InstanceTypes ?? []) {
          if (!info.InstanceType) continue;
          const modes = info.SupportedBootModes ?? ['legacy-bios'];
          this.bootModeCache.set(`${region}/${info.InstanceType}`, modes);
          out.set(info.InstanceType, modes);
        }
      }
    } catch (err) {
      throw toAwsAppError(err, { action: 'ec2:DescribeInstanceTypes', where: `EC2 in ${region}` });
    }
    return out;
  }

  /** Whether a network interface (an instance, load balancer, endpoint, …) already holds this address in the subnet. */
  async privateIpInUse(region: string, subnetId: string, ip: string): Promise<boolean> {
    try {
      const out = await this.ec2(region).send(
        new DescribeNetworkInterfacesCommand({
          Filters: [
            { Name: 'subnet-id', Values: [subnetId] },
            { Name: 'addresses.private-ip-address', Values: [ip] },
          ],
        }),
      );
      return (out.NetworkInterfaces ?? []).length > 0;
    } catch (err) {
      throw toAwsAppError(err, { action: 'ec2:DescribeNetworkInterfaces', where: `EC2 in ${region}` });
    }
  }

  /** The import service role with its trust policy and every permission policy attached to it. */
  async importRole(): Promise<ImportRoleFacts> {
    const roleName = this.config.importRoleName;
    const iam = this.iam();
    const where = 'IAM';
    let trustPolicy: unknown;
    let arn: string | undefined;
    try {
      const out = await iam.send(new GetRoleCommand({ RoleName: roleName }));
      trustPolicy = parsePolicy(out.Role?.AssumeRolePolicyDocument);
      arn = out.Role?.Arn;
    } catch (err) {
      if (awsErrorName(err) === 'NoSuchEntity' || awsErrorName(err) === 'NoSuchEntityException') return { roleName, exists: false, policies: [] };
      throw toAwsAppError(err, { action: 'iam:GetRole', where });
    }
    const policies: unknown[] = [];
    try {
      let marker: string | undefined;
      do {
        const page = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
        for (const name of page.PolicyNames ?? []) {
          const doc = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
          policies.push(parsePolicy(doc.PolicyDocument));
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (err) {
      throw toAwsAppError(err, { action: 'iam:GetRolePolicy', where });
    }
    try {
      let marker: string | undefined;
      do {
        const page = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
        for (const attached of page.AttachedPolicies ?? []) {
          if (!attached.PolicyArn) continue;
          const policy = await iam.send(new GetPolicyCommand({ PolicyArn: attached.PolicyArn }));
          const versionId = policy.Policy?.DefaultVersionId;
          if (!versionId) continue;
          const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: attached.PolicyArn, VersionId: versionId }));
          policies.push(parsePolicy(version.PolicyVersion?.Document));
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (err) {
      throw toAwsAppError(err, { action: 'iam:GetPolicyVersion', where });
    }
    return { roleName, exists: true, ...(arn ? { arn } : {}), trustPolicy, policies };
  }

  close(): void {
    for (const c of this.ec2Clients.values()) c.destroy();
    this.ec2Clients.clear();
    this.iamClient?.destroy();
    this.iamClient = undefined;
    for (const c of this.kmsClients.values()) c.destroy();
    this.kmsClients.clear();
  }

  private clientConfig() {
    const { endpoint, credentials, requestTimeoutMs } = this.config;
    return {
      ...(endpoint ? { endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      maxAttempts: 3,
      // The SDK only warns when requestTimeout passes unless told to throw: a control-plane call that never answers
      // would otherwise hold its task (and the connector's shutdown) for ever.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true },
    };
  }
}

/** IAM returns policy documents URL-encoded (RFC 3986). */
function parsePolicy(doc: string | undefined): unknown {
  if (!doc) return undefined;
  try {
    return JSON.parse(decodeURIComponent(doc));
  } catch {
    try {
      return JSON.parse(doc);
    } catch {
      return undefined;
    }
  }
}

/** m5.large before m5.xlarge before m5.2xlarge: by family, then by size. */
const SIZE_ORDER = ['nano', 'micro', 'small', 'medium', 'large', 'xlarge'];
function sizeRank(size: string): number {
  const i = SIZE_ORDER.indexOf(size);
  if (i >= 0) return i;
  const m = /^(\d+)xlarge$/.exec(size);
  return m ? SIZE_ORDER.length + Number(m[1]) : 1000;
}
export function compareInstanceTypes(a: string, b: string): number {
  const [fa = '', sa = ''] = a.split('.');
  const [fb = '', sb = ''] = b.split('.');
  return fa.localeCompare(fb) || sizeRank(sa) - sizeRank(sb) || sa.localeCompare(sb);
}
