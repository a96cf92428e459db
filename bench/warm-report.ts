// The warm migration benchmark's section of docs/benchmarks.md and its headline, from bench/warm.ts's result.
import type { DowntimeResult, WarmResult } from './warm.ts';

const MiB = 1024 * 1024;
/** The EBS direct APIs' block. */
const BLOCK = 512 * 1024;

/** What the replication's memory was, measured when it first missed < 300 MiB (issue 13); kept with the section. */
const WARM_RSS_CAUSE =
  '**What the memory was** (2026-12-03, measured with `process.memoryUsage()`, V8 heap space statistics and `/proc/<pid>/smaps` sampled every 200 ms, and a sampling allocation profile, in runs of this benchmark with 1 and 10 GiB disks): the 317 MiB of the idle run was not a leak, and not the task observers, the kept task JSON or the import options (together under 1 % of the allocations sampled during the initial sync). ' +
  'Of about 285–294 MiB at the peak of a run without V8 flags, the Node binary was 54 MiB, V8\'s pages about 100 MiB for a live JavaScript heap of 31–35 MiB, glibc\'s main heap 98–109 MiB and thread arenas 25 MiB. ' +
  'V8 sizes its young generation from the heap limit, i.e. from the host\'s RAM: on this 24 GiB machine it had two 32 MiB semi-spaces before the engine started (from loading the modules) and two 64 MiB ones, its maximum, after about 20 s of copying. ' +
  'The copy allocates about 190 KiB of JavaScript objects per 512 KiB block, most of it in the AWS SDK\'s PutSnapshotBlock pipeline and node:http, and receives each block from vCenter as TLS chunks, each its own malloc\'d ArrayBuffer freed only when the young generation is collected: between collections 20–90 MiB of dead chunks sat in the C heap, which glibc keeps once grown. ' +
  'So the peak moved with the collections\' timing from run to run (initial sync of the same 1 GiB disk: 258–271 MiB) and crept up a few MiB per cycle before levelling off (25 cycles: 271 → 282–288 MiB). ' +
  'The connector now runs with 8 MiB semi-spaces (`--max-semi-space-size=8`; `connector/node-flags.ts`, the systemd unit): the young generation is collected about every 40 blocks, so dead chunks are freed sooner and V8 keeps fewer pages. ' +
  'Same 1 GiB replication, 6 cycles, load average ~20: VmHWM 270 MiB without the flag, 252 MiB with 16 MiB semi-spaces, 232 MiB with 8 MiB; with 8 MiB over 25 cycles the cycles peaked at 218 → 227–229 MiB, one late spike to 243 MiB (VmHWM 250 MiB). ' +
  'During this run\'s 10 GiB initial sync with the flag (smaps at 272 MiB): glibc\'s main heap 74 MiB (was 98–109), V8\'s pages 110 MiB (about the same: the old generation now holds what the smaller young one promotes until a full collection), thread arenas 23 MiB. ' +
  'The cost is more frequent young collections (each cheap: little survives them) and more promotion to the old generation; under that load the CPU it costs could not be told from the noise. ' +
  'Re-measured 2026-12-04 (issue 13, the idle run with 8 MiB semi-spaces was not available; 1 GiB disk, 3–4 cycles of 5 % changed blocks, load average ~28, `process.memoryUsage()`, heap space statistics and smaps at each new peak, a sampling profile of every allocation, collected ones included): at the peak V8\'s heap was 62–70 MiB committed with 54–59 MiB in use (old space 38–41 MiB), so V8 was no longer the growth; from before the engine started to the peak, glibc\'s main heap grew 33 → 61–69 MiB and ArrayBuffers 16 → 25–37 MiB: still the dead TLS chunks between young collections. The profile: about 150 KiB of JavaScript objects per block, 60 % of it in the AWS SDK (@smithy/core, signing, the middleware stack built per command) and node:http; the heap in use was 38–44 MiB before the engine started and 45–59 MiB at the peaks. ' +
  'So the connector now runs with 4 MiB semi-spaces and the old generation capped at 1536 MiB (`--max-semi-space-size=4 --max-old-space-size=1536`, `connector/node-flags.ts`): below 2 GiB of limit V8 grows the old generation by about 1.8× what survived a full collection instead of 4×. Three runs side by side at load ~28, initial sync / cycles: 211 / 210 MiB with 8 MiB semi-spaces, 200 / 172 MiB with 4 MiB, 185 / 182 MiB with both flags (8 MiB with the old-space cap alone: 199 / 202 MiB). ' +
  'What is left is per-block garbage: a reader that decrypts into one reused buffer (no ArrayBuffer per TLS chunk) and fewer objects per PutSnapshotBlock would shrink both heaps; not done yet.';

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const ok = (pass: boolean) => (pass ? 'met' : '**missed**');
const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

export function warmHeadline(r: WarmResult): string {
  const ratio = r.warm.withoutImportMs / r.cold.withoutImportMs;
  const worst = Math.max(...r.cycles.map((c) => c.sentBytes / c.changedBytes));
  return `Warm migration (${r.opts.diskGiB} GiB, ${f1(r.opts.changedFraction * 100)} % of blocks changed per cycle): cutover downtime without the import stage ${f2(r.warm.withoutImportMs / 1000)} s against ${f2(r.cold.withoutImportMs / 1000)} s for Migrate now (${f1(ratio * 100)} %); bytes sent ÷ changed ≤ ${worst.toFixed(3)}; connector peak RSS ${r.rss.hwmAfterReplicationMiB.toFixed(0)} MiB while replicating.`;
}

export function renderWarmSection(r: WarmResult): string {
  const o = r.opts;
  const lines: string[] = ['## Warm migration', ''];
  lines.push(
    `One powered-on lab VM with one ${o.diskGiB} GiB disk (${(r.diskBytes / BLOCK).toLocaleString('en-US')} blocks of 512 KiB), migrated twice in one run by one engine built with \`createEngine\` as the connector builds it: first **Replicate, then cut over** (replication interval 5 minutes, one minute = ${o.minuteMs} ms in this run, \`engine.warmMinuteMs\`; cutover with *I will power off the VM myself*), then **Migrate now** on the same VM and disk. Before each of ${o.cycles} cycles after the initial sync, and once more before the cutover, the benchmark overwrites ${f1(o.changedFraction * 100)} % of the disk's blocks (whole 512 KiB blocks at random places) through the lab vCenter (\`writeDisk\`). The lab S3 and the EC2 emulator (with the EBS direct APIs, stage ${o.stageMs} ms) run in a child process and vcsim in its own, so the benchmark process holds only the connector's engine and this driver. Load average ${r.loadBefore} before → ${r.loadAfter} after on ${r.cores} cores; took ${f1(r.tookSeconds)} s.`,
    '',
  );
  lines.push(
    '**How the downtime is measured.** Warm: from the moment the benchmark asks vCenter to power the source VM off (`PowerOffVM_Task`, right after **Cut over** with *I will power off the VM myself*: the lab VMs run no VMware Tools, so a guest shutdown is refused) to the first task write holding the instance ID. Cold: the whole migration after its point in time, from the task\'s start (`startedAt`) to the first task write holding the instance ID. Both paths pay EC2 VM Import, whose duration in the lab is the emulator\'s scaled clock (5 stages), not real work; so from each the benchmark subtracts the time the task spent in the *importing* phase: from its first write in that phase to its first write in the next one (the ImportImage request, the emulator\'s stages, and the engine\'s status polls every 20–80 ms). The phases and their times are listed below.',
    '',
  );
  lines.push('| Replication | Changed (benchmark) | vCenter changed areas | Sent to EBS | PutSnapshotBlock calls | Sent ÷ changed | Time (s) | Peak RSS (MiB) |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  lines.push(`| Initial sync | – | – | ${mib(r.initialSync.sentBytes)} | ${r.initialSync.putCalls} | – | ${f1(r.initialSync.seconds)} | ${f1(r.initialSync.peakRssMiB)} |`);
  for (const c of r.cycles) {
    lines.push(`| Cycle ${c.n} | ${mib(c.changedBytes)} | ${mib(c.recordedChangedBytes)} | ${mib(c.sentBytes)} | ${c.putCalls} | ${(c.sentBytes / c.changedBytes).toFixed(3)} | ${f1(c.seconds)} | ${f1(c.peakRssMiB)} |`);
  }
  if (r.finalCycle) lines.push(`| Final cycle (cutover) | ${mib(r.finalCycle.changedBytes)} | – | ${mib(r.finalCycle.sentBytes)} | ${r.finalCycle.putCalls} | ${(r.finalCycle.sentBytes / r.finalCycle.changedBytes).toFixed(3)} | – | – |`);
  lines.push('');
  const phaseText = (d: DowntimeResult) => d.phases.map((p) => `${p.phase} ${f2(p.ms / 1000)} s`).join(', ');
  lines.push('| Downtime | Total (s) | Importing (s) | Without importing (s) | Phases in the window | Outcome |', '|---|---:|---:|---:|---|---|');
  lines.push(`| Warm: source powered off → instance launched${r.warm.imagePath ? ` (${r.warm.imagePath})` : ''} | ${f2(r.warm.totalMs / 1000)} | ${f2(r.warm.importMs / 1000)} | ${f2(r.warm.withoutImportMs / 1000)} | ${phaseText(r.warm)} | ${r.warm.state}${r.warm.error ? `: ${r.warm.error}` : ''} |`);
  lines.push(`| Cold: the whole Migrate now → instance launched | ${f2(r.cold.totalMs / 1000)} | ${f2(r.cold.importMs / 1000)} | ${f2(r.cold.withoutImportMs / 1000)} | ${phaseText(r.cold)} | ${r.cold.state}${r.cold.error ? `: ${r.cold.error}` : ''} |`);
  lines.push('');
  if (r.warm.engineDowntimeSeconds !== undefined) lines.push(`The task itself reports a downtime of ${f2(r.warm.engineDowntimeSeconds)} s (its \`instanceLaunchedAt\` − \`sourcePoweredOffAt\`, import included).`, '');

  const ratio = r.warm.withoutImportMs / r.cold.withoutImportMs;
  const ratios = r.cycles.map((c) => c.sentBytes / c.changedBytes);
  const worst = ratios.length ? Math.max(...ratios) : Number.NaN;
  const rssOk = r.rss.hwmAfterReplicationMiB < 300;
  // Flat = memory does not grow as replication goes on: no cycle peaks more than 15 % above the full initial sync.
  const growth = r.rss.initialSyncPeakMiB > 0 ? (r.rss.cyclesPeakMiB - r.rss.initialSyncPeakMiB) / r.rss.initialSyncPeakMiB : 0;
  lines.push(
    `**Cutover downtime: warm ${f2(r.warm.withoutImportMs / 1000)} s = ${f1(ratio * 100)} % of cold's ${f2(r.cold.withoutImportMs / 1000)} s** without the import stage (target ≤ 10 %: ${ok(ratio <= 0.1)}); ` +
      `**bytes sent ÷ changed per cycle: ${ratios.map((x) => x.toFixed(3)).join(', ')}** (target ≤ 1.05: ${ok(worst <= 1.05)}); ` +
      `**connector peak RSS while replicating: ${f1(r.rss.hwmAfterReplicationMiB)} MiB** (VmHWM of the benchmark process at the end of the last cycle, which includes its ${f1(r.rss.beforeStartMiB)} MiB before the engine started; target < 300 MiB: ${ok(rssOk)}), ` +
      `${f1(r.rss.initialSyncPeakMiB)} MiB at peak during the ${o.diskGiB} GiB initial sync and ${f1(r.rss.cyclesPeakMiB)} MiB during the cycles (target flat: no cycle more than 15 % above the initial sync, ${ok(growth <= 0.15)}).`,
    '',
  );
  const p = r.rss.atPeak;
  lines.push(
    `The benchmark process ran with ${r.rss.nodeFlags?.length ? r.rss.nodeFlags.map((f) => `\`${f}\``).join(' ') : 'no V8 flags'} (\`connector/node-flags.ts\`, as the systemd unit runs the connector)` +
      (p
        ? `; at its highest RSS sample while replicating (${f1(p.rssMiB)} MiB) V8's heap had ${f1(p.heapTotalMiB)} MiB committed of which ${f1(p.heapUsedMiB)} MiB in use, and ArrayBuffers (socket chunks, block buffers) held ${f1(p.arrayBuffersMiB)} MiB; the rest is the Node binary, the C heap and thread arenas.`
        : '.'),
    '',
    WARM_RSS_CAUSE,
    '',
  );
  lines.push(
    `Left behind after the warm migration completed: ${r.leftovers.vcenterSnapshots} vCenter snapshot(s) on the VM; ${r.leftovers.ebsSnapshots.length} EBS snapshot(s) in the emulator (${r.leftovers.ebsSnapshots.map((s) => `${s.id} ${s.status}`).join(', ') || 'none'}; the AMI's own snapshots are expected). CPU: connector process ${f1(r.cpuSeconds.connector)} s, S3 + EC2 emulator process ${f1(r.cpuSeconds.aws)} s.`,
    '',
  );
  return lines.join('\n');
}
