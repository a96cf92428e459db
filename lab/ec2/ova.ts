// A small but structurally real OVA: a ustar archive whose first entry is the .ovf descriptor, then the disk.
// The tar writer is hand-written: no tar library is a dependency and an OVA needs only regular-file entries.
import type { Instance } from './state.ts';

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, mtimeMs: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(Math.floor(mtimeMs / 1000), 12), 136);
  h.fill(' ', 148, 156);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('someone', 265);
  h.write('someone', 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

export function tar(entries: { name: string; data: Buffer }[], mtimeMs: number): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e.name, e.data.length, mtimeMs), e.data);
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** A VMDK sparse-extent header plus its text descriptor; the grain data is left out (placeholder disk). */
function vmdkPlaceholder(capacityBytes: number): Buffer {
  const sectors = BigInt(Math.ceil(capacityBytes / BLOCK));
  const header = Buffer.alloc(BLOCK);
  header.write('KDMV', 0, 'latin1');
  header.writeUInt32LE(3, 4); // version
  header.writeUInt32LE(0x30001, 8); // valid newline test, compressed grains, markers
  header.writeBigUInt64LE(sectors, 12); // capacity
  header.writeBigUInt64LE(128n, 20); // grain size (sectors)
  header.writeBigUInt64LE(1n, 28); // descriptor offset
  header.writeBigUInt64LE(1n, 36); // descriptor size
  header.writeUInt32LE(512, 44); // GTEs per GT
  header.writeBigUInt64LE(0xffffffffffffffffn, 56); // grain directory at end (stream-optimized)
  header.write('\n \r\n', 73, 'latin1');
  header.writeUInt16LE(1, 77); // deflate
  const descriptor = Buffer.alloc(BLOCK);
  descriptor.write(
    [
      '# Disk DescriptorFile',
      'version=1',
      'CID=fffffffe',
      'parentCID=ffffffff',
      'createType="streamOptimized"',
      `RW ${sectors} SPARSE "disk1.vmdk"`,
      'ddb.adapterType = "lsilogic"',
      '',
    ].join('\n'),
    'latin1',
  );
  return Buffer.concat([header, descriptor]);
}

function diskPlaceholder(format: string, capacityBytes: number): Buffer {
  if (format === 'vmdk') return vmdkPlaceholder(capacityBytes);
  const data = Buffer.alloc(64 * 1024);
  if (format === 'vhd') data.write('conectix', data.length - BLOCK, 'latin1'); // VHD footer cookie
  return data;
}

const MEMORY_MIB: Record<string, number> = { micro: 1024, small: 2048, medium: 4096, large: 8192, xlarge: 16384 };

function ovfDescriptor(inst: Instance, diskFile: string, diskFormat: string, capacityBytes: number, diskSize: number): string {
  const size = inst.instanceType.split('.')[1] ?? 'large';
  const memory = MEMORY_MIB[size] ?? 32768;
  const cpus = Math.max(1, Math.round(memory / 4096));
  const formatUri = diskFormat === 'vmdk' ? 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized' : `urn:${diskFormat}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References><File ovf:href="${diskFile}" ovf:id="file1" ovf:size="${diskSize}"/></References>
  <DiskSection><Info>Virtual disk information</Info>
    <Disk ovf:capacity="${capacityBytes}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="${formatUri}"/>
  </DiskSection>
  <NetworkSection><Info>Logical networks</Info><Network ovf:name="VM Network"><Description>VM Network</Description></Network></NetworkSection>
  <VirtualSystem ovf:id="${inst.id}">
    <Info>Exported from Amazon EC2 instance ${inst.id} (${inst.instanceType})</Info>
    <Name>${inst.id}</Name>
    <OperatingSystemSection ovf:id="${inst.platform === 'windows' ? 1 : 101}"><Info>Guest OS</Info></OperatingSystemSection>
    <VirtualHardwareSection><Info>Virtual hardware requirements</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-10</vssd:VirtualSystemType></System>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>${cpus} virtual CPU(s)</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>${cpus}</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>${memory}MB of memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>${memory}</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:ElementName>SCSI Controller 0</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>Hard Disk 1</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>VM Network</rasd:Connection><rasd:ElementName>Network adapter 1</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}

/** The exported object: an OVA (ovf + disk) or, without a container format, the bare disk image. */
export function exportArtifact(inst: Instance, exportTaskId: string, diskFormat: string, ova: boolean, mtimeMs: number): { body: Buffer; contentType: string } {
  const capacityBytes = (inst.volumes[0]?.sizeGiB ?? 8) * 1024 ** 3;
  const disk = diskPlaceholder(diskFormat, capacityBytes);
  if (!ova) return { body: disk, contentType: 'application/octet-stream' };
  const diskFile = `${exportTaskId}-disk1.${diskFormat}`;
  const ovf = Buffer.from(ovfDescriptor(inst, diskFile, diskFormat, capacityBytes, disk.length), 'utf8');
  return {
    body: tar([{ name: `${exportTaskId}.ovf`, data: ovf }, { name: diskFile, data: disk }], mtimeMs),
    contentType: 'application/x-tar',
  };
}
