// `npm test`: type check, OpenAPI lint, unit + integration tests (vitest), then browser journeys (Playwright),
// and one closing line with the totals.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { FAULT_SUMMARY_FILE, readFaultSummary } from './support/fault-summary.ts';

// First line: the Node.js the suite runs on; an unsupported one stops here with what to run instead.
const nodeCheck = spawnSync(process.execPath, ['scripts/check-node.mjs'], { stdio: 'inherit' });
if (nodeCheck.status !== 0) process.exit(nodeCheck.status ?? 1);

// Outside test-results/: Playwright empties that folder when it starts.
mkdirSync('.reports', { recursive: true });
for (const f of ['.reports/vitest.json', '.reports/playwright.json', FAULT_SUMMARY_FILE]) rmSync(f, { force: true });
const bin = (name: string) => `node_modules/.bin/${name}`;
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;

const steps: { name: string; status: number }[] = [];
steps.push({ name: 'typecheck', status: run(bin('tsc'), ['--noEmit']) });
// The published API description, linted by an external tool (Redocly CLI, redocly.yaml): any problem fails.
steps.push({ name: 'openapi-lint', status: run(bin('tsx'), ['test/openapi-lint.ts']) });
steps.push({
  name: 'vitest',
  status: run(bin('vitest'), ['run', '--reporter=default', '--reporter=json', '--outputFile.json=.reports/vitest.json']),
});
steps.push({
  name: 'playwright',
  status: run(bin('playwright'), ['test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: '.reports/playwright.json' }),
});

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync('.reports/vitest.json')) {
  const v = JSON.parse(readFileSync('.reports/vitest.json', 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  skipped += v.numPendingTests + v.numTodoTests;
}
if (existsSync('.reports/playwright.json')) {
  const p = JSON.parse(readFileSync('.reports/playwright.json', 'utf8')) as { stats: { expected: number; unexpected: number; flaky: number; skipped: number } };
  passed += p.stats.expected + p.stats.flaky;
  failed += p.stats.unexpected;
  skipped += p.stats.skipped;
}
const faults = readFaultSummary();
if (faults) {
  console.log(
    `\nfault and abuse summary (${faults.suites} suites): ${faults.faultsInjected} faults injected, ${faults.migrationsCompleted} migrations completed, ` +
      `${faults.migrationsFailed} ended failed or cancelled with a clear message, ${faults.tasksLost} tasks lost, ${faults.duplicates} duplicate imports or instances, ` +
      `${faults.orphans} orphans left behind; ${faults.requestsFuzzed} requests fuzzed, ${faults.serverErrors} server errors`,
  );
}
for (const s of steps) if (s.status !== 0) console.error(`${s.name} failed (exit ${s.status})`);
const bad = steps.some((s) => s.status !== 0);
if (bad && failed === 0) failed = 1; // a step that failed before reporting still counts
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(bad ? 1 : 0);
