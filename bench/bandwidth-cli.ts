// Runs only the bandwidth-cap benchmark and prints its section: `npx tsx bench/bandwidth-cli.ts [--small]`.
import { BANDWIDTH_BENCH_FULL, BANDWIDTH_BENCH_SMALL, bandwidthHeadline, benchBandwidth, renderBandwidthSection } from './bandwidth.ts';

const result = await benchBandwidth(process.argv.includes('--small') ? BANDWIDTH_BENCH_SMALL : BANDWIDTH_BENCH_FULL, (line) => console.log(line));
console.log(renderBandwidthSection(result));
console.log(`- ${bandwidthHeadline(result)}`);
process.exit(0);
