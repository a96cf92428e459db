// `npx tsx bench/roundtrip-cli.ts 1 10 [--only=connector,s3-read,lease-upload]`: runs the S3 → vCenter round-trip
// benchmark for the given sizes (GiB) and prints its markdown section (the lines as it goes on stderr).
import { benchRoundtrip, renderRoundtripSection } from './roundtrip.ts';
import type { RoundtripMode } from './roundtrip-worker.ts';

const args = process.argv.slice(2);
const sizesGiB = args.filter((a) => !a.startsWith('--')).map(Number);
if (sizesGiB.length === 0 || sizesGiB.some((g) => !(g > 0))) {
  console.error('usage: npx tsx bench/roundtrip-cli.ts <GiB> [<GiB> …] [--only=s3-read,lease-upload,connector]');
  process.exit(2);
}
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',') as RoundtripMode[] | undefined;
const result = await benchRoundtrip({ sizesGiB, ...(only ? { only } : {}) }, (line) => console.error(line));
console.log(renderRoundtripSection(result));
