import type { MigrateKey } from '../../i18n/migrate.ts';

function ipToInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/**
 * Checks a typed private IP against the chosen subnet as EC2 does: inside the CIDR, and not one of the five
 * addresses AWS reserves (network, +1 router, +2 DNS, +3 future use, broadcast). Empty is fine: EC2 picks one.
 * Returns the message key of the problem, or null.
 */
export function privateIpProblem(ip: string, subnetCidr: string | undefined): MigrateKey | null {
  const value = ip.trim();
  if (value === '') return null;
  const addr = ipToInt(value);
  if (addr === null) return 'migrate.ip.malformed';
  if (!subnetCidr) return null;
  const [base, bitsText] = subnetCidr.split('/');
  const net = ipToInt(base ?? '');
  const bits = Number(bitsText);
  if (net === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return null;
  const size = 2 ** (32 - bits);
  const first = net - (net % size);
  if (addr < first || addr >= first + size) return 'migrate.ip.outside';
  const offset = addr - first;
  if (offset <= 3 || offset === size - 1) return 'migrate.ip.reserved';
  return null;
}

/** The platform VM Import needs, guessed from the vSphere guest id (the connector's pre-flight may suggest better). */
export function platformFromGuestId(guestId: string): 'Windows' | 'Linux' {
  return /^win/i.test(guestId) ? 'Windows' : 'Linux';
}
