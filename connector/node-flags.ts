// The Node.js flags the connector runs with: the systemd unit's ExecStart (docs/vm2ec2-connector.service) and the
// process that measures the connector's memory (bench/warm-cli.ts) pass them on the command line; V8 reads them once,
// when the heap is set up, so the connector cannot set them for itself.

/**
 * V8's young generation capped at 8 MiB semi-spaces. Uncapped, V8 sizes it from the heap limit, i.e. from the host's
 * RAM (64 MiB semi-spaces on a 24 GiB host), and a disk copy's allocation rate grows it to that maximum. The socket
 * chunks a copy reads are malloc'd memory freed only when the young generation is collected, so a larger one also
 * holds more dead chunks: measured during warm replication, the V8 pages and the C heap held about 100 MiB each for a
 * live JavaScript heap of about 33 MiB (docs/benchmarks.md, Warm migration).
 */
export const CONNECTOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/** The connector's flags this process was started without (checked against its own command line and NODE_OPTIONS). */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)]);
  return CONNECTOR_NODE_FLAGS.filter((f) => !given.has(f));
}
