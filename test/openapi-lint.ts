// `npm test` step: an external linter (Redocly CLI, rules in redocly.yaml) on the OpenAPI document as the code
// renders it now, so a route or contract change that breaks the published description fails the run.
// Any problem fails, warnings included. Run alone: `npx tsx test/openapi-lint.ts`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderOpenApiDocument } from '../connector/openapi.ts';
import { PACKAGE_ROOT } from '../connector/paths.ts';

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer?: string }[] }[];
}

const dir = mkdtempSync(join(tmpdir(), 'vm2ec2-openapi-'));
let status = 1;
try {
  const file = join(dir, 'openapi.json');
  writeFileSync(file, await renderOpenApiDocument());
  const lint = spawnSync(join(PACKAGE_ROOT, 'node_modules', '.bin', 'redocly'), ['lint', file, '--config', join(PACKAGE_ROOT, 'redocly.yaml'), '--format=json', '--max-problems=1000'], {
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  let report: LintReport | undefined;
  try {
    report = JSON.parse(lint.stdout) as LintReport;
  } catch {
    console.error(`Redocly CLI did not report (exit ${lint.status}):\n${lint.stdout}${lint.stderr}`);
  }
  if (report) {
    for (const p of report.problems) console.error(`${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '#'}: ${p.message}`);
    const { errors, warnings } = report.totals;
    console.log(`OpenAPI lint (Redocly CLI, redocly.yaml): ${errors} errors, ${warnings} warnings`);
    status = errors + warnings === 0 && lint.status === 0 ? 0 : 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
