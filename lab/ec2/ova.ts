// What VM Export writes to S3: an OVA (a ustar archive, the .ovf descriptor first, then the stream-optimized VMDK of
// the instance's root volume) or the bare disk image (VMDK, RAW or a fixed VHD), produced as a stream from the
// volume's blocks. The tar writer is hand-written: no tar library is a dependency and an OVA needs only regular files.
import { randomBytes } from 'node:crypto';
import type { EbsStore } from './ebs-store.ts';
import { volumeSource } from './disk-content.ts';
import { StreamVmdkWriter } from './vmdk-stream.ts';
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
  if (size < 8 ** 11) h.write(octal(size, 12), 124);
  else {
    // Past ustar's 8 GiB: the size in base-256 (GNU tar, and every OVF reader), high bit of the first byte set.
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 128);
  }
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

function padding(size: number): Buffer | undefined {
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  return pad > 0 ? Buffer.alloc(pad) : undefined;
}

const MEMORY_MIB: Record<string, number> = { micro: 1024, small: 2048, medium: 4096, large: 8192, xlarge: 16384 };

/** The OVF descriptor VM Export writes for an instance (exported for the lab vCenter's import tests). */
export function ovfDescriptor(
  inst: Pick<Instance, 'id' | 'instanceType' | 'platform'>,
  diskFile: string,
  diskFormat: string,
  capacityBytes: number,
  diskSize: number,
): string {
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


/** A fixed VHD's footer (big-endian, after the raw content): what Hyper-V and Citrix Xen read. */
function vhdFooter(sizeBytes: number, mtimeMs: number): Buffer {
  const f = Buffer.alloc(BLOCK);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8);
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(0xffffffffffffffffn, 16);
  f.writeUInt32BE(Math.max(0, Math.floor((mtimeMs - Date.UTC(2000, 0, 1)) / 1000)) >>> 0, 24);
  f.write('vm2e', 28, 'latin1');
  f.writeUInt32BE(0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(sizeBytes), 40);
  f.writeBigUInt64BE(BigInt(sizeBytes), 48);
  // CHS geometry as the VHD specification computes it.
  let total = Math.min(Math.floor(sizeBytes / BLOCK), 65535 * 16 * 255);
  let spt: number;
  let heads: number;
  let cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(total / spt);
  } else {
    spt = 17;
    cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(total / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(total / spt);
    }
  }
  total = Math.floor(cth / heads);
  f.writeUInt16BE(Math.min(total, 65535), 56);
  f.writeUInt8(heads, 58);
  f.writeUInt8(spt, 59);
  f.writeUInt32BE(2, 60); // fixed disk
  randomBytes(16).copy(f, 68);
  let sum = 0;
  for (const b of f) sum += b;
  f.writeUInt32BE(~sum >>> 0, 64);
  return f;
}

export interface ExportArtifact {
  contentType: string;
  /** The object's bytes in order; produced as they are read, never held whole. */
  chunks: Iterable<Buffer>;
}

/**
 * The exported object for the instance's root volume, or the StatusMessage of a failed export. VM Export reads the
 * volume's snapshot: an instance whose AMI snapshot was deleted cannot be exported (as the VM Export guide says).
 */
export function exportArtifact(
  ebs: EbsStore,
  inst: Instance,
  exportTaskId: string,
  diskFormat: string,
  ova: boolean,
  mtimeMs: number,
): ExportArtifact | { error: string } {
  const volume = inst.volumes[0];
  const snap = volume?.snapshotId === undefined ? undefined : ebs.get(volume.snapshotId);
  if (!volume || !snap) {
    return {
      error: `ClientError: The snapshot ${volume?.snapshotId ?? ''} of instance ${inst.id}'s root volume no longer exists. Create an AMI from the instance and export that.`,
    };
  }
  const src = volumeSource(ebs, snap);
  const diskFile = `${exportTaskId}-disk1.${diskFormat}`;
  let disk: { size: number; chunks: () => Iterable<Buffer> };
  if (diskFormat === 'vmdk') {
    const vmdk = new StreamVmdkWriter(src, diskFile);
    disk = { size: vmdk.size, chunks: () => vmdk.chunks() };
  } else {
    const footer = diskFormat === 'vhd' ? vhdFooter(src.capacityBytes, mtimeMs) : undefined;
    disk = {
      size: src.capacityBytes + (footer?.length ?? 0),
      *chunks() {
        for (let off = 0; off < src.capacityBytes; off += 1 << 20) yield src.read(off, Math.min(1 << 20, src.capacityBytes - off));
        if (footer) yield footer;
      },
    };
  }
  if (!ova) return { contentType: 'application/octet-stream', chunks: disk.chunks() };
  const ovf = Buffer.from(ovfDescriptor(inst, diskFile, diskFormat, src.capacityBytes, disk.size), 'utf8');
  return {
    contentType: 'application/x-tar',
    chunks: (function* () {
      yield tarHeader(`${exportTaskId}.ovf`, ovf.length, mtimeMs);
      yield ovf;
      const ovfPad = padding(ovf.length);
      if (ovfPad) yield ovfPad;
      yield tarHeader(diskFile, disk.size, mtimeMs);
      yield* disk.chunks();
      const diskPad = padding(disk.size);
      if (diskPad) yield diskPad;
      yield Buffer.alloc(BLOCK * 2);
    })(),
  };
}
