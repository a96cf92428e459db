import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { PLUGIN_KEY } from '../connector/contract/index.ts';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../connector/aws/vmimport-role.ts';
import { startConnector, type ConnectorHandle } from '../connector/server.ts';
import { generateSelfSigned } from '../connector/tls.ts';
import { PACKAGE_ROOT } from '../connector/paths.ts';
import { startVcsim, type VcsimHandle } from './vcsim/index.ts';
import { startS3 } from './s3/index.ts';
import { startEc2Emulator } from './ec2/index.ts';
import { startVsphereClient } from './vsphere-client/index.ts';
import { reservePort } from './ports.ts';
import { ensureUiBuilt } from './ui-build.ts';

/** Regions the lab's EC2 emulator serves and the lab connector offers. */
export const LAB_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
/** Static credentials for the emulators only (real AWS uses the SDK's default chain). */
export const LAB_AWS_CREDENTIALS = { accessKeyId: 'lab', secretAccessKey: 'lab' };

export interface LabUser {
  name: string;
  password: string;
  description: string;
}

export interface LabHandle {
  /** The vSphere Client stand-in (the lab's single front door, like a vCenter). */
  clientUrl: string;
  vcenterOrigin: string;
  vcsim: VcsimHandle;
  connector: ConnectorHandle;
  s3Url: string;
  ec2Url: string;
  users: LabUser[];
  stop(): Promise<void>;
}

export interface LabOptions {
  /** EC2 emulator stage length: milliseconds per import stage (tests: tens; demo: seconds). */
  stageMs?: number;
  /** EC2 emulator export stage length (three stages per instance export); default `stageMs`. */
  exportStageMs?: number;
  log?: (msg: string) => void;
  /**
   * Attach the connector's policy to the emulator's `vmimport` role, as an AWS administrator would before the
   * first migration. Off by default so `doctor` and pre-flight have the seed's "missing import role" to find.
   */
  importRoleReady?: boolean;
}

export async function labUsers(): Promise<LabUser[]> {
  const inventory = JSON.parse(await readFile(join(PACKAGE_ROOT, 'lab', 'inventory.json'), 'utf8')) as { users: LabUser[] };
  return inventory.users;
}

/** Start vcsim, S3, the EC2 emulator, the connector and the vSphere Client stand-in, all on 127.0.0.1. */
export async function startLab(opts: LabOptions = {}): Promise<LabHandle> {
  const log = opts.log ?? (() => {});
  const stageMs = opts.stageMs ?? 10_000;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    await ensureUiBuilt(log);
    log('Starting the lab vCenter (vcsim)…');
    const vcsim = await startVcsim();
    stops.push(() => vcsim.stop());

    const s3 = await startS3();
    stops.push(() => s3.stop());
    const ec2 = await startEc2Emulator({
      s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      stageMs,
      ...(opts.exportStageMs ? { exportStageMs: opts.exportStageMs } : {}),
      regions: LAB_REGIONS,
    });
    stops.push(() => ec2.stop());

    if (opts.importRoleReady) {
      const iam = new IAMClient({ endpoint: ec2.url, region: LAB_REGIONS[0], credentials: LAB_AWS_CREDENTIALS });
      await iam.send(
        new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }),
      );
      iam.destroy();
    }

    // The stand-in is the vCenter origin the connector talks to, so its address is fixed first.
    const clientPort = await reservePort();
    const clientTls = await generateSelfSigned(['127.0.0.1', 'localhost']);
    const dataDir = await mkdtemp(join(tmpdir(), 'vm2ec2-lab-'));
    stops.push(() => rm(dataDir, { recursive: true, force: true }));

    const users = await labUsers();
    const serviceAccount = users.find((u) => u.name.startsWith('administrator@'));
    if (!serviceAccount) throw new Error('lab/inventory.json has no administrator user');

    log('Starting the connector…');
    const connector = await startConnector({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir,
      vcenter: { url: `https://127.0.0.1:${clientPort}`, caPem: clientTls.certPem },
      administrators: ['administrator@vsphere.local'],
      aws: { endpoint: ec2.url, regions: LAB_REGIONS, credentials: LAB_AWS_CREDENTIALS },
      engine: {
        s3Endpoint: s3.url,
        s3Credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        // The connector's own vCenter account (like the registered connector of the seed): exports resume after a restart.
        vcenterAccount: { userName: serviceAccount.name, password: serviceAccount.password },
        // The emulator's clock is scaled, so poll in step with it.
        pollMs: Math.max(20, Math.round(stageMs / 4)),
        pollMaxMs: Math.max(100, stageMs),
      },
    });
    stops.push(() => connector.stop());

    log('Starting the vSphere Client stand-in…');
    const client = await startVsphereClient({
      vcenter: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid },
      plugins: [
        {
          key: PLUGIN_KEY,
          version: '0.1.0',
          manifestUrl: connector.manifestUrl,
          serverCertPem: connector.certPem,
          serverThumbprint: connector.thumbprintSha256,
        },
      ],
      tls: { certPem: clientTls.certPem, keyPem: clientTls.keyPem },
      port: clientPort,
    });
    stops.push(() => client.stop());

    return {
      clientUrl: `${client.origin}/ui/`,
      vcenterOrigin: client.origin,
      vcsim,
      connector,
      s3Url: s3.url,
      ec2Url: ec2.url,
      users,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
