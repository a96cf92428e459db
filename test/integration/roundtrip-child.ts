// A process that only runs one "Bring back to vCenter" task (connector/roundtrip/service.ts), for the SIGKILL test.
// Input in ROUNDTRIP_CHILD (JSON: { file, sdkUrl, caPem, user, password, s3, task, chunkDelayMs }); every save is
// printed as a JSON line ({ phase, leaseId, bytesUploaded }). The OVA is read from S3 at a held pace (chunkDelayMs per
// chunk), as a slow link would deliver it, so the parent can kill the process in the middle of the upload.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
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
const service = new ReturnService({
  repo: new TellingTasks(input.file),
  s3: () => s3,
  serviceSession: async () => undefined,
  connectorId: async () => 'roundtrip-child',
  keepAliveMs: 200,
  log: (m) => process.stderr.write(`${m}\n`),
});
const client = await Vim25Client.connect({ sdkUrl: input.sdkUrl, ca: input.caPem });
await client.login(input.user, input.password);
await service.start(input.task, client);
