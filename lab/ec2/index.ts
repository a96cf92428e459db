// The lab's EC2 (+ minimal IAM/STS) Query-API emulator. One endpoint serves every region; the region
// comes from the SigV4 credential scope. Exercise it only through the real AWS SDK clients.
import type { AddressInfo } from 'node:net';
import { Ec2Emulator, type Ec2EmulatorOptions } from './emulator.ts';
import type { EbsStore } from './ebs-store.ts';
import { createEbsServer } from './ebs.ts';
import { createEmulatorServer } from './server.ts';
import { createKmsServer } from '../kms/server.ts';

export { Ec2Emulator, DEFAULT_REGIONS, type Ec2EmulatorOptions, type InjectedFault } from './emulator.ts';
export type { ExportFailureRule, ExportTask, Image, ImportFailureRule, ImportHoldRule, ImportStage, ImportTask, Instance, RegionState } from './state.ts';
export { IMPORT_STAGES } from './state.ts';
export { EBS_BLOCK_SIZE, EbsStore, type EbsSnapshot } from './ebs-store.ts';
export { DISK_VALIDATION_FAILED, DEFAULT_IMPORT_FAILURE } from './imports.ts';
export { DEFAULT_EXPORT_FAILURE, VM_EXPORT_CANONICAL_ID } from './exports.ts';
export { VMIMPORT_TRUST_POLICY, type Role } from './iam.ts';
export { KNOWN_INSTANCE_TYPES, offeredTypes } from './network.ts';
export { REQUESTER_MANAGED_DESCRIPTION } from './interfaces.ts';
export { KmsStore, LAB_KMS_ALIASES, type KmsKey, type KeyState } from '../kms/index.ts';

export interface Ec2EmulatorHandle {
  /** `http://127.0.0.1:<port>`: use as the EC2, IAM and STS endpoint (or AWS_ENDPOINT_URL_EC2). */
  url: string;
  /** State inspection, `advance()`, failure injection. */
  emulator: Ec2Emulator;
  /** `http://127.0.0.1:<port>`: the EBS direct APIs endpoint (EBSClient `endpoint`; connector `aws.ebsEndpoint`). */
  ebsUrl: string;
  /** EBS snapshot inspection: snapshotSha256(id), blocksWritten(id), putBlockCalls, distinctBlocks. */
  ebs: EbsStore;
  /** `http://127.0.0.1:<port>`: the KMS endpoint (KMSClient `endpoint`; connector `aws.kmsEndpoint`). */
  kmsUrl: string;
  stop(): Promise<void>;
}

export async function startEc2Emulator(opts: Ec2EmulatorOptions): Promise<Ec2EmulatorHandle> {
  const emulator = new Ec2Emulator(opts);
  const server = createEmulatorServer(emulator);
  const ebsServer = createEbsServer(emulator);
  const kmsServer = createKmsServer(emulator);
  for (const s of [server, ebsServer, kmsServer]) {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve());
    });
  }
  const timer = opts.manualClock
    ? undefined
    : setInterval(() => void emulator.tick().catch(() => undefined), Math.max(5, Math.min(emulator.stageMs / 5, 1000)));
  timer?.unref();
  const { port } = server.address() as AddressInfo;
  const { port: ebsPort } = ebsServer.address() as AddressInfo;
  const { port: kmsPort } = kmsServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ebsUrl: `http://127.0.0.1:${ebsPort}`,
    kmsUrl: `http://127.0.0.1:${kmsPort}`,
    emulator,
    ebs: emulator.ebs,
    async stop() {
      if (timer) clearInterval(timer);
      await Promise.all(
        [server, ebsServer, kmsServer].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      await emulator.idle();
      emulator.s3.destroy();
    },
  };
}
