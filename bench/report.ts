import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiPollingResult } from './api-polling.ts';
import { apiHeadline, renderApiSection } from './api-report.ts';
import type { Machine } from './machine.ts';
import type { UiPage, UiResult } from './ui.ts';

export interface ReportInput {
  started: Date;
  finished: Date;
  small: boolean;
  machineBefore: Machine;
  machineAfter: Machine;
  api?: ApiPollingResult | undefined;
  ui?: UiResult | { skipped: string };
  /** Markdown sections rendered by bench/disk.ts, bench/scheduler.ts and bench/warm.ts (or why they were not run). */
  disk?: string;
  scheduler?: string;
  warm?: string;
  bandwidth?: string;
  roundtrip?: string;
  /** One line per benchmark for the headline list (the README quotes it). */
  headlines?: string[];
}

const f1 = (n: number) => n.toFixed(1);
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export function renderReport(input: ReportInput): string {
  const { api, machineBefore: m } = input;
  const lines: string[] = [];
  lines.push('# Benchmarks', '');
  lines.push(`Written by \`npm run bench${input.small ? ' -- --small' : ''}\` (\`bench/run.ts\`) on ${input.started.toISOString()} (took ${f1((input.finished.getTime() - input.started.getTime()) / 1000)} s). Re-run it to refresh this file.`, '');
  const busy = Number(m.loadAverage.split(' / ')[0]) > m.cores * 0.5;
  if (input.small || busy) {
    lines.push(
      `> **These numbers are not representative.** ${input.small ? 'They were measured at small sizes and short durations (`--small`)' : 'They were measured'}${busy ? ' on a machine that was busy with other work (see the load average below)' : ''}. They prove the harness works; re-measure with \`npm run bench\` on an idle machine before quoting them.`,
      '',
    );
  }
  const heads = [...(input.headlines ?? [])];
  if (api) heads.unshift(apiHeadline(api));
  if (input.ui && !('skipped' in input.ui)) {
    const [app, empty] = input.ui.pages;
    if (app && empty && empty.jsGzipBytes > 0 && empty.medianMs > 0) heads.push(`UI: the migrate modal ships ${kib(app.jsGzipBytes)} of gzipped JS (${f1(app.jsGzipBytes / empty.jsGzipBytes)}× an empty React page) and is interactive in ${f1(app.medianMs)} ms (${f1(app.medianMs / empty.medianMs)}×).`);
  }
  if (heads.length) lines.push('## Headlines', '', ...heads.map((h) => `- ${h}`), '');
  lines.push('## Machine', '');
  lines.push('| CPU | Cores | Memory | Node | OS | Load average (1/5/15 min) before → after |', '|---|---|---|---|---|---|');
  lines.push(`| ${m.cpu} | ${m.cores} | ${m.memoryGiB} GiB | ${m.node} | ${m.os} | ${m.loadAverage} → ${input.machineAfter.loadAverage} |`, '');

  lines.push(api ? renderApiSection(api) : '## API under polling load\n\nTODO: not run (--only).\n');

  lines.push('## UI: first render of the migrate modal and the portal', '');
  if (!input.ui || 'skipped' in input.ui) {
    lines.push(`TODO: ${input.ui && 'skipped' in input.ui ? input.ui.skipped : 'not measured'}.`, '');
  } else {
    const u = input.ui;
    lines.push(u.method, '');
    lines.push('| Page | JS files | JS gzipped | CSS gzipped | Median navigation → interactive (ms) over ' + u.loads + ' loads | Code arrived / first connector call / last answer (ms) |', '|---|---:|---:|---:|---:|---|');
    const phases = (p: UiPage) => (p.phases ? `${f1(p.phases.codeLoadedMs)} / ${p.phases.firstApiCallMs ? f1(p.phases.firstApiCallMs) : '–'} / ${p.phases.lastApiAnswerMs ? f1(p.phases.lastApiAnswerMs) : '–'}` : '');
    for (const p of u.pages) lines.push(`| ${p.name} | ${p.jsFiles} | ${kib(p.jsGzipBytes)} | ${p.cssGzipBytes !== undefined ? kib(p.cssGzipBytes) : ''} | ${f1(p.medianMs)} | ${phases(p)} |`);
    const [app, empty, portal] = u.pages;
    if (app && empty && empty.jsGzipBytes > 0 && empty.medianMs > 0) {
      lines.push('', `**Ratio: the modal ships ${f1(app.jsGzipBytes / empty.jsGzipBytes)}× the gzipped JS of an empty React page and becomes interactive in ${f1(app.medianMs / empty.medianMs)}× its time** (targets 1.5× and 1.5×).`);
      if (portal) lines.push('', `The portal ships ${f1(portal.jsGzipBytes / empty.jsGzipBytes)}× the empty page's gzipped JS and shows its first region in ${f1(portal.medianMs / empty.medianMs)}× its time.`);
    }
    lines.push('');
    // The causes of the misses are found by hand (profiles, builds); they live beside the bench so every run carries them.
    lines.push(readFileSync(join(import.meta.dirname, 'ui-causes.md'), 'utf8').trimEnd(), '');
  }

  lines.push(input.disk ?? '## Disk streaming (1 / 10 / 50 GiB)\n\nNot run (--only).\n');
  lines.push(input.scheduler ?? '## Scheduler at scale\n\nNot run (--only).\n');
  lines.push(input.warm ?? '## Warm migration\n\nNot run (--only).\n');
  lines.push(input.bandwidth ?? '## Bandwidth cap\n\nNot run (--only).\n');
  lines.push(input.roundtrip ?? '## Bring back to vCenter: S3 → vCenter\n\nNot run (--only).\n');
  return lines.join('\n');
}
