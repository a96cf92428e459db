// `npx tsx bench/disk-cli.ts 1 10 [--queue=2] [--baselines-up-to=10] [--s3rver-up-to=1] [--only=connector,read] [--pin]`: runs the disk-streaming
// benchmark for the given sizes (GiB) and prints its markdown section.
import { benchDisk, type ContenderId } from './disk.ts';
import { renderDiskSection } from './disk-report.ts';

const args = process.argv.slice(2);
const flag = (name: string): number | undefined => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? undefined : Number(a.slice(name.length + 3));
};
const sizesGiB = args.filter((a) => !a.startsWith('--')).map(Number);
if (sizesGiB.length === 0 || sizesGiB.some((g) => !(g > 0))) {
  console.error('usage: npx tsx bench/disk-cli.ts <GiB> [<GiB> …] [--queue=N] [--baselines-up-to=GiB] [--s3rver-up-to=GiB] [--only=id,…] [--pin]');
  process.exit(2);
}
const queueSize = flag('queue');
const baselinesUpToGiB = flag('baselines-up-to');
const s3rverUpToGiB = flag('s3rver-up-to');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',') as ContenderId[] | undefined;
const result = await benchDisk(
  {
    sizesGiB,
    ...(only ? { only } : {}),
    ...(args.includes('--pin') ? { pin: true } : {}),
    ...(queueSize !== undefined ? { queueSize } : {}),
    ...(baselinesUpToGiB !== undefined ? { baselinesUpToGiB } : {}),
    ...(s3rverUpToGiB !== undefined ? { s3rverUpToGiB } : {}),
  },
  (line) => console.error(line),
);
console.log(renderDiskSection(result));
