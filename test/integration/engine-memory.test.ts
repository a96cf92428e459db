// Bounded memory: the engine streams a 20 GiB disk (and a 1 GiB one) from vCenter into an S3 endpoint that
// acknowledges parts and discards them. The engine runs in its own process; its peak RSS is read from the OS.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_NODE_FLAGS } from '../../connector/node-flags.ts';
import { startS3, type S3SinkHandle } from '../../lab/s3/index.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

const MiB = 1024 * 1024;
let lab: EngineLab;
let sink: S3SinkHandle;
let tasks: SqliteMigrationTasks;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  lab = await startEngineLab({ startEngine: false });
  sink = await startS3({ sink: true });
  tasks = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  tasks?.close();
  await sink?.stop();
  await lab?.stop();
});

/** Runs one migration's export+upload in a fresh engine process; returns its peak RSS and the streamed size. */
async function streamOnce(vmName: string): Promise<{ maxRssBytes: number; bytes: number; expected: number }> {
  const config = { ...lab.configInput, engine: { ...lab.configInput.engine, s3Endpoint: sink.url, s3Credentials: { accessKeyId: sink.accessKeyId, secretAccessKey: sink.secretAccessKey }, stagingBucket: 'sink-{region}' } };
  // With the Node.js flags the connector ships with (its young generation capped): the memory users get.
  const child = spawn(process.execPath, [...CONNECTOR_NODE_FLAGS, '--import', 'tsx', join(import.meta.dirname, 'engine-child.ts')], {
    env: { ...process.env, ENGINE_CHILD: JSON.stringify({ config, sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem, ec2Url: lab.ec2.url, submit: [lab.request(vmName)] }) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let id = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`engine child exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: string; ready?: boolean };
      if (msg.id) id = msg.id;
      if (msg.ready) resolve();
    });
  });
  const uploaded = await waitFor(async () => {
    const t = await tasks.get(id);
    if (t && t.state !== 'running' && t.state !== 'queued' && !t.disks[0]?.done) throw new Error(`ended ${t.state}: ${t.error ?? ''}`);
    return t?.disks[0]?.done ? t : undefined;
  }, `${vmName} streamed`, 900_000);
  const rss = await new Promise<number>((resolve) => {
    child.once('message', (m) => resolve((m as { maxRssBytes: number }).maxRssBytes));
    child.send('maxrss');
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const disk = uploaded.disks[0]!;
  const stats = sink.sinkStats('sink-us-east-1', disk.s3Key);
  return { maxRssBytes: rss, bytes: stats?.bytes ?? -1, expected: disk.expectedBytes };
}

// Budget: Node, tsx, the AWS SDK and the engine (~200 MiB measured by bench/disk.ts for the copy alone) plus the
// copy's (parts in flight + 1) × 16 MiB part buffers and socket buffers. 300 MiB was set for 5 MiB parts; with
// 16 MiB parts the 20 GiB run peaked at 319 MiB once in CI. What must hold is a fixed bound, flat across sizes.
const RSS_BOUND = 400 * MiB;
// A leak grows with the bytes copied (20× from 1 to 20 GiB). The spread between two runs of one size is GC timing:
// CI measured 263 vs 316 MiB (20 %) beside other suites. The 15 % flatness target is the benchmark's (bench/disk.ts,
// 1 / 10 / 50 GiB on an otherwise idle machine); here a spread past 35 % is growth, not noise.
const MAX_SPREAD = 0.35;

describe('bounded memory', () => {
  it('streams 1 GiB and 20 GiB disks with flat peak RSS under a fixed bound', { timeout: 1_200_000 }, async () => {
    const small = await streamOnce('ubuntu-web-01');
    const large = await streamOnce('stream-test-20g');
    expect(small.bytes).toBe(small.expected);
    expect(large.bytes).toBe(large.expected);
    expect(large.bytes).toBeGreaterThan(20 * 1024 * MiB);
    expect(large.maxRssBytes).toBeLessThan(RSS_BOUND);
    expect(small.maxRssBytes).toBeLessThan(RSS_BOUND);
    const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
    expect(Math.abs(large.maxRssBytes - small.maxRssBytes) / Math.min(large.maxRssBytes, small.maxRssBytes), `peak RSS 1 GiB ${mib(small.maxRssBytes)}, 20 GiB ${mib(large.maxRssBytes)}`).toBeLessThan(MAX_SPREAD);
  });
});
