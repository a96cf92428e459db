import type { ApiPollingResult } from './api-polling.ts';
import type { LoadResult } from './load-client.ts';
import type { Machine } from './machine.ts';
import type { UiResult } from './ui.ts';

export interface ReportInput {
  started: Date;
  finished: Date;
  small: boolean;
  machineBefore: Machine;
  machineAfter: Machine;
  api?: ApiPollingResult | undefined;
  ui?: UiResult | { skipped: string };
}

const f1 = (n: number) => n.toFixed(1);
const rps = (r: LoadResult) => r.requests / r.seconds;
const ok = (pass: boolean) => (pass ? 'met' : '**missed**');
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function statusText(r: LoadResult): string {
  return Object.entries(r.statuses).map(([s, n]) => `${s}×${n}`).join(', ') + (r.errors ? `, ${r.errors} socket errors` : '');
}

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
  lines.push('## Machine', '');
  lines.push('| CPU | Cores | Memory | Node | OS | Load average (1/5/15 min) before → after |', '|---|---|---|---|---|---|');
  lines.push(`| ${m.cpu} | ${m.cores} | ${m.memoryGiB} GiB | ${m.node} | ${m.os} | ${m.loadAverage} → ${input.machineAfter.loadAverage} |`, '');

  lines.push('## API under polling load', '');
  if (!api) lines.push('TODO: not run (--only).', '');
  else {
  const ratio = rps(api.connector) / rps(api.bare);
  lines.push(
    `${api.opts.tasks.toLocaleString('en-US')} migration tasks in the connector's SQLite store (inserted through the engine's repository \`SqliteMigrationTasks\`, ${f1(api.insertSeconds)} s), one environment. ${api.opts.clients} concurrent HTTPS keep-alive clients (200 portal tabs) sharing ${api.opts.logins} vSphere Client logins (operator with the General role, and administrator), each alternating \`GET /migrations?environmentId=…\` (first page of 50, ${kib(api.listBytes)}) and \`GET /migrations/{id}\` (${kib(api.taskBytes)}), for ${api.opts.durationMs / 1000} s after ${api.opts.warmupMs / 1000} s of warm-up. Baseline in the same run: a bare Fastify 5 HTTPS server returning the same two bodies as static strings. The load generator is a separate Node process (\`bench/load-client.ts\`) on the same machine.`,
    '',
  );
  lines.push('| Server | Requests/s | p50 (ms) | p99 (ms) | Statuses |', '|---|---:|---:|---:|---|');
  for (const [name, r] of [['Connector (session → vCenter identity → permissions → SQLite → zod serialisation)', api.connector], ['Bare Fastify, static JSON', api.bare]] as const) {
    lines.push(`| ${name} | ${f1(rps(r))} | ${f1(r.p50)} | ${f1(r.p99)} | ${statusText(r)} |`);
  }
  lines.push('');
  lines.push(`**Ratio: the connector serves ${f1(ratio * 100)} % of the bare route's throughput** (target ≥ 50 %: ${ok(ratio >= 0.5)}); **p99 ${f1(api.connector.p99)} ms** (target < 50 ms: ${ok(api.connector.p99 < 50)}).`, '');
  lines.push(
    'With 200 clients and no think time, p50/p99 are dominated by queueing (200 requests in flight on 2 cores shared with the load generator): latency ≈ clients ÷ throughput.',
    '',
  );
  lines.push(
    '**Causes found so far:** a CPU profile of 2026-11-25 (`node --cpu-prof --import tsx bench/run.ts --small --only=api`) showed 47 % of the connector\'s busy time inside SQLite in `SqliteMigrationTasks.list`: without an index on `environment_id` every list call scanned all 10,000 rows twice (25 ms per call; 0.35 ms with the index). Store step 3 (`connector/store/sqlite/migrations/0003-task-list-indexes.ts`) adds that index and one per VM, which raised the ratio from 1.7 % to 16–21 % (two runs on the same shared machine). The remaining gap has not been profiled yet; candidates are the zod response serialisation of 50 tasks per list and the per-request permission reads.',
    '',
  );
  }

  lines.push('## UI: first render of the migrate modal', '');
  if (!input.ui || 'skipped' in input.ui) {
    lines.push(`TODO: ${input.ui && 'skipped' in input.ui ? input.ui.skipped : 'not measured'}.`, '');
  } else {
    const u = input.ui;
    lines.push(u.method, '');
    lines.push('| Page | JS files | JS gzipped | Median navigation → interactive (ms) over ' + u.loads + ' loads |', '|---|---:|---:|---:|');
    for (const p of u.pages) lines.push(`| ${p.name} | ${p.jsFiles} | ${kib(p.jsGzipBytes)} | ${f1(p.medianMs)} |`);
    const [app, empty] = u.pages;
    if (app && empty && empty.jsGzipBytes > 0 && empty.medianMs > 0) lines.push('', `**Ratio: the modal ships ${f1(app.jsGzipBytes / empty.jsGzipBytes)}× the gzipped JS of an empty React page and becomes interactive in ${f1(app.medianMs / empty.medianMs)}× its time.**`);
    lines.push('');
  }

  lines.push('## Disk streaming (1 / 10 / 50 GiB)', '');
  lines.push(
    "TODO: not measured. The engine's vCenter→S3 copy is a private step of `MigrationEngine` (`connector/engine/engine.ts`); there is no exported streaming function the bench can call with a lease URL and an S3 sink. Once one exists (for example `streamDiskToS3({ url, cookie, thumbprint }, { s3, bucket, key, partSize })`), `bench/` should time it against `lab/s3/index.ts#startS3({ sink: true })` and s3rver, next to (a) a raw read of the same lease URL to nothing, (b) a raw multipart write of the same byte count, and (c) download-to-file then upload, recording peak RSS per size. Targets to check: ≥ 90 % of min(source, sink), ≥ 1.8× staged, flat RSS.",
    '',
  );
  lines.push('## Scheduler at scale', '');
  lines.push('TODO: not measured (1,000 migrations submitted at once on a fast clock; limit violations and free-slot → start delay p99).', '');
  return lines.join('\n');
}
