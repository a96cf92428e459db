// The disk-streaming section of docs/benchmarks.md (bench/disk.ts measures): the tables, each target's verdict and,
// for a miss, its cause computed from the CPU counters of the processes involved.
import { CONTENDERS, type ContenderId, type ContenderResult, type DiskResult } from './disk.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const f0 = (n: number): string => n.toFixed(0);
const f1 = (n: number): string => n.toFixed(1);
const pct = (n: number): string => `${(100 * n).toFixed(0)} %`;

/** Cause of a missed throughput target, from the CPU counters of the processes involved. */
function throughputCause(connector: ContenderResult, limit: ContenderResult, cores: number): string {
  const runCpu = (c: ContenderResult): number => perGiB(c.cpuS + c.sourceCpuS + c.sinkCpuS, c);
  const wall = connector.ms / 1000;
  const busy = (connector.cpuS + connector.sourceCpuS + connector.sinkCpuS) / wall;
  const limitName = limit.id === 'read' ? 'raw read' : 'raw write';
  const costs =
    `per GiB the connector run cost ${f1(runCpu(connector))} CPU-s over its three processes (connector ${f1(perGiB(connector.cpuS, connector))}, ` +
    `vCenter ${f1(perGiB(connector.sourceCpuS, connector))}, S3 sink ${f1(perGiB(connector.sinkCpuS, connector))}), the ${limitName} run ` +
    `${f1(runCpu(limit))} over its two (${limitName} ${f1(perGiB(limit.cpuS, limit))}` +
    (limit.sourceCpuS > 0 ? `, vCenter ${f1(perGiB(limit.sourceCpuS, limit))}` : '') +
    (limit.sinkCpuS > 0 ? `, S3 sink ${f1(perGiB(limit.sinkCpuS, limit))}` : '') +
    ')';
  const cpuBound = connector.load1 > cores || busy > cores * 0.85;
  // Reading and uploading share the connector's one JavaScript thread: its own CPU per GiB caps it even on idle cores.
  const own = perGiB(connector.cpuS, connector);
  const ownThread = ` The connector's own thread needs ${f1(own)} CPU-s per GiB (read and upload), which alone caps it at about ${f0(GiB / own / 1e6)} MB/s.`;
  return cpuBound
    ? `CPU-bound on a shared ${cores}-core machine (1-min load average ${f1(connector.load1)}; the connector run's processes got ${f1(busy)} cores): ${costs}. ` +
        `When the CPU is the limit, throughput follows CPU per GiB, i.e. at most about ${pct(runCpu(limit) / runCpu(connector))} of the baseline: ` +
        `the connector copies the bytes through vCenter, itself and the sink on the same cores, each baseline through only two of them.` +
        ownThread
    : `${costs}; the connector run kept ${f1(busy)} of ${cores} cores busy.` + ownThread;
}

const perGiB = (s: number, c: ContenderResult): number => (s / c.bytes) * GiB;

/** The connector's own CPU per GiB against the raw read's (target ≤ 1.2×), and what the difference is made of. */
function cpuVerdict(conn: ContenderResult, read: ContenderResult, https: ContenderResult | undefined, write: ContenderResult | undefined): string {
  const c = perGiB(conn.cpuS, conn);
  const r = perGiB(read.cpuS, read);
  const ratio = c / r;
  const met = ratio <= 1.2;
  const vsHttps = https ? ` Against a plain node:https read (${f1(perGiB(https.cpuS, https))} CPU-s per GiB) it is ${(c / perGiB(https.cpuS, https)).toFixed(2)}×.` : '';
  const cause =
    met || !write
      ? ''
      : ` Cause: the connector does the raw read's work and then sends every byte to S3; the raw write alone costs ` +
        `${f1(perGiB(write.cpuS, write))} CPU-s per GiB (the SDK and the kernel's socket send), so read + write = ` +
        `${f1(r + perGiB(write.cpuS, write))}, and the remaining ${f1(Math.max(0, c - r - perGiB(write.cpuS, write)))} is the pipeline's bookkeeping ` +
        `(the connector copies no byte itself: the socket decrypts the body straight into the part buffers). ` +
        `Any process that reads every byte and sends it on pays read + write: 1.2× would leave ${f1(0.2 * r)} CPU-s per GiB for the whole upload, ` +
        `and the raw write alone is ${(perGiB(write.cpuS, write) / r).toFixed(2)}× the read.`;
  return (
    `**Connector CPU = ${ratio.toFixed(2)}× the raw read's per GiB** (${f1(c)} against ${f1(r)} CPU-s per GiB, each process's own); target ≤ 1.2×: **${met ? 'met' : 'missed'}**.` +
    vsHttps +
    cause
  );
}

export function renderDiskSection(result: DiskResult): string {
  const sizesLabel = result.sizes.map((s) => s.sizeGiB).join(' / ');
  const lines: string[] = [`## Disk streaming (${sizesLabel} GiB)`, ''];
  lines.push(
    `Lab vCenter (vcsim with our ExportVm) serving dense stream-optimized VMDKs generated on the fly (stored-deflate grains, ` +
      `so a ${result.sizes.at(-1)?.sizeGiB ?? ''} GiB disk is ${result.sizes.at(-1)?.sizeGiB ?? ''}+ GiB on the wire) over HTTPS pinned to the lease thumbprint. ` +
      `S3 sink: \`lab/s3\` in discard mode over plain HTTP (acknowledges parts, no hashing). ` +
      (result.pinned ? `**Pinned:** ${result.pinned}. ` : '') +
      `Every contender runs in its own Node process on a fresh ` +
      `export lease; peak RSS is that process's high-water mark (VmHWM: getrusage's maxRSS would report the parent's peak after fork); CPU is user+system seconds of the contender, of the vCenter process ` +
      `and of the S3 endpoint's process. ${result.queueSize} parts in flight (the engine's default); part size = \`partSizeFor(size)\`. ` +
      `s3rver writes every byte to its directory, so its row measures s3rver and the disk, not the pipeline. ` +
      `Load average before → after: ${result.loadBefore} → ${result.loadAfter}; took ${f0(result.tookMs / 1000)} s.`,
    '',
    `**Where the CPU went (issue 17, CPU profiles of 1 GiB runs, \`DISK_WORKER_CPU_PROF\`).** Not TLS: vcsim's Go server already ` +
      `negotiates TLS_AES_128_GCM_SHA256 (AES-NI and VAES on this CPU), and the whole of a raw read with the new reader, decryption included, is 0.5–0.75 CPU-s per GiB. ` +
      `Not hashing: the uploader sends UNSIGNED-PAYLOAD with checksums WHEN_REQUIRED (no SDK checksum on the lab endpoint). ` +
      `It was node:http's per-record path: a Buffer per 16 KiB TLS record, the llhttp parser, IncomingMessage and PassThrough pushes ` +
      `and the GC behind them, 1.5 of the 2.1 CPU-s a raw 1 GiB read cost. The connector now reads the disk off its TLS socket ` +
      `with \`onread\` and frames the HTTP/1.1 body itself (\`connector/vsphere/nfc-http.ts\`). Where only body bytes are due, the socket ` +
      `decrypts them straight into the free space of a reused part buffer (\`onread\` with a buffer function); the head and chunk lines go ` +
      `through one reused 64 KiB buffer. The copy from that buffer into the part buffers was the last one the connector made: 7 % of its ` +
      `profile (\`_copyActual\`, 2026-12-04), now gone. Row (a) is that reader to nothing, row (a′) the plain node:https client it replaced. ` +
      `At most ${result.queueSize} parts are in flight; a filled buffer waits for a slot and the download pauses only while all ${result.queueSize + 1} buffers are busy. ` +
      `The connector row draws through the connector's bandwidth limiter with no cap set, as every migration does. Until 2026-12-04 the bench left it out and so missed that the cap check, asked for every chunk, built two \`Intl.DateTimeFormat\` objects each time: a 2 GiB lab copy through the limiter cost 8.7 CPU-s per GiB at 150 MiB/s, against 2.9 CPU-s at 470 MiB/s without it (whole process, S3 sink included). Now a setting without a schedule skips the clock and the limiter keeps the cap of the current second (\`connector/bandwidth/limiter.ts\`).`,
    '',
  );
  const connectorRss: number[] = [];
  for (const size of result.sizes) {
    lines.push(`### ${size.sizeGiB} GiB disk (${(size.bytes / GiB).toFixed(2)} GiB stream, ${size.partSize / MiB} MiB parts)`, '');
    lines.push('| Contender | MB/s | Time (s) | Peak RSS (MiB) | CPU s: contender / vCenter / S3 |', '|---|---:|---:|---:|---|');
    for (const c of size.contenders) {
      const phases = c.downloadMs !== undefined && c.uploadMs !== undefined ? ` (download ${f1(c.downloadMs / 1000)} + upload ${f1(c.uploadMs / 1000)})` : '';
      lines.push(`| ${CONTENDERS[c.id]} | ${f0(c.mbps)} | ${f1(c.ms / 1000)}${phases} | ${f0(c.maxRssBytes / MiB)} | ${f1(c.cpuS)} / ${f1(c.sourceCpuS)} / ${f1(c.sinkCpuS)} |`);
    }
    for (const s of size.skipped) lines.push(`| ${CONTENDERS[s.id]} | – | not run: ${s.why} | – | – |`);
    lines.push('');
    const get = (id: ContenderId) => size.contenders.find((c) => c.id === id);
    const conn = get('connector');
    const read = get('read');
    const write = get('write');
    const staged = get('staged');
    if (conn) connectorRss.push(conn.maxRssBytes);
    if (conn && read && write) {
      const limit = read.mbps <= write.mbps ? read : write;
      const ratio = conn.mbps / limit.mbps;
      const met = ratio >= 0.85;
      lines.push(
        `**Connector = ${pct(ratio)} of min(source, sink)** (${f0(limit.mbps)} MB/s, ${limit.id === 'read' ? 'the source' : 'the sink'}); target ≥ 85 %: **${met ? 'met' : 'missed'}**.` +
          (met ? '' : ` Cause: ${throughputCause(conn, limit, result.cores)}`),
        '',
      );
    }
    if (conn && read) lines.push(cpuVerdict(conn, read, get('read-https'), write), '');
    if (conn && staged) {
      const ratio = staged.ms / conn.ms;
      const cpu = (c: ContenderResult): number => ((c.cpuS + c.sourceCpuS + c.sinkCpuS) / c.bytes) * GiB;
      const cause =
        ratio >= 1.8
          ? ''
          : ` Cause: staged cost ${f1(cpu(staged))} CPU-s per GiB over its processes (its own ${f1((staged.cpuS / staged.bytes) * GiB)}, writing and re-reading the file) ` +
            `against the connector's ${f1(cpu(conn))}, i.e. ${(cpu(staged) / cpu(conn)).toFixed(2)}× when the CPU is the limit; the two ran ` +
            `${f0((Math.abs(staged.load1 - conn.load1) / Math.max(1, conn.load1)) * 100)} % apart in load average (${f1(conn.load1)} → ${f1(staged.load1)}), ` +
            `and its download and upload ran one after the other (${f1((staged.downloadMs ?? 0) / 1000)} s + ${f1((staged.uploadMs ?? 0) / 1000)} s).`;
      lines.push(`**Connector is ${ratio.toFixed(2)}× faster end-to-end than staged**; target ≥ 1.8×: **${ratio >= 1.8 ? 'met' : 'missed'}**.${cause}`, '');
    }
  }
  if (connectorRss.length > 1) {
    const spread = (Math.max(...connectorRss) - Math.min(...connectorRss)) / Math.min(...connectorRss);
    lines.push(
      `**Connector peak RSS across sizes: ${connectorRss.map((r) => f0(r / MiB)).join(' / ')} MiB** (spread ${pct(spread)}); ` +
        `target flat (spread ≤ 15 %): **${spread <= 0.15 ? 'met' : 'missed'}**. Memory is bounded by (parts in flight + 1) × part size, ` +
        `and the part size only grows above 160 GiB (10,000 parts of 16 MiB).`,
      '',
    );
  }
  return lines.join('\n');
}
