// The Node.js flags the connector runs with: the systemd unit's ExecStart (docs/vm2ec2-connector.service) and the
// process that measures the connector's memory (bench/warm-cli.ts) pass them on the command line; V8 reads them once,
// when the heap is set up, so the connector cannot set them for itself.

/**
 * V8's heap sized for the connector, not from the host's RAM (uncapped, V8 sizes both from it).
 * - Young generation: 4 MiB semi-spaces. Each 512 KiB block arrives from vCenter as TLS records, each its own malloc'd
 *   ArrayBuffer freed only when the young generation is collected; the copy allocates about 150–190 KiB of JavaScript
 *   objects per block (AWS SDK, node:http), so a young collection comes about every 25 blocks with 4 MiB, 50 with 8 and
 *   400 with the 64 MiB V8 picks on a 24 GiB host: the dead chunks in between sit in glibc's heap, which
 *   keeps it once grown.
 * - Old generation: at most 1536 MiB. On a host with 8 GiB of RAM or more V8 lets the old generation grow to 4× what
 *   survived its last full collection before the next one; under 2 GiB of limit it grows by less (about 1.8× here).
 * Measured during warm replication (docs/benchmarks.md, Warm migration): 1 GiB disk, load ~28, peak RSS 211 MiB with
 * 8 MiB semi-spaces, 185 MiB with these flags; the connector's heap holds a few tens of MiB, far below the cap.
 */
export const CONNECTOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=1536'];

/** The connector's flags this process was started without (checked against its own command line and NODE_OPTIONS). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)]);
  return CONNECTOR_NODE_FLAGS.filter((f) => !given.has(f));
}
