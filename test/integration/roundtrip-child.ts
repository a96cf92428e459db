// A process that only runs one "Bring back to vCenter" task (connector/roundtrip/service.ts), for the SIGKILL test.
// Input in ROUNDTRIP_CHILD (JSON: { file, sdkUrl, caPem, user, password, s3, task, chunkDelayMs }); every save is
// printed as a JSON line ({ phase, leaseId, bytesUploaded }). With `fromInstance` the task is started as from Imported
// Instances: the connector's export of the instance (ExportService on the same file) first. The OVA is read from S3 at a held pace (chunkDelayMs per
// chunk), as a slow link would deliver it, so the parent can kill the process in the middle of the upload.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { ExportService } from '../../connector/engine/exports.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { ReturnService } from '../../connector/roundtrip/service.ts';
import { SqliteReturnTasks, type ReturnRecord } from '../../connector/roundtrip/store.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';

interface ChildInput {
  file: string;
  sdkUrl: string;
  caPem: string;
  user: string;
  password: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string };
  task: Omit<ReturnRecord, 'id' | 'seq' | 'state' | 'phase' | 'percent' | 'bytesUploaded' | 'createdAt' | 'updatedAt'>;
  chunkDelayMs: number;
  fromInstance?: { ec2Endpoint: string; bucketName: string };
}

const input = JSON.parse(process.env.ROUNDTRIP_CHILD ?? '{}') as ChildInput;
const s3 = new S3Client({ region: 'us-east-1', endpoint: input.s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: input.s3.accessKeyId, secretAccessKey: input.s3.secretAccessKey } });
// Every GetObject body arrives in 64 KiB pieces, one per chunkDelayMs.
const send = s3.send.bind(s3) as (cmd: unknown, opts?: unknown) => Promise<{ Body?: unknown }>;
(s3 as unknown as { send: typeof send }).send = async (cmd, opts) => {
  const out = await send(cmd, opts);
  if (!(out.Body instanceof Readable)) return out;
  const body = out.Body;
  async function* held() {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i += 65536) {
        await sleep(input.chunkDelayMs);
        yield chunk.subarray(i, i + 65536);
      }
    }
  }
  return { ...out, Body: Readable.from(held()) };
};
class TellingTasks extends SqliteReturnTasks {
  override async save(rec: ReturnRecord): Promise<void> {
    await super.save(rec);
    process.stdout.write(`${JSON.stringify({ id: rec.id, state: rec.state, phase: rec.phase, leaseId: rec.leaseId, vmId: rec.vmId, bytesUploaded: rec.bytesUploaded })}\n`);
  }
}
let exports: ExportService | undefined;
if (input.fromInstance) {
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: input.fromInstance.ec2Endpoint, credentials: { accessKeyId: 'lab', secretAccessKey: 'lab' } });
  exports = new ExportService({ store: new SqliteExportTasks(input.file), ec2: () => ec2, s3: () => s3, maxExportsPerRegion: 5 });
  await exports.setBucketName(input.fromInstance.bucketName);
}
const service = new ReturnService({
  repo: new TellingTasks(input.file),
  ...(exports ? { exports: () => exports } : {}),
  s3: () => s3,
  serviceSession: async () => undefined,
  connectorId: async () => 'roundtrip-child',
  keepAliveMs: 200,
  log: (m) => process.stderr.write(`${m}\n`),
});
const client = await Vim25Client.connect({ sdkUrl: input.sdkUrl, ca: input.caPem });
await client.login(input.user, input.password);
if (exports) {
  const { task } = input;
  const exp = await exports.start({ environmentId: task.environmentId, region: task.region, instanceId: task.instanceId, s3Prefix: 'bring-back/', requestedBy: task.requestedBy });
  await service.start({ ...task, source: 'instance', exportId: exp.id, exportTaskId: exp.exportTaskId, bucket: exp.bucket, s3Key: exp.s3Key ?? '' }, client);
} else {
  await service.start(input.task, client);
}
