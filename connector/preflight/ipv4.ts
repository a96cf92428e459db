// IPv4 arithmetic for subnet checks: four lines of integer math, not worth a dependency (node:net has
// isIPv4/BlockList but nothing that names the network's first and last addresses).

export function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  first: number;
  size: number;
}

export function parseCidr(cidr: string): Cidr | undefined {
  const [ip = '', bitsText = ''] = cidr.split('/');
  const base = ipv4ToInt(ip);
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  return { first: base - (base % size), size };
}

/**
 * Where an address falls in an AWS subnet. AWS reserves the first four addresses (network, VPC router, DNS,
 * future use) and the last one (broadcast) of every subnet.
 */
export function placeInSubnet(ip: string, cidr: string): 'usable' | 'outside' | 'reserved' {
  const n = ipv4ToInt(ip);
  const net = parseCidr(cidr);
  if (n === undefined || !net) return 'outside';
  if (n < net.first || n >= net.first + net.size) return 'outside';
  const offset = n - net.first;
  return offset < 4 || offset === net.size - 1 ? 'reserved' : 'usable';
}

/** The range a user may pick from, e.g. "10.0.1.4 to 10.0.1.254". */
export function usableRange(cidr: string): string | undefined {
  const net = parseCidr(cidr);
  if (!net || net.size < 8) return undefined;
  return `${intToIpv4(net.first + 4)} to ${intToIpv4(net.first + net.size - 2)}`;
}
