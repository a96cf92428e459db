// What Bring back to vCenter reads from an OVF descriptor before vCenter does: the networks to map and the disks'
// capacities (the datastore space the pre-flight asks for), by what the descriptor declares.
import { describe, expect, it } from 'vitest';
import { allocationUnits, summarizeOvf } from '../../connector/roundtrip/ovf.ts';

const ovf = (disks: string, networks: string) => `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References><File ovf:href="a.vmdk" ovf:id="file1"/><File ovf:href="b.vmdk" ovf:id="file2"/></References>
  <DiskSection><Info>Virtual disks</Info>${disks}</DiskSection>
  <NetworkSection><Info>Logical networks</Info>${networks}</NetworkSection>
  <VirtualSystem ovf:id="vm"><Info>A VM</Info></VirtualSystem>
</Envelope>`;

describe('OVF summary', () => {
  it('sums disk capacities in their declared allocation units and lists every network', () => {
    const s = summarizeOvf(
      ovf(
        '<Disk ovf:capacity="2" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="d1" ovf:fileRef="file1"/><Disk ovf:capacity="1073741824" ovf:diskId="d2" ovf:fileRef="file2"/>',
        '<Network ovf:name="VM Network"><Description>x</Description></Network><Network ovf:name="Backup"/>',
      ),
    );
    expect(s).toEqual({ networks: ['VM Network', 'Backup'], diskCapacities: [2 * 2 ** 30, 2 ** 30] });
  });

  it('reads a single disk and no network section', () => {
    const s = summarizeOvf(ovf('<Disk ovf:capacity="64" ovf:capacityAllocationUnits="byte * 1024 * 1024" ovf:diskId="d1" ovf:fileRef="file1"/>', '').replace('<NetworkSection><Info>Logical networks</Info></NetworkSection>', ''));
    expect(s).toEqual({ networks: [], diskCapacities: [64 * 2 ** 20] });
  });

  it('refuses what is not an OVF or an allocation unit it does not know, saying which', () => {
    expect(() => summarizeOvf('<html/>')).toThrow('the OVF descriptor has no Envelope: it is not an OVF');
    expect(() => allocationUnits('sectors')).toThrow('the OVF uses the unknown allocation unit "sectors"');
    expect(allocationUnits(undefined)).toBe(1);
  });
});
