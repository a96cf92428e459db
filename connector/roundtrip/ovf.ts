// What "Bring back to vCenter" needs from an OVF descriptor before vCenter reads it: the networks to map and the
// disks' capacities (the datastore space to check). Read by what the descriptor declares (DMTF OVF 1.x/2.x), never by
// the layout of one exporter.
import { XMLParser } from 'fast-xml-parser';

export interface OvfSummary {
  networks: string[];
  /** Each disk's capacity in bytes. */
  diskCapacities: number[];
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseAttributeValue: false, parseTagValue: false });

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** `byte`, `byte * 2^20`, `byte * 1024 * 1024`…: the multiplier of an OVF allocation unit. */
export function allocationUnits(units: string | undefined): number {
  if (!units) return 1;
  const u = units.replace(/\s+/g, '');
  if (!u.startsWith('byte')) throw new Error(`the OVF uses the unknown allocation unit "${units}"`);
  let m = 1;
  for (const f of u.slice(4).split('*').filter(Boolean)) {
    const pow = /^(\d+)\^(\d+)$/.exec(f);
    m *= pow ? Number(pow[1]) ** Number(pow[2]) : Number(f);
  }
  if (!Number.isFinite(m) || m <= 0) throw new Error(`the OVF uses the unknown allocation unit "${units}"`);
  return m;
}

export function summarizeOvf(descriptor: string): OvfSummary {
  const doc = parser.parse(descriptor) as { Envelope?: Record<string, unknown> };
  const env = doc.Envelope;
  if (!env) throw new Error('the OVF descriptor has no Envelope: it is not an OVF');
  const networks = list((env.NetworkSection as { Network?: unknown } | undefined)?.Network as { '@_name'?: string } | { '@_name'?: string }[] | undefined)
    .map((n) => n['@_name'] ?? '')
    .filter((n) => n !== '');
  const disks = list((env.DiskSection as { Disk?: unknown } | undefined)?.Disk as Record<string, string> | Record<string, string>[] | undefined);
  const diskCapacities = disks.map((d) => Number(d['@_capacity'] ?? 0) * allocationUnits(d['@_capacityAllocationUnits']));
  return { networks, diskCapacities };
}
