// Seeded networking per region (VPC, subnets, security groups), instance-type offerings, regions.
import { Ec2Error } from './errors.ts';
import { applyFilters, readFilters, wildcardMatch, type Params } from './query.ts';
import { seededId, tagsXml, type Handler, type RegionState, type SecurityGroup, type Subnet } from './state.ts';
import type { XmlObject } from './xml.ts';

/** Second octet of each region's VPC (10.x.0.0/16); other regions get 10 + their position. */
const VPC_OCTET: Record<string, number> = { 'us-east-1': 0, 'us-west-2': 1, 'eu-west-1': 2 };

const FAMILY_SIZES: Record<string, string[]> = {
  t2: ['micro', 'small', 'medium'],
  t3: ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'],
  m5: ['large', 'xlarge', '2xlarge', '4xlarge'],
  m6i: ['large', 'xlarge', '2xlarge', '4xlarge'],
  m7i: ['large', 'xlarge', '2xlarge', '4xlarge'],
  c5: ['large', 'xlarge', '2xlarge'],
  c6i: ['large', 'xlarge', '2xlarge'],
  r5: ['large', 'xlarge', '2xlarge'],
  r6i: ['large', 'xlarge', '2xlarge'],
  r7i: ['large', 'xlarge'],
};
export const KNOWN_INSTANCE_TYPES: readonly string[] = Object.entries(FAMILY_SIZES).flatMap(([f, sizes]) => sizes.map((s) => `${f}.${s}`));

/** Families a region does not offer, so region choice matters (e.g. no m7i in eu-west-1). */
const MISSING_FAMILIES: Record<string, string[]> = { 'eu-west-1': ['m7i'], 'us-west-2': ['r7i'] };
/** The third AZ of every region does not offer t2. */
const MISSING_IN_THIRD_AZ = ['t2'];

const family = (type: string) => type.split('.')[0] ?? type;

export function offeredTypes(region: string, availabilityZone?: string): string[] {
  const missing = new Set(MISSING_FAMILIES[region] ?? []);
  if (availabilityZone?.endsWith('c')) MISSING_IN_THIRD_AZ.forEach((f) => missing.add(f));
  return KNOWN_INSTANCE_TYPES.filter((t) => !missing.has(family(t)));
}

function azId(region: string, n: number): string {
  const [geo = '', dir = '', num = ''] = region.split('-');
  const d = dir.replace(/north|south|east|west|central/g, (m) => m.charAt(0));
  return `${geo}${d}${num}-az${n}`;
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return NaN;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function cidrRange(cidr: string): { base: number; size: number } {
  const [ip = '', bits = '32'] = cidr.split('/');
  return { base: ipToInt(ip), size: 2 ** (32 - Number(bits)) };
}

export function seedRegion(name: string, index: number): RegionState {
  const octet = VPC_OCTET[name] ?? 10 + index;
  const vpcId = seededId('vpc', name, 'lab');
  const region: RegionState = {
    name,
    vpcs: new Map([[vpcId, { id: vpcId, cidr: `10.${octet}.0.0/16`, tags: [{ key: 'Name', value: 'lab-vpc' }] }]]),
    subnets: new Map(),
    securityGroups: new Map(),
    imports: new Map(),
    images: new Map(),
    instances: new Map(),
    exports: new Map(),
    importTokens: new Map(),
    runTokens: new Map(),
  };
  const subnets: [string, string, number][] = [
    ['lab-app-a', 'a', 0],
    ['lab-app-b', 'b', 0],
    ['lab-nearly-full-c', 'c', 248], // 3 addresses left
  ];
  subnets.forEach(([label, az, occupied], i) => {
    const id = seededId('subnet', name, label);
    region.subnets.set(id, {
      id,
      vpcId,
      cidr: `10.${octet}.${i + 1}.0/24`,
      availabilityZone: `${name}${az}`,
      availabilityZoneId: azId(name, i + 1),
      tags: [{ key: 'Name', value: label }],
      occupiedByOthers: occupied,
    });
  });
  const sg = (label: string, description: string, ingress: SecurityGroup['ingress']): SecurityGroup => ({
    id: seededId('sg', name, label),
    name: label,
    description,
    vpcId,
    tags: label === 'default' ? [] : [{ key: 'Name', value: `lab-${label}` }],
    ingress,
  });
  const def = sg('default', 'default VPC security group', []);
  def.ingress.push({ protocol: '-1', cidrs: [], sourceGroupIds: [def.id] });
  const web = sg('web', 'Web servers: HTTP/HTTPS from anywhere, SSH from the VPC', [
    { protocol: 'tcp', fromPort: 80, toPort: 80, cidrs: ['0.0.0.0/0'], sourceGroupIds: [] },
    { protocol: 'tcp', fromPort: 443, toPort: 443, cidrs: ['0.0.0.0/0'], sourceGroupIds: [] },
    { protocol: 'tcp', fromPort: 22, toPort: 22, cidrs: [`10.${octet}.0.0/16`], sourceGroupIds: [] },
  ]);
  const db = sg('db', 'Databases: PostgreSQL/MySQL from the web tier', [
    { protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrs: [], sourceGroupIds: [web.id] },
    { protocol: 'tcp', fromPort: 3306, toPort: 3306, cidrs: [], sourceGroupIds: [web.id] },
  ]);
  for (const g of [def, web, db]) region.securityGroups.set(g.id, g);
  return region;
}

/** Addresses of a subnet held by ENIs that are not emulated instances: the first usable ones. */
export function addressesHeldByOthers(subnet: Subnet): string[] {
  const { base } = cidrRange(subnet.cidr);
  return Array.from({ length: subnet.occupiedByOthers }, (_, i) => intToIp(base + 4 + i));
}

/** Address bookkeeping of a subnet: AWS reserves the first four and the last address. */
export function subnetAddresses(region: RegionState, subnet: Subnet) {
  const { base, size } = cidrRange(subnet.cidr);
  const used = new Set<number>(addressesHeldByOthers(subnet).map(ipToInt));
  for (const inst of region.instances.values()) {
    if (inst.subnetId === subnet.id && inst.state !== 'terminated') used.add(ipToInt(inst.privateIp));
  }
  return {
    /** 'outside' when not in the CIDR, 'reserved' for the five AWS-reserved addresses. */
    check(ip: string): 'ok' | 'outside' | 'reserved' | 'in-use' {
      const n = ipToInt(ip);
      if (!(n >= base && n < base + size)) return 'outside';
      if (n - base < 4 || n === base + size - 1) return 'reserved';
      return used.has(n) ? 'in-use' : 'ok';
    },
    nextFree(taken: Set<number> = new Set()): string | undefined {
      for (let n = base + 4; n < base + size - 1; n++) if (!used.has(n) && !taken.has(n)) return intToIp(n);
      return undefined;
    },
    available: size - 5 - [...used].filter((n) => n >= base + 4 && n < base + size - 1).length,
  };
}

function ruleXml(r: SecurityGroup['ingress'][number]): XmlObject {
  return {
    ipProtocol: r.protocol,
    fromPort: r.fromPort,
    toPort: r.toPort,
    groups: r.sourceGroupIds.map((groupId) => ({ groupId })),
    ipRanges: r.cidrs.map((cidrIp) => ({ cidrIp })),
    ipv6Ranges: [],
    prefixListIds: [],
  };
}

function pick<T extends { id: string }>(all: Map<string, T>, ids: string[], notFound: string, what: string): T[] {
  if (ids.length === 0) return [...all.values()];
  return ids.map((id) => {
    const item = all.get(id);
    if (!item) throw new Ec2Error(notFound, `The ${what} ID '${id}' does not exist`);
    return item;
  });
}

export const networkHandlers: Record<string, Handler> = {
  DescribeVpcs({ core, region }, p: Params) {
    const vpcs = applyFilters(
      pick(region.vpcs, p.list('VpcId'), 'InvalidVpcID.NotFound', 'vpc'),
      readFilters(p),
      { 'vpc-id': (v) => v.id, 'cidr-block': (v) => v.cidr, cidr: (v) => v.cidr, 'is-default': () => 'false', state: () => 'available' },
      (v) => v.tags,
    );
    return {
      vpcSet: vpcs.map((v) => ({
        vpcId: v.id,
        ownerId: core.accountId,
        state: 'available',
        cidrBlock: v.cidr,
        cidrBlockAssociationSet: [{ associationId: seededId('vpc-cidr-assoc', v.id), cidrBlock: v.cidr, cidrBlockState: { state: 'associated' } }],
        dhcpOptionsId: seededId('dopt', region.name),
        instanceTenancy: 'default',
        isDefault: false,
        tagSet: tagsXml(v.tags),
      })),
    };
  },

  DescribeSubnets({ core, region }, p: Params) {
    const subnets = applyFilters(
      pick(region.subnets, p.list('SubnetId'), 'InvalidSubnetID.NotFound', 'subnet'),
      readFilters(p),
      {
        'subnet-id': (s) => s.id,
        'vpc-id': (s) => s.vpcId,
        'availability-zone': (s) => s.availabilityZone,
        'availability-zone-id': (s) => s.availabilityZoneId,
        'cidr-block': (s) => s.cidr,
        state: () => 'available',
      },
      (s) => s.tags,
    );
    return {
      subnetSet: subnets.map((s) => ({
        subnetId: s.id,
        subnetArn: `arn:aws:ec2:${region.name}:${core.accountId}:subnet/${s.id}`,
        state: 'available',
        vpcId: s.vpcId,
        ownerId: core.accountId,
        cidrBlock: s.cidr,
        availableIpAddressCount: subnetAddresses(region, s).available,
        availabilityZone: s.availabilityZone,
        availabilityZoneId: s.availabilityZoneId,
        defaultForAz: false,
        mapPublicIpOnLaunch: false,
        assignIpv6AddressOnCreation: false,
        ipv6CidrBlockAssociationSet: [],
        tagSet: tagsXml(s.tags),
      })),
    };
  },

  DescribeSecurityGroups({ core, region }, p: Params) {
    let groups = pick(region.securityGroups, p.list('GroupId'), 'InvalidGroup.NotFound', 'security group');
    const names = p.list('GroupName');
    if (names.length > 0) groups = groups.filter((g) => names.includes(g.name));
    groups = applyFilters(
      groups,
      readFilters(p),
      { 'vpc-id': (g) => g.vpcId, 'group-id': (g) => g.id, 'group-name': (g) => g.name, description: (g) => g.description },
      (g) => g.tags,
    );
    return {
      securityGroupInfo: groups.map((g) => ({
        ownerId: core.accountId,
        groupId: g.id,
        groupName: g.name,
        groupDescription: g.description,
        vpcId: g.vpcId,
        securityGroupArn: `arn:aws:ec2:${region.name}:${core.accountId}:security-group/${g.id}`,
        ipPermissions: g.ingress.map(ruleXml),
        ipPermissionsEgress: [ruleXml({ protocol: '-1', cidrs: ['0.0.0.0/0'], sourceGroupIds: [] })],
        tagSet: tagsXml(g.tags),
      })),
    };
  },

  DescribeInstanceTypeOfferings({ region }, p: Params) {
    const locationType = p.str('LocationType') ?? 'region';
    let rows: { type: string; location: string }[];
    if (locationType === 'region') rows = offeredTypes(region.name).map((type) => ({ type, location: region.name }));
    else if (locationType === 'availability-zone' || locationType === 'availability-zone-id') {
      rows = [...region.subnets.values()].flatMap((s) =>
        offeredTypes(region.name, s.availabilityZone).map((type) => ({
          type,
          location: locationType === 'availability-zone' ? s.availabilityZone : s.availabilityZoneId,
        })),
      );
    } else throw new Ec2Error('InvalidParameterValue', `Value (${locationType}) for parameter LocationType is invalid.`);
    rows = applyFilters(rows, readFilters(p), { 'instance-type': (r) => r.type, location: (r) => r.location });
    return {
      instanceTypeOfferingSet: rows.map((r) => ({ instanceType: r.type, locationType, location: r.location })),
    };
  },

  DescribeAvailabilityZones({ region }, p: Params) {
    const zones = applyFilters([...region.subnets.values()], readFilters(p), {
      'zone-name': (s) => s.availabilityZone,
      'zone-id': (s) => s.availabilityZoneId,
      'region-name': () => region.name,
      state: () => 'available',
    });
    return {
      availabilityZoneInfo: zones.map((s) => ({
        zoneName: s.availabilityZone,
        zoneId: s.availabilityZoneId,
        zoneState: 'available',
        regionName: region.name,
        zoneType: 'availability-zone',
        optInStatus: 'opt-in-not-required',
        messageSet: [],
      })),
    };
  },
};

/** Handlers that need the list of configured regions. */
export function regionHandlers(regions: readonly string[]): Record<string, Handler> {
  return {
    DescribeRegions(_ctx, p: Params) {
      const wanted = p.list('RegionName');
      for (const name of wanted) {
        if (!regions.includes(name)) throw new Ec2Error('InvalidParameterValue', `Invalid region: ${name}`);
      }
      const names = applyFilters(
        regions.filter((r) => wanted.length === 0 || wanted.includes(r)),
        readFilters(p),
        { 'region-name': (r) => r, endpoint: (r) => `ec2.${r}.amazonaws.com`, 'opt-in-status': () => 'opt-in-not-required' },
      );
      return {
        regionInfo: names.map((r) => ({ regionName: r, regionEndpoint: `ec2.${r}.amazonaws.com`, optInStatus: 'opt-in-not-required' })),
      };
    },
    DescribeAccountAttributes(_ctx, p: Params) {
      const attrs: Record<string, string[]> = {
        'supported-platforms': ['VPC'],
        'default-vpc': ['none'],
        'max-instances': ['20'],
        'vpc-max-security-groups-per-interface': ['5'],
        'max-elastic-ips': ['5'],
        'vpc-max-elastic-ips': ['5'],
      };
      const wanted = p.list('AttributeName');
      return {
        accountAttributeSet: Object.entries(attrs)
          .filter(([name]) => wanted.length === 0 || wanted.some((w) => wildcardMatch(w, name)))
          .map(([attributeName, values]) => ({ attributeName, attributeValueSet: values.map((attributeValue) => ({ attributeValue })) })),
      };
    },
  };
}
