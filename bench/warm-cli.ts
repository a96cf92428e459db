// `npx tsx bench/warm-cli.ts [--small] [--write] [--json=<file>] [--render=<file>]`: runs the warm-migration benchmark alone and prints its markdown
// section; --write replaces the "## Warm migration" section of docs/benchmarks.md (or appends it), leaving the other
// benchmarks' sections as they were measured.
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { missingNodeFlags } from '../connector/node-flags.ts';
import { benchWarm, WARM_BENCH_FULL, WARM_BENCH_SMALL, type WarmResult } from './warm.ts';
import { renderWarmSection, warmHeadline } from './warm-report.ts';

const args = process.argv.slice(2);
// The connector's memory is measured under the V8 flags it runs with: without them, start again with them.
const missing = missingNodeFlags();
if (missing.length && !args.some((a) => a.startsWith('--render='))) {
  const again = spawnSync(process.execPath, [...missing, ...process.execArgv, import.meta.filename, ...args], { stdio: 'inherit' });
  process.exit(again.status ?? 1);
}
const small = args.includes('--small');
// --json=<file> keeps the raw result; --render=<file> renders a kept result again instead of measuring.
const jsonOut = args.find((a) => a.startsWith('--json='))?.slice('--json='.length);
const renderFrom = args.find((a) => a.startsWith('--render='))?.slice('--render='.length);
const result: WarmResult = renderFrom
  ? (JSON.parse(await readFile(renderFrom, 'utf8')) as WarmResult)
  : await benchWarm(small ? WARM_BENCH_SMALL : WARM_BENCH_FULL, (line) => console.error(line));
if (jsonOut) await writeFile(jsonOut, JSON.stringify(result, null, 2));
const section = renderWarmSection(result);
console.log(section);
console.log(`Headline: ${warmHeadline(result)}`);
if (args.includes('--write')) {
  const file = new URL('../docs/benchmarks.md', import.meta.url);
  const doc = await readFile(file, 'utf8');
  const start = doc.indexOf('\n## Warm migration\n');
  const stamp = `${section.trimEnd()}\n\nMeasured on its own by \`npx tsx bench/warm-cli.ts${small ? ' --small' : ''} --write\` on ${new Date().toISOString()}; the other sections are from their own runs.\n`;
  let next: string;
  if (start < 0) next = `${doc.trimEnd()}\n\n${stamp}`;
  else {
    const end = doc.indexOf('\n## ', start + 1);
    next = `${doc.slice(0, start + 1)}${stamp}${end < 0 ? '' : doc.slice(end)}`;
  }
  await writeFile(file, next);
  console.error('wrote the warm section of docs/benchmarks.md');
}
process.exit(0);
