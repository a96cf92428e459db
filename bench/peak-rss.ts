import { readFileSync } from 'node:fs';

/**
 * This process's peak resident set size in bytes. On Linux it is VmHWM from /proc/self/status: getrusage's
 * ru_maxrss (process.resourceUsage().maxRSS) survives fork and exec, so a child spawned by a large parent would
 * report the parent's peak. Elsewhere it falls back to maxRSS.
 */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
