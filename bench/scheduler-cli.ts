// Runs only the scheduler benchmark and prints its section: `npx tsx bench/scheduler-cli.ts [--small] [--migrations=N]
// [--max-running=N] [--max-imports=N] [--stage-ms=N] [--backend=sqlite|postgres]`.
import { benchFleet } from './scheduler-fleet.ts';
import { renderSchedulerSection } from './scheduler-report.ts';
import { benchScheduler, benchSqlite, type SchedulerOptions } from './scheduler.ts';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
const small = process.argv.includes('--small');
const maxRunning = num('max-running');
const maxImportsPerRegion = num('max-imports');
const stageMs = num('stage-ms');
const input: SchedulerOptions = {
  migrations: num('migrations') ?? (small ? 100 : 1_000),
  ...(maxRunning ? { maxRunning } : {}),
  ...(maxImportsPerRegion ? { maxImportsPerRegion } : {}),
  ...(stageMs ? { stageMs } : {}),
};
const log = (line: string) => console.log(line);
const backend = arg('backend');
const notRun = (b: 'sqlite' | 'postgres') => ({ backend: b, notMeasured: `not run (--backend=${backend})` });
const runs =
  backend === 'sqlite'
    ? { sqlite: await benchSqlite(input, log), postgres: notRun('postgres') }
    : backend === 'postgres'
      ? { sqlite: notRun('sqlite'), postgres: await benchFleet(input, log) }
      : await benchScheduler(input, log);
console.log(renderSchedulerSection(runs));
process.exit(0);
