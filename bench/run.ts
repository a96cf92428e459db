// `npm run bench`: runs the benchmarks side by side with their baselines and writes docs/benchmarks.md.
// --small: short durations and small sizes, to prove the harness works (numbers are then not representative).
// --only=api|ui|disk|scheduler|warm|bandwidth|roundtrip (comma-separated): run some benchmarks (the report marks the others as not run).
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CONNECTOR_NODE_FLAGS } from '../connector/node-flags.ts';
import { benchApiPolling, type ApiPollingResult } from './api-polling.ts';
import { BANDWIDTH_BENCH_FULL, BANDWIDTH_BENCH_SMALL, bandwidthHeadline, benchBandwidth, renderBandwidthSection } from './bandwidth.ts';
import { benchDisk, DISK_BENCH_FULL, DISK_BENCH_SMALL, type DiskResult } from './disk.ts';
import { renderDiskSection } from './disk-report.ts';
import { machine } from './machine.ts';
import { renderReport } from './report.ts';
import { benchRoundtrip, renderRoundtripSection, ROUNDTRIP_BENCH_FULL, ROUNDTRIP_BENCH_SMALL, roundtripHeadline } from './roundtrip.ts';
import { benchScheduler } from './scheduler.ts';
import { renderSchedulerSection, schedulerHeadline } from './scheduler-report.ts';
import { benchUi, type UiResult } from './ui.ts';
import type { WarmResult } from './warm.ts';
import { renderWarmSection, warmHeadline } from './warm-report.ts';

const small = process.argv.includes('--small');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const wanted = (name: string) => !only || only.includes(name);
/** `--child=<name>`: run one benchmark and print its result as the last line (internal; see isolated()). */
const child = process.argv.find((a) => a.startsWith('--child='))?.slice('--child='.length);
const log = (line: string) => (child ? console.error(line) : console.log(line));
const RESULT = 'BENCH_RESULT ';

const BENCHES = {
  api: () =>
    benchApiPolling(
      small ? { tasks: 10_000, clients: 200, logins: 20, durationMs: 8_000, warmupMs: 3_000, phaseMs: 1_000 } : { tasks: 10_000, clients: 200, logins: 20, durationMs: 20_000, warmupMs: 3_000, phaseMs: 1_000 },
      log,
    ),
  ui: () => benchUi({ loads: 20, executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' }, log),
  disk: () => benchDisk(small ? DISK_BENCH_SMALL : DISK_BENCH_FULL, log),
  scheduler: () => benchScheduler({ migrations: small ? 100 : 1_000 }, log),
  bandwidth: () => benchBandwidth(small ? BANDWIDTH_BENCH_SMALL : BANDWIDTH_BENCH_FULL, log),
  roundtrip: () => benchRoundtrip(small ? ROUNDTRIP_BENCH_SMALL : ROUNDTRIP_BENCH_FULL, log),
};
type Results = { [K in keyof typeof BENCHES]: Awaited<ReturnType<(typeof BENCHES)[K]>> };

/**
 * Each benchmark runs in a fresh Node process: measured in one long-lived process, the disk bench's in-process S3
 * sink cost 3× the CPU per GiB after the UI and API benchmarks had run there (heap and JIT state of earlier work).
 */
function isolated<K extends keyof typeof BENCHES>(name: K): Promise<Results[K]> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', import.meta.filename, `--child=${name}`, ...(small ? ['--small'] : [])];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    let result: Results[K] | undefined;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line.startsWith(RESULT)) result = JSON.parse(line.slice(RESULT.length)) as Results[K];
      else console.log(line);
    });
    proc.once('error', reject);
    proc.once('close', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`the ${name} benchmark process exited with ${code}`))));
  });
}
/**
 * The warm benchmark measures the connector's memory from inside its own process, so it runs in a process that loads
 * only it (bench/warm-cli.ts): a child of this file also loads every other benchmark's modules (measured: 261 MiB
 * before the engine started, against 185 MiB for warm-cli).
 */
function warmIsolated(): Promise<WarmResult> {
  return new Promise((resolve, reject) => {
    const json = join(tmpdir(), `vm2ec2-bench-warm-${process.pid}.json`);
    const args = [...CONNECTOR_NODE_FLAGS, '--import', 'tsx', join(import.meta.dirname, 'warm-cli.ts'), `--json=${json}`, ...(small ? ['--small'] : [])];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    proc.once('error', reject);
    proc.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the warm benchmark process exited with ${code}`));
      readFile(json, 'utf8').then((text) => resolve(JSON.parse(text) as WarmResult), reject).finally(() => void rm(json, { force: true }));
    });
  });
}
const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

/** A broken measurement must not hide the others: the report says why it is missing. */
async function attempt<T>(name: string, run: () => Promise<T>): Promise<T | { benchFailed: string }> {
  try {
    return await run();
  } catch (err) {
    console.error(err);
    return { benchFailed: `the ${name} measurement failed in this run: ${firstLine(err)}` };
  }
}
const failed = (r: unknown): r is { benchFailed: string } => typeof r === 'object' && r !== null && 'benchFailed' in r;

async function main(): Promise<void> {
  const started = new Date();
  const before = machine();
  log(`bench (${small ? 'small' : 'full'}) on ${before.cpu}, ${before.cores} cores, Node ${before.node}, load ${before.loadAverage}`);
  const headlines: string[] = [];

  let api: ApiPollingResult | undefined;
  if (wanted('api')) {
    log('API under polling load');
    const r = await attempt('API', () => isolated('api'));
    if (!failed(r)) api = r;
  }

  let ui: UiResult | { skipped: string } = { skipped: 'not run (--only)' };
  if (wanted('ui')) {
    log('UI: migrate modal first render');
    const r = await attempt('UI', () => isolated('ui'));
    ui = failed(r) ? { skipped: r.benchFailed } : r;
  }

  let disk = '## Disk streaming (1 / 10 / 50 GiB)\n\nNot run (--only).\n';
  if (wanted('disk')) {
    log('Disk streaming vCenter → S3');
    const r = await attempt('disk streaming', () => isolated('disk'));
    disk = failed(r) ? `## Disk streaming (1 / 10 / 50 GiB)\n\nNot measured: ${r.benchFailed}.\n` : renderDiskSection(r);
    if (!failed(r)) headlines.push(diskHeadline(r));
  }

  let scheduler = '## Scheduler at scale\n\nNot run (--only).\n';
  if (wanted('scheduler')) {
    log('Scheduler at scale');
    const r = await attempt('scheduler', () => isolated('scheduler'));
    scheduler = failed(r) ? `## Scheduler at scale\n\nNot measured: ${r.benchFailed}.\n` : renderSchedulerSection(r);
    if (!failed(r)) headlines.push(schedulerHeadline(r));
  }

  let warm = '## Warm migration\n\nNot run (--only).\n';
  if (wanted('warm')) {
    log('Warm migration against Migrate now');
    const r = await attempt('warm migration', () => warmIsolated());
    warm = failed(r) ? `## Warm migration\n\nNot measured: ${r.benchFailed}.\n` : renderWarmSection(r);
    if (!failed(r)) headlines.push(warmHeadline(r));
  }

  let bandwidth = '## Bandwidth cap\n\nNot run (--only).\n';
  if (wanted('bandwidth')) {
    log('Bandwidth cap');
    const r = await attempt('bandwidth cap', () => isolated('bandwidth'));
    bandwidth = failed(r) ? `## Bandwidth cap\n\nNot measured: ${r.benchFailed}.\n` : renderBandwidthSection(r);
    if (!failed(r)) headlines.push(bandwidthHeadline(r));
  }

  let roundtrip = '## Bring back to vCenter: S3 → vCenter\n\nNot run (--only).\n';
  if (wanted('roundtrip')) {
    log('Bring back to vCenter: S3 → vCenter');
    const r = await attempt('round trip', () => isolated('roundtrip'));
    roundtrip = failed(r) ? `## Bring back to vCenter: S3 → vCenter\n\nNot measured: ${r.benchFailed}.\n` : renderRoundtripSection(r);
    if (!failed(r)) headlines.push(roundtripHeadline(r));
  }

  const report = renderReport({ started, finished: new Date(), small, machineBefore: before, machineAfter: machine(), api, ui, disk, scheduler, warm, bandwidth, roundtrip, headlines });
  await writeFile(new URL('../docs/benchmarks.md', import.meta.url), report);
  log(report.slice(report.indexOf('## Headlines'), report.indexOf('## Machine')).trim());
  log('wrote docs/benchmarks.md');
}

function diskHeadline(r: DiskResult): string {
  const parts = r.sizes.map((s) => {
    const by = (id: string) => s.contenders.find((c) => c.id === id);
    const conn = by('connector');
    const read = by('read');
    const write = by('write');
    const staged = by('staged');
    if (!conn) return `${s.sizeGiB} GiB: not measured`;
    const bits = [`${s.sizeGiB} GiB at ${conn.mbps.toFixed(0)} MB/s, peak RSS ${(conn.maxRssBytes / 2 ** 20).toFixed(0)} MiB`];
    if (read && write) bits.push(`${((100 * conn.mbps) / Math.min(read.mbps, write.mbps)).toFixed(0)} % of min(source, sink)`);
    if (read) bits.push(`CPU per GiB ${((conn.cpuS / conn.bytes) / (read.cpuS / read.bytes)).toFixed(2)}× the raw read's`);
    if (staged) bits.push(`${(conn.mbps / staged.mbps).toFixed(2)}× the staged approach`);
    return bits.join(', ');
  });
  return `Disk streaming vCenter → S3: ${parts.join('; ')}.`;
}

async function runChild(name: string): Promise<void> {
  if (!(name in BENCHES)) throw new Error(`unknown benchmark ${name}; one of ${Object.keys(BENCHES).join(', ')}`);
  const result = await BENCHES[name as keyof typeof BENCHES]();
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
}

(child ? runChild(child) : main()).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
