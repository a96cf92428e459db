// A connector-like process that only runs the migration engine, for SIGKILL tests. Config comes in
// ENGINE_CHILD (JSON: { config, sdkUrl, caPem, ec2Url, submit? }); submitted task ids are printed as JSON lines.
import { EC2Client } from '@aws-sdk/client-ec2';
import { ConnectorConfig } from '../../connector/config.ts';
import { peakRssBytes } from '../../bench/peak-rss.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import type { MigrationSubmission } from '../../connector/engine/types.ts';

interface ChildInput {
  config: unknown;
  sdkUrl: string;
  caPem: string;
  ec2Url: string;
  submit?: MigrationSubmission[];
}

const input = JSON.parse(process.env.ENGINE_CHILD ?? '{}') as ChildInput;
const config = ConnectorConfig.parse(input.config);
const clients = new Map<string, EC2Client>();
const { engine, close } = createEngine(config, {
  vcenter: { sdkUrl: input.sdkUrl, caPem: input.caPem },
  ec2: (region) => {
    let c = clients.get(region);
    if (!c) clients.set(region, (c = new EC2Client({ region, endpoint: input.ec2Url, credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' } })));
    return c;
  },
});
await engine.start();
for (const sub of input.submit ?? []) {
  const t = await engine.submit(sub);
  process.stdout.write(`${JSON.stringify({ id: t.id })}\n`);
}
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.on('SIGTERM', () => {
  void close().finally(() => process.exit(0));
});
// The parent asks for this process's peak resident set size (bytes) over IPC.
process.on('message', (msg) => {
  if (msg === 'maxrss') process.send?.({ maxRssBytes: peakRssBytes() });
});
// Warm requests from the parent (test/faults/warm-crash.test.ts): { cutover: taskId, by }.
process.on('message', async (msg) => {
  const m = msg as { cutover?: string; by?: string };
  if (m && typeof m === 'object' && m.cutover) await engine.cutover(m.cutover, m.by ?? 'administrator@vsphere.local');
});
setInterval(() => {}, 60_000);
