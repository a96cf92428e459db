// Runs only the scheduler benchmark and prints its section: `npx tsx bench/scheduler-cli.ts [--small] [--migrations=N]
// [--max-running=N] [--max-imports=N] [--stage-ms=N]`.
import { benchScheduler, renderSchedulerSection } from './scheduler.ts';

const arg = (name: string): number | undefined => {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return v === undefined ? undefined : Number(v);
};
const small = process.argv.includes('--small');
const migrations = arg('migrations') ?? (small ? 100 : 1_000);
const maxRunning = arg('max-running');
const maxImportsPerRegion = arg('max-imports');
const stageMs = arg('stage-ms');

const result = await benchScheduler(
  {
    migrations,
    ...(maxRunning ? { maxRunning } : {}),
    ...(maxImportsPerRegion ? { maxImportsPerRegion } : {}),
    ...(stageMs ? { stageMs } : {}),
  },
  (line) => console.log(line),
);
console.log(renderSchedulerSection(result));
