// Child process of the warm-migration benchmark: the lab S3 and the EC2 emulator (with the EBS direct APIs), outside the
// benchmark process so that process's memory is the connector's alone (the emulator keeps every distinct block written).
// Protocol: prints `READY <json>` with the endpoints, then answers one JSON line per request line on stdin
// (`{"id":1,"op":"stats"}`); stdin closing stops everything.
import { createInterface } from 'node:readline';
import { startEc2Emulator } from '../lab/ec2/index.ts';
import { startS3 } from '../lab/s3/index.ts';

export interface WarmAwsReady {
  s3: { url: string; accessKeyId: string; secretAccessKey: string };
  ec2Url: string;
  ebsUrl: string;
  pid: number;
}

export interface WarmAwsStats {
  putBlockCalls: number;
  distinctBlocks: number;
  /** EBS snapshots still held (visible or kept for a descendant). */
  heldSnapshots: number;
  /** Visible EBS snapshots per region with their status. */
  snapshots: { id: string; status: string; parentId?: string; blocks: number }[];
  cpuSeconds: number;
}

const opts = JSON.parse(process.env.WARM_AWS ?? '{}') as { stageMs?: number; regions?: string[] };
const s3 = await startS3();
const ec2 = await startEc2Emulator({
  s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  stageMs: opts.stageMs ?? 200,
  ...(opts.regions ? { regions: opts.regions } : {}),
});
const ready: WarmAwsReady = { s3: { url: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, ec2Url: ec2.url, ebsUrl: ec2.ebsUrl, pid: process.pid };
process.stdout.write(`READY ${JSON.stringify(ready)}\n`);

function stats(): WarmAwsStats {
  const cpu = process.cpuUsage();
  const snapshots = (opts.regions ?? ['us-east-1']).flatMap((r) =>
    ec2.ebs.list(r).map((s) => ({ id: s.id, status: s.status, ...(s.parentId ? { parentId: s.parentId } : {}), blocks: s.own.size })),
  );
  return { putBlockCalls: ec2.ebs.putBlockCalls, distinctBlocks: ec2.ebs.distinctBlocks, heldSnapshots: ec2.ebs.heldSnapshots, snapshots, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const req = JSON.parse(line) as { id: number; op: string };
  const answer = req.op === 'stats' ? { id: req.id, result: stats() } : { id: req.id, error: `unknown op ${req.op}` };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
});
lines.once('close', () => {
  void (async () => {
    await ec2.stop();
    await s3.stop();
    process.exit(0);
  })();
});
