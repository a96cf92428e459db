// RunInstances / DescribeInstances / Start / Stop / Terminate and the instance state machine.
import { Ec2Error } from './errors.ts';
import { defaultDeviceName, findImage } from './images.ts';
import { KNOWN_INSTANCE_TYPES, ipToInt, offeredTypes, subnetAddresses } from './network.ts';
import { launchKeyProblem } from './import-options.ts';
import { launchBootMode } from './instance-types.ts';
import { applyFilters, paginate, readFilters, type Params } from './query.ts';
import { tagSpecifications } from './tags.ts';
import {
  INSTANCE_STATE_CODES,
  newId,
  tagsXml,
  type Core,
  type Handler,
  type Image,
  type Instance,
  type InstanceStateName,
  type RegionState,
  type SecurityGroup,
} from './state.ts';
import type { XmlObject } from './xml.ts';

const TERMINATED_VISIBLE_MS = 3600 * 1000;

const stateXml = (s: InstanceStateName) => ({ code: INSTANCE_STATE_CODES[s], name: s });

export function privateDnsName(region: string, ip: string): string {
  const host = `ip-${ip.replace(/\./g, '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

export function instanceXml(core: Core, region: RegionState, i: Instance): XmlObject {
  const groups = i.securityGroupIds.map((id) => ({ groupId: id, groupName: region.securityGroups.get(id)?.name }));
  const attached = i.state !== 'terminated';
  return {
    instanceId: i.id,
    imageId: i.imageId,
    instanceState: stateXml(i.state),
    privateDnsName: attached ? privateDnsName(region.name, i.privateIp) : '',
    dnsName: '',
    reason: i.stateTransitionReason,
    keyName: i.keyName,
    amiLaunchIndex: i.amiLaunchIndex,
    productCodes: [],
    instanceType: i.instanceType,
    launchTime: new Date(i.launchTime),
    placement: { availabilityZone: i.availabilityZone, groupName: '', tenancy: i.tenancy },
    platform: i.platform,
    platformDetails: i.platformDetails,
    usageOperation: i.usageOperation,
    usageOperationUpdateTime: new Date(i.launchTime),
    monitoring: { state: 'disabled' },
    subnetId: attached ? i.subnetId : undefined,
    vpcId: attached ? i.vpcId : undefined,
    privateIpAddress: attached ? i.privateIp : undefined,
    sourceDestCheck: true,
    groupSet: groups,
    stateReason: i.stateReason,
    architecture: i.architecture,
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/sda1',
    blockDeviceMapping: attached
      ? i.volumes.map((v) => ({
          deviceName: v.deviceName,
          ebs: { volumeId: v.volumeId, status: 'attached', attachTime: new Date(i.launchTime), deleteOnTermination: true },
        }))
      : [],
    virtualizationType: 'hvm',
    clientToken: i.clientToken,
    tagSet: tagsXml(i.tags),
    hypervisor: 'xen',
    networkInterfaceSet: attached
      ? [
          {
            networkInterfaceId: i.networkInterfaceId,
            subnetId: i.subnetId,
            vpcId: i.vpcId,
            description: '',
            ownerId: core.accountId,
            status: 'in-use',
            macAddress: i.macAddress,
            privateIpAddress: i.privateIp,
            privateDnsName: privateDnsName(region.name, i.privateIp),
            sourceDestCheck: true,
            groupSet: groups,
            attachment: { attachmentId: `eni-attach-${i.networkInterfaceId.slice(4)}`, deviceIndex: 0, status: 'attached', deleteOnTermination: true },
            privateIpAddressesSet: [{ privateIpAddress: i.privateIp, privateDnsName: privateDnsName(region.name, i.privateIp), primary: true }],
            interfaceType: 'interface',
          },
        ]
      : [],
    ebsOptimized: false,
    enaSupport: true,
    bootMode: i.bootMode,
    currentInstanceBootMode: i.currentBootMode,
  };
}

export function findInstance(region: RegionState, core: Core, id: string): Instance {
  const inst = region.instances.get(id);
  if (inst && !(inst.terminatedAt !== undefined && inst.terminatedAt < core.now() - TERMINATED_VISIBLE_MS)) return inst;
  if (!/^i-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
  throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
}

function reservationsXml(core: Core, region: RegionState, instances: Instance[]): XmlObject[] {
  const byReservation = new Map<string, Instance[]>();
  for (const i of instances) byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
  return [...byReservation.entries()].map(([reservationId, list]) => ({
    reservationId,
    ownerId: core.accountId,
    groupSet: [],
    instancesSet: list.map((i) => instanceXml(core, region, i)),
  }));
}

function resolveGroups(region: RegionState, vpcId: string, ids: string[], names: string[]): SecurityGroup[] {
  const groups = ids.map((id) => {
    const g = region.securityGroups.get(id);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    return g;
  });
  for (const name of names) {
    const g = [...region.securityGroups.values()].find((s) => s.name === name && s.vpcId === vpcId);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in VPC '${vpcId}'`);
    groups.push(g);
  }
  for (const g of groups) {
    if (g.vpcId !== vpcId) throw new Ec2Error('InvalidParameter', `Security group ${g.id} and subnet belong to different networks.`);
  }
  if (groups.length === 0) {
    const def = [...region.securityGroups.values()].find((s) => s.name === 'default' && s.vpcId === vpcId);
    if (def) groups.push(def);
  }
  return groups;
}

/** What AWS checks between an AMI (typically one made with RegisterImage) and the instance type. */
function assertImageRunsOn(image: Image, instanceType: string): void {
  const family = instanceType.split('.')[0] ?? '';
  const arch = image.architecture;
  if (arch !== 'x86_64' && !(arch === 'i386' && family === 't2')) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `The architecture 'x86_64' of the specified instance type does not match the architecture '${arch}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.`,
    );
  }
  if (image.virtualizationType === 'paravirtual') {
    throw new Ec2Error('InvalidParameterCombination', `The instance type ${instanceType} does not support paravirtual AMIs; register the AMI with VirtualizationType hvm.`);
  }
  if (image.enaSupport === false && family !== 't2') {
    throw new Ec2Error(
      'InvalidParameterCombination',
      `Enhanced networking with the Elastic Network Adapter (ENA) is required for the '${instanceType}' instance type. Ensure that you are using an AMI that is enabled for ENA.`,
    );
  }
}

function runInstances(core: Core, region: RegionState, p: Params): XmlObject {
  const clientToken = p.str('ClientToken');
  const reused = clientToken !== undefined ? region.runTokens.get(clientToken) : undefined;
  if (reused !== undefined) {
    const instances = [...region.instances.values()].filter((i) => i.reservationId === reused);
    return { ...reservationsXml(core, region, instances)[0] };
  }
  const image = findImage(region, p.required('ImageId'));
  if (image.state !== 'available') throw new Ec2Error('InvalidAMIID.Unavailable', `The image ${image.id} is ${image.state}; wait until it is available.`);
  const minCount = p.int('MinCount') ?? 1;
  const maxCount = p.int('MaxCount') ?? minCount;
  if (minCount < 1 || maxCount < minCount) throw new Ec2Error('InvalidParameterValue', `MinCount (${minCount}) and MaxCount (${maxCount}) must satisfy 1 <= MinCount <= MaxCount.`);

  // Network settings either at top level or inside NetworkInterface.1 (then they must all be there).
  const nic = p.structs('NetworkInterface')[0];
  const subnetId = nic?.str('SubnetId') ?? p.str('SubnetId');
  const requestedIp = nic?.str('PrivateIpAddress') ?? p.str('PrivateIpAddress');
  const groupIds = nic ? nic.list('SecurityGroupId') : p.list('SecurityGroupId');
  if (subnetId === undefined) throw new Ec2Error('VPCIdNotSpecified', `No default VPC for this user in ${region.name}. Specify a SubnetId.`);
  const subnet = region.subnets.get(subnetId);
  if (!subnet) throw new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
  const groups = resolveGroups(region, subnet.vpcId, groupIds, p.list('SecurityGroup'));

  const instanceType = p.str('InstanceType') ?? 't3.micro';
  if (!KNOWN_INSTANCE_TYPES.includes(instanceType)) throw new Ec2Error('InvalidParameterValue', `Invalid value '${instanceType}' for InstanceType.`);
  if (!offeredTypes(region.name, subnet.availabilityZone).includes(instanceType)) {
    throw new Ec2Error(
      'Unsupported',
      `Your requested instance type (${instanceType}) is not supported in your requested Availability Zone (${subnet.availabilityZone}). ` +
        `Choose another instance type or a subnet in another Availability Zone.`,
    );
  }

  assertImageRunsOn(image, instanceType);
  const currentBootMode = launchBootMode(instanceType, image.bootMode);
  const tenancy = p.str('Placement.Tenancy') ?? 'default';
  if (tenancy === 'host') {
    throw new Ec2Error('InvalidParameterValue', 'The lab EC2 emulator has no Dedicated Hosts (Placement.Tenancy host); launch with Tenancy default or dedicated.');
  }
  if (tenancy !== 'default' && tenancy !== 'dedicated') {
    throw new Ec2Error('InvalidParameterValue', `Value (${tenancy}) for parameter Placement.Tenancy is invalid. Valid values: default | dedicated | host.`);
  }
  const tagsByType = tagSpecifications(p, ['instance', 'volume', 'network-interface']);

  const addresses = subnetAddresses(region, subnet);
  const ips: string[] = [];
  if (requestedIp !== undefined) {
    if (maxCount > 1) throw new Ec2Error('InvalidParameterCombination', 'PrivateIpAddress can only be used when launching a single instance.');
    const check = addresses.check(requestedIp);
    if (check === 'outside') throw new Ec2Error('InvalidParameterValue', `Address ${requestedIp} does not fall within the subnet's address range (${subnet.cidr}).`);
    if (check === 'reserved') throw new Ec2Error('InvalidParameterValue', `Address ${requestedIp} is reserved by AWS in subnet ${subnet.cidr}.`);
    if (check === 'in-use') throw new Ec2Error('InvalidIPAddress.InUse', `Address ${requestedIp} is in use.`);
    ips.push(requestedIp);
  } else {
    const taken = new Set<number>();
    while (ips.length < maxCount) {
      const ip = addresses.nextFree(taken);
      if (ip === undefined) break;
      taken.add(ipToInt(ip));
      ips.push(ip);
    }
    if (ips.length < minCount) {
      throw new Ec2Error('InsufficientFreeAddressesInSubnet', `There are not enough free addresses in subnet '${subnet.id}' to satisfy the requested number of instances.`);
    }
  }

  const now = core.now();
  const reservationId = newId('r');
  const tags = tagsByType.get('instance') ?? [];
  const volumeTags = tagsByType.get('volume') ?? [];
  const windows = image.platform === 'windows';
  // Volumes from an encrypted snapshot are encrypted with its key; a key that cannot be used ends the launch.
  const keyProblem = launchKeyProblem(core, region.name, image.snapshots.map((s) => (s.encrypted ? s.kmsKeyArn : undefined)));
  const launchFailure = keyProblem ? { ...keyProblem, endsIn: 'terminated' as const } : undefined;
  const instances = ips.map((ip, idx): Instance => ({
    id: newId('i'),
    reservationId,
    imageId: image.id,
    instanceType,
    subnetId: subnet.id,
    vpcId: subnet.vpcId,
    availabilityZone: subnet.availabilityZone,
    privateIp: ip,
    securityGroupIds: groups.map((g) => g.id),
    state: 'pending',
    stateTransitionReason: '',
    launchTime: now,
    amiLaunchIndex: idx,
    tags: tags.map((t) => ({ ...t })),
    clientToken,
    keyName: p.str('KeyName'),
    platform: image.platform,
    platformDetails: image.platformDetails ?? (windows ? 'Windows' : 'Linux/UNIX'),
    usageOperation: image.usageOperation ?? (windows ? 'RunInstances:0002' : 'RunInstances'),
    tenancy,
    bootMode: image.bootMode,
    currentBootMode,
    architecture: image.architecture,
    volumes: image.snapshots.map((s, i) => ({
      volumeId: newId('vol'),
      deviceName: s.deviceName ?? defaultDeviceName(i),
      sizeGiB: s.sizeGiB,
      snapshotId: s.snapshotId,
      encrypted: s.encrypted ?? false,
      kmsKeyArn: s.encrypted ? s.kmsKeyArn : undefined,
      tags: volumeTags.map((t) => ({ ...t })),
      createTime: now,
    })),
    ...(launchFailure ? { launchFailure } : {}),
    networkInterfaceId: newId('eni'),
    macAddress: `0e:${Array.from({ length: 5 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join(':')}`,
    nextAt: now + core.stageMs,
  }));
  for (const i of instances) region.instances.set(i.id, i);
  if (clientToken !== undefined) region.runTokens.set(clientToken, reservationId);
  return { ...reservationsXml(core, region, instances)[0] };
}

type Transition = (i: Instance) => InstanceStateName | 'incorrect';

function changeStates(core: Core, region: RegionState, p: Params, transition: Transition, verb: string): XmlObject[] {
  const targets = p.list('InstanceId').map((id) => findInstance(region, core, id));
  if (targets.length === 0) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId.');
  const plans = targets.map((i) => ({ i, next: transition(i) }));
  const refused = plans.find((x) => x.next === 'incorrect');
  if (refused) throw new Ec2Error('IncorrectInstanceState', `The instance '${refused.i.id}' is not in a state from which it can be ${verb} (it is ${refused.i.state}).`);
  return plans.map(({ i, next }) => {
    const previous = i.state;
    if (next !== 'incorrect' && next !== previous) {
      i.state = next;
      i.nextAt = core.now() + core.stageMs;
      if (next === 'pending') i.stateReason = undefined;
      if (next === 'stopping' || next === 'shutting-down') {
        i.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
        i.stateTransitionReason = `User initiated (${new Date(core.now()).toISOString().replace(/\.\d+Z$/, ' GMT').replace('T', ' ')})`;
      }
    }
    return { instanceId: i.id, previousState: stateXml(previous), currentState: stateXml(i.state) };
  });
}

export const instanceHandlers: Record<string, Handler> = {
  RunInstances: ({ core, region }, p) => runInstances(core, region, p),

  DescribeInstances({ core, region }, p) {
    const ids = p.list('InstanceId');
    const visible = ids.length > 0
      ? ids.map((id) => findInstance(region, core, id))
      : [...region.instances.values()].filter((i) => !(i.terminatedAt !== undefined && i.terminatedAt < core.now() - TERMINATED_VISIBLE_MS));
    const filtered = applyFilters(
      visible,
      readFilters(p),
      {
        'instance-id': (i) => i.id,
        'instance-state-name': (i) => i.state,
        'instance-state-code': (i) => String(INSTANCE_STATE_CODES[i.state]),
        'instance-type': (i) => i.instanceType,
        'image-id': (i) => i.imageId,
        'subnet-id': (i) => i.subnetId,
        'vpc-id': (i) => i.vpcId,
        'private-ip-address': (i) => i.privateIp,
        'availability-zone': (i) => i.availabilityZone,
        'reservation-id': (i) => i.reservationId,
        'client-token': (i) => i.clientToken,
        'instance.group-id': (i) => i.securityGroupIds,
      },
      (i) => i.tags,
    );
    const { page, nextToken } = paginate(filtered, p.int('MaxResults'), p.str('NextToken'));
    return { reservationSet: reservationsXml(core, region, page), nextToken };
  },

  StartInstances: ({ core, region }, p) => ({
    instancesSet: changeStates(
      core,
      region,
      p,
      (i) => {
        if (i.state !== 'stopped') return i.state === 'pending' || i.state === 'running' ? i.state : 'incorrect';
        // A volume whose key is no longer usable: the start ends back in stopped (EC2's InvalidKMSKey state reason).
        const problem = launchKeyProblem(core, region.name, i.volumes.map((v) => (v.encrypted ? v.kmsKeyArn : undefined)));
        i.launchFailure = problem ? { ...problem, endsIn: 'stopped' } : undefined;
        return 'pending';
      },
      'started',
    ),
  }),

  StopInstances: ({ core, region }, p) => ({
    instancesSet: changeStates(
      core,
      region,
      p,
      (i) => (i.state === 'running' || i.state === 'pending' ? 'stopping' : i.state === 'stopped' || i.state === 'stopping' ? i.state : 'incorrect'),
      'stopped',
    ),
  }),

  TerminateInstances: ({ core, region }, p) => ({
    instancesSet: changeStates(core, region, p, (i) => (i.state === 'terminated' || i.state === 'shutting-down' ? i.state : 'shutting-down'), 'terminated'),
  }),
};

const SETTLED: Partial<Record<InstanceStateName, InstanceStateName>> = {
  pending: 'running',
  stopping: 'stopped',
  'shutting-down': 'terminated',
};

export function advanceInstances(core: Core, region: RegionState): void {
  const now = core.now();
  for (const i of region.instances.values()) {
    if (i.nextAt === undefined || i.nextAt > now) continue;
    if (i.state === 'pending' && i.launchFailure) {
      const { code, message, endsIn } = i.launchFailure;
      i.state = endsIn;
      i.stateReason = { code, message };
      i.stateTransitionReason = message;
      if (endsIn === 'terminated') i.terminatedAt = i.nextAt;
      i.launchFailure = undefined;
      i.nextAt = undefined;
      continue;
    }
    const next = SETTLED[i.state];
    if (next) i.state = next;
    if (next === 'terminated') i.terminatedAt = i.nextAt;
    i.nextAt = undefined;
  }
}
