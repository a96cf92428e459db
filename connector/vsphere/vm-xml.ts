// A virtual machine's properties as the client reads them (paths, devices, snapshots, power state) and the NFC
// lease info, parsed from SOAP XML.
import { arr, bool, child, isObj, num, str, text, toMoRef, xsiType, type XmlValue } from './soap.ts';
import type { HttpNfcLeaseDeviceUrl, HttpNfcLeaseInfo, VmDisk, VmNic, VmPowerState } from './types.ts';

export const VM_PATHS = [
  'name',
  'parent',
  'config.guestId',
  'config.guestFullName',
  'config.instanceUuid',
  'config.hardware.numCPU',
  'config.hardware.memoryMB',
  'config.hardware.device',
  'runtime.powerState',
  'runtime.host',
  'snapshot',
];

const NIC_TYPES = new Set([
  'VirtualE1000',
  'VirtualE1000e',
  'VirtualPCNet32',
  'VirtualVmxnet',
  'VirtualVmxnet2',
  'VirtualVmxnet3',
  'VirtualVmxnet3Vrdma',
  'VirtualSriovEthernetCard',
]);

export function parseLeaseInfo(node: XmlValue): HttpNfcLeaseInfo {
  const deviceUrl: HttpNfcLeaseDeviceUrl[] = arr(child(node, 'deviceUrl')).map((d) => {
    const sslThumbprint = str(d, 'sslThumbprint');
    const targetId = str(d, 'targetId');
    const fileSize = num(d, 'fileSize');
    return {
      key: str(d, 'key') ?? '',
      importKey: str(d, 'importKey') ?? '',
      url: str(d, 'url') ?? '',
      ...(sslThumbprint ? { sslThumbprint } : {}),
      disk: bool(d, 'disk') ?? false,
      ...(targetId ? { targetId } : {}),
      ...(fileSize !== undefined ? { fileSize } : {}),
    };
  });
  return {
    leaseTimeout: num(node, 'leaseTimeout') ?? 0,
    totalDiskCapacityInKB: num(node, 'totalDiskCapacityInKB') ?? 0,
    deviceUrl,
  };
}

export function flattenSnapshots(tree: XmlValue, out: { id: string; name: string }[] = []): { id: string; name: string }[] {
  for (const s of arr(tree)) {
    if (!isObj(s)) continue;
    const ref = toMoRef(s.snapshot);
    if (ref) out.push({ id: ref.value, name: text(s.name) ?? '' });
    flattenSnapshots(s.childSnapshotList, out);
  }
  return out;
}

export function parseDevices(devices: XmlValue, networkNames: Map<string, string>): { disks: VmDisk[]; nics: VmNic[] } {
  const disks: VmDisk[] = [];
  const nics: VmNic[] = [];
  for (const d of arr(child(devices, 'VirtualDevice'))) {
    const type = xsiType(d) ?? '';
    const key = num(d, 'key') ?? 0;
    const label = str(child(d, 'deviceInfo'), 'label') ?? `${type} ${key}`;
    const backing = child(d, 'backing');
    if (type === 'VirtualDisk') {
      const bytes = num(d, 'capacityInBytes');
      const kb = num(d, 'capacityInKB') ?? 0;
      const diskMode = str(backing, 'diskMode');
      const fileName = str(backing, 'fileName');
      disks.push({
        key,
        label,
        capacityBytes: bytes !== undefined && bytes > 0 ? bytes : kb * 1024,
        ...(diskMode ? { diskMode } : {}),
        backingType: xsiType(backing) ?? 'unknown',
        ...(fileName ? { fileName } : {}),
        // VM encryption puts a CryptoKeyId on the disk backing (flat ver2, sparse ver2 and seSparse backings).
        encrypted: child(backing, 'keyId') !== undefined,
      });
    } else if (NIC_TYPES.has(type) || child(d, 'addressType') !== undefined) {
      const mac = str(d, 'macAddress');
      const netRef = toMoRef(child(backing, 'network'));
      const pgKey = str(child(backing, 'port'), 'portgroupKey');
      const network =
        str(backing, 'deviceName') ||
        (netRef ? networkNames.get(netRef.value) : undefined) ||
        (pgKey ? (networkNames.get(pgKey) ?? pgKey) : undefined) ||
        str(backing, 'opaqueNetworkId');
      nics.push({ key, label, ...(network ? { network } : {}), ...(mac ? { macAddress: mac } : {}) });
    }
  }
  return { disks, nics };
}

export function parsePowerState(v: string | undefined): VmPowerState {
  return v === 'poweredOn' || v === 'suspended' ? v : 'poweredOff';
}
