// DescribeInstanceTypes for the emulated families: sizes, hypervisor and the boot modes each supports
// (EC2 user guide, "Boot modes": Nitro-based Intel/AMD types support UEFI and legacy BIOS; Xen types legacy BIOS only).
import { Ec2Error } from './errors.ts';
import { KNOWN_INSTANCE_TYPES, offeredTypes } from './network.ts';
import { applyFilters, paginate, readFilters, type Params } from './query.ts';
import type { Handler } from './state.ts';
import type { XmlObject } from './xml.ts';

export type BootModeType = 'legacy-bios' | 'uefi';

interface TypeInfo {
  vcpus: number;
  memoryMiB: number;
  hypervisor: 'xen' | 'nitro';
  bootModes: BootModeType[];
  architectures: string[];
}

/** vCPUs and GiB of memory per size, per family shape. */
const SHAPES: Record<string, Record<string, [number, number]>> = {
  t2: { micro: [1, 1], small: [1, 2], medium: [2, 4] },
  t3: { micro: [2, 1], small: [2, 2], medium: [2, 4], large: [2, 8], xlarge: [4, 16], '2xlarge': [8, 32] },
  general: { large: [2, 8], xlarge: [4, 16], '2xlarge': [8, 32], '4xlarge': [16, 64] },
  compute: { large: [2, 4], xlarge: [4, 8], '2xlarge': [8, 16] },
  memory: { large: [2, 16], xlarge: [4, 32], '2xlarge': [8, 64] },
};
const SHAPE_OF: Record<string, string> = { t2: 't2', t3: 't3', m5: 'general', m6i: 'general', m7i: 'general', c5: 'compute', c6i: 'compute', r5: 'memory', r6i: 'memory', r7i: 'memory' };

export function instanceTypeInfo(type: string): TypeInfo | undefined {
  if (!KNOWN_INSTANCE_TYPES.includes(type)) return undefined;
  const [family = '', size = ''] = type.split('.');
  const [vcpus, gib] = SHAPES[SHAPE_OF[family] ?? '']?.[size] ?? [2, 8];
  const xen = family === 't2';
  return {
    vcpus,
    memoryMiB: gib * 1024,
    hypervisor: xen ? 'xen' : 'nitro',
    bootModes: xen ? ['legacy-bios'] : ['legacy-bios', 'uefi'],
    architectures: xen ? ['i386', 'x86_64'] : ['x86_64'],
  };
}

/** The boot mode an instance of `type` starts an AMI of `amiBootMode` with, or the RunInstances refusal. */
export function launchBootMode(type: string, amiBootMode: string | undefined): BootModeType {
  const modes = instanceTypeInfo(type)?.bootModes ?? ['legacy-bios'];
  if (amiBootMode === 'uefi') {
    if (!modes.includes('uefi')) {
      throw new Ec2Error(
        'InvalidParameterValue',
        `The ${type} instance type does not support an AMI with a boot mode of UEFI. Only instance types built on the Nitro System support UEFI. Specify an instance type that supports UEFI, and try again.`,
      );
    }
    return 'uefi';
  }
  if (amiBootMode === 'uefi-preferred') return modes.includes('uefi') ? 'uefi' : 'legacy-bios';
  return 'legacy-bios';
}

function typeXml(type: string, info: TypeInfo): XmlObject {
  return {
    instanceType: type,
    currentGeneration: info.hypervisor === 'nitro',
    freeTierEligible: type === 't2.micro' || type === 't3.micro',
    supportedUsageClasses: ['on-demand', 'spot'],
    supportedRootDeviceTypes: ['ebs'],
    supportedVirtualizationTypes: ['hvm'],
    bareMetal: false,
    hypervisor: info.hypervisor,
    processorInfo: { supportedArchitectures: info.architectures, manufacturer: 'Intel' },
    vCpuInfo: { defaultVCpus: info.vcpus },
    memoryInfo: { sizeInMiB: info.memoryMiB },
    instanceStorageSupported: false,
    ebsInfo: { ebsOptimizedSupport: info.hypervisor === 'nitro' ? 'default' : 'unsupported', encryptionSupport: 'supported', nvmeSupport: info.hypervisor === 'nitro' ? 'required' : 'unsupported' },
    networkInfo: { enaSupport: info.hypervisor === 'nitro' ? 'required' : 'unsupported', maximumNetworkInterfaces: 3 },
    dedicatedHostsSupported: info.hypervisor === 'nitro',
    supportedBootModes: info.bootModes,
  };
}

export const instanceTypeHandlers: Record<string, Handler> = {
  DescribeInstanceTypes({ region }, p: Params) {
    const offered = offeredTypes(region.name);
    const wanted = p.list('InstanceType');
    const unknown = wanted.filter((t) => !offered.includes(t));
    if (unknown.length > 0) throw new Ec2Error('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`);
    const rows = (wanted.length > 0 ? wanted : offered).map((type) => ({ type, info: instanceTypeInfo(type) as TypeInfo }));
    const maxResults = p.int('MaxResults');
    if (maxResults !== undefined && (maxResults < 5 || maxResults > 100)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${maxResults}) for parameter maxResults is invalid. Expecting a value between 5 and 100.`);
    }
    const filtered = applyFilters(rows, readFilters(p), {
      'instance-type': (r) => r.type,
      'supported-boot-mode': (r) => r.info.bootModes,
      hypervisor: (r) => r.info.hypervisor,
      'current-generation': (r) => String(r.info.hypervisor === 'nitro'),
      'processor-info.supported-architecture': (r) => r.info.architectures,
      'vcpu-info.default-vcpus': (r) => String(r.info.vcpus),
      'memory-info.size-in-mib': (r) => String(r.info.memoryMiB),
    });
    const { page, nextToken } = paginate(filtered, maxResults, p.str('NextToken'));
    return { instanceTypeSet: page.map((r) => typeXml(r.type, r.info)), nextToken };
  },
};
