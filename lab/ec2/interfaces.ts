// DescribeNetworkInterfaces: one ENI per instance that is not terminated, plus one requester-managed ENI per
// address that a seeded subnet reserves for "other services" (the nearly-full subnet), so address checks agree
// with RunInstances and DescribeSubnets.
import { Ec2Error } from './errors.ts';
import { privateDnsName } from './instances.ts';
import { addressesHeldByOthers } from './network.ts';
import { applyFilters, paginate, readFilters, type Params } from './query.ts';
import { seededId, type Core, type Handler, type RegionState } from './state.ts';
import type { XmlObject } from './xml.ts';

/** Description of the ENIs standing for addresses held outside the emulator (shaped like a load balancer's ENI). */
export const REQUESTER_MANAGED_DESCRIPTION = 'ELB app/lab-internal-alb/5d1e0f3a7c2b9e84';
const REQUESTER_ID = 'amazon-elb';

interface Eni {
  id: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  description: string;
  requesterManaged: boolean;
  macAddress: string;
  privateIp: string;
  groupIds: string[];
  instanceId?: string;
  attachmentId: string;
  deviceIndex: number;
  attachTime?: number;
}

function allEnis(region: RegionState): Eni[] {
  const out: Eni[] = [];
  for (const subnet of region.subnets.values()) {
    const def = [...region.securityGroups.values()].find((g) => g.name === 'default' && g.vpcId === subnet.vpcId);
    for (const ip of addressesHeldByOthers(subnet)) {
      const id = seededId('eni', region.name, subnet.id, ip);
      out.push({
        id,
        subnetId: subnet.id,
        vpcId: subnet.vpcId,
        availabilityZone: subnet.availabilityZone,
        description: REQUESTER_MANAGED_DESCRIPTION,
        requesterManaged: true,
        macAddress: `0a:${(id.slice(4, 14).match(/../g) ?? []).join(':')}`,
        privateIp: ip,
        groupIds: def ? [def.id] : [],
        attachmentId: `eni-attach-${id.slice(4)}`,
        deviceIndex: 1,
      });
    }
  }
  for (const i of region.instances.values()) {
    // The primary ENI is deleted with its instance (DeleteOnTermination), as subnetAddresses() assumes.
    if (i.state === 'terminated') continue;
    out.push({
      id: i.networkInterfaceId,
      subnetId: i.subnetId,
      vpcId: i.vpcId,
      availabilityZone: i.availabilityZone,
      description: '',
      requesterManaged: false,
      macAddress: i.macAddress,
      privateIp: i.privateIp,
      groupIds: i.securityGroupIds,
      instanceId: i.id,
      attachmentId: `eni-attach-${i.networkInterfaceId.slice(4)}`,
      deviceIndex: 0,
      attachTime: i.launchTime,
    });
  }
  return out;
}

function eniXml(core: Core, region: RegionState, e: Eni): XmlObject {
  const dns = privateDnsName(region.name, e.privateIp);
  return {
    networkInterfaceId: e.id,
    subnetId: e.subnetId,
    vpcId: e.vpcId,
    availabilityZone: e.availabilityZone,
    description: e.description,
    ownerId: core.accountId,
    requesterId: e.requesterManaged ? REQUESTER_ID : undefined,
    requesterManaged: e.requesterManaged,
    status: 'in-use',
    macAddress: e.macAddress,
    privateIpAddress: e.privateIp,
    privateDnsName: dns,
    sourceDestCheck: true,
    groupSet: e.groupIds.map((groupId) => ({ groupId, groupName: region.securityGroups.get(groupId)?.name })),
    attachment: {
      attachmentId: e.attachmentId,
      instanceId: e.instanceId,
      instanceOwnerId: e.instanceId ? core.accountId : REQUESTER_ID,
      deviceIndex: e.deviceIndex,
      networkCardIndex: 0,
      status: 'attached',
      attachTime: e.attachTime !== undefined ? new Date(e.attachTime) : undefined,
      deleteOnTermination: e.instanceId !== undefined,
    },
    tagSet: [],
    privateIpAddressesSet: [{ privateIpAddress: e.privateIp, privateDnsName: dns, primary: true }],
    ipv6AddressesSet: [],
    interfaceType: 'interface',
  };
}

export const interfaceHandlers: Record<string, Handler> = {
  DescribeNetworkInterfaces({ core, region }, p: Params) {
    let enis = allEnis(region);
    const ids = p.list('NetworkInterfaceId');
    if (ids.length > 0) {
      const byId = new Map(enis.map((e) => [e.id, e]));
      enis = ids.map((id) => {
        const e = byId.get(id);
        if (!e) throw new Ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
        return e;
      });
    }
    const filtered = applyFilters(
      enis,
      readFilters(p),
      {
        'network-interface-id': (e) => e.id,
        'subnet-id': (e) => e.subnetId,
        'vpc-id': (e) => e.vpcId,
        'availability-zone': (e) => e.availabilityZone,
        'private-ip-address': (e) => e.privateIp,
        'addresses.private-ip-address': (e) => e.privateIp,
        'attachment.instance-id': (e) => e.instanceId,
        'attachment.status': () => 'attached',
        'requester-managed': (e) => String(e.requesterManaged),
        description: (e) => e.description,
        'group-id': (e) => e.groupIds,
        'mac-address': (e) => e.macAddress,
        'interface-type': () => 'interface',
        status: () => 'in-use',
      },
      () => [],
    );
    const { page, nextToken } = paginate(filtered, p.int('MaxResults'), p.str('NextToken'));
    return { networkInterfaceSet: page.map((e) => eniXml(core, region, e)), nextToken };
  },
};
