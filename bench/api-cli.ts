// `npx tsx bench/api-cli.ts [--small] [--json=<file>] [--render=<file>] [--note=<file>] [--write]`: runs the API polling
// benchmark alone and prints its markdown section; --write replaces the "## API under polling load" section of
// docs/benchmarks.md, leaving the other benchmarks' sections as they were measured.
import { readFile, writeFile } from 'node:fs/promises';
import { benchApiPolling, type ApiPollingResult } from './api-polling.ts';
import { apiHeadline, renderApiSection } from './api-report.ts';

const args = process.argv.slice(2);
const small = args.includes('--small');
const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const jsonOut = arg('json');
const renderFrom = arg('render');
const noteFile = arg('note');
const result: ApiPollingResult = renderFrom
  ? (JSON.parse(await readFile(renderFrom, 'utf8')) as ApiPollingResult)
  : await benchApiPolling(
      small ? { tasks: 10_000, clients: 200, logins: 20, durationMs: 8_000, warmupMs: 3_000, phaseMs: 1_000 } : { tasks: 10_000, clients: 200, logins: 20, durationMs: 20_000, warmupMs: 3_000, phaseMs: 1_000 },
      (line) => console.error(line),
    );
if (jsonOut) await writeFile(jsonOut, JSON.stringify(result, null, 2));
const note = noteFile ? (await readFile(noteFile, 'utf8')).trim() : undefined;
const section = renderApiSection(result, note);
console.log(section);
console.log(`Headline: ${apiHeadline(result)}`);
if (args.includes('--write')) {
  const file = new URL('../docs/benchmarks.md', import.meta.url);
  const doc = await readFile(file, 'utf8');
  const start = doc.indexOf('\n## API under polling load\n');
  const stamp = `${section.trimEnd()}\n\nMeasured on its own by \`npx tsx bench/api-cli.ts${small ? ' --small' : ''}\` on ${new Date().toISOString()}; the other sections are from their own runs.\n`;
  if (start < 0) throw new Error('docs/benchmarks.md has no "## API under polling load" section');
  const end = doc.indexOf('\n## ', start + 1);
  let next = `${doc.slice(0, start + 1)}${stamp}${end < 0 ? '' : doc.slice(end)}`;
  // The headline list quotes this section.
  next = next.replace(/^- API under polling load: .*$/m, `- ${apiHeadline(result)}`);
  await writeFile(file, next);
  console.error('wrote the API section of docs/benchmarks.md');
}
process.exit(0);
