// `npm run bench [-- --small]`: runs the benchmarks side by side with their baselines and writes docs/benchmarks.md.
// --small: short durations and small sizes, to prove the harness works (numbers are then not representative).
import { writeFile } from 'node:fs/promises';
import { benchApiPolling, type ApiPollingResult } from './api-polling.ts';
import { machine } from './machine.ts';
import { renderReport } from './report.ts';
import { benchUi, type UiResult } from './ui.ts';

const small = process.argv.includes('--small');
/** `--only=api` or `--only=ui`: run one benchmark (the report marks the others as not run). */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const started = new Date();
  const before = machine();
  log(`bench (${small ? 'small' : 'full'}) on ${before.cpu}, ${before.cores} cores, Node ${before.node}, load ${before.loadAverage}`);

  let api: ApiPollingResult | undefined;
  if (!only || only === 'api') {
  log('API under polling load');
  api = await benchApiPolling(
    small ? { tasks: 10_000, clients: 200, logins: 20, durationMs: 8_000, warmupMs: 3_000 } : { tasks: 10_000, clients: 200, logins: 20, durationMs: 30_000, warmupMs: 3_000 },
    log,
  );
  }

  log('UI: migrate modal first render');
  let ui: UiResult | { skipped: string } = { skipped: 'not run (--only)' };
  if (!only || only === 'ui') try {
    ui = await benchUi({ loads: 20, executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' }, log);
  } catch (err) {
    // A broken UI measurement must not hide the other results; the report says why it is missing.
    console.error(err);
    ui = { skipped: `the UI measurement failed in this run: ${(err as Error).message.split('\n')[0] ?? ''}` };
  }

  const report = renderReport({ started, finished: new Date(), small, machineBefore: before, machineAfter: machine(), api, ui });
  await writeFile(new URL('../docs/benchmarks.md', import.meta.url), report);
  log(report.split('\n').filter((l) => l.startsWith('|') || l.startsWith('**')).join('\n'));
  log('wrote docs/benchmarks.md');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
