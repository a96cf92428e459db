import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { PLUGIN_KEY } from '../connector/contract/index.ts';
import { registerPlugin } from '../connector/cli/registration.ts';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies } from '../connector/aws/vmimport-role.ts';
import { startConnector, type ConnectorHandle } from '../connector/server.ts';
import type { ConnectorConfigInput } from '../connector/config.ts';
import { generateSelfSigned } from '../connector/tls.ts';
import { PACKAGE_ROOT } from '../connector/paths.ts';
import { startVcsim, type VcsimHandle } from './vcsim/index.ts';
import { startS3, type S3Handle } from './s3/index.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from './ec2/index.ts';
import { startVsphereClient } from './vsphere-client/index.ts';
import { powerOff, powerOn } from '../connector/vsphere/cbt.ts';
import { Vim25Client } from '../connector/vsphere/vim25.ts';
import { reservePort } from './ports.ts';
import { startPostgresCluster } from './postgres/cluster.ts';
import { pgConfigFromUrl, withDatabase } from '../connector/store/postgres/url.ts';
import pg from 'pg';
import { ensureUiBuilt } from './ui-build.ts';

/** Regions the lab's EC2 emulator serves and the lab connector offers. */
export const LAB_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
/**
 * Static credentials for the emulators only (real AWS uses the SDK's default chain). A fresh object on every call:
 * the AWS SDK annotates the credential objects it is given, which the connector's strict configuration then refuses.
 */
export const labAwsCredentials = () => ({ accessKeyId: 'lab', secretAccessKey: 'lab' });

export interface LabUser {
  name: string;
  password: string;
  description: string;
}

export interface LabHandle {
  /** The vSphere Client stand-in (the lab's single front door, like a vCenter). */
  clientUrl: string;
  vcenterOrigin: string;
  /** PEM of the stand-in's certificate (what the connector trusts as its vCenter). */
  vcenterCertPem: string;
  vcsim: VcsimHandle;
  connector: ConnectorHandle;
  /** The connector's data directory (database, keys, certificate). */
  dataDir: string;
  /** With `postgres`: the shared store's URL (the password is in each connector's data dir) and the second connector. */
  fleet?: { storeUrl: string; peer: ConnectorHandle; peerDataDir: string };
  s3: S3Handle;
  ec2: Ec2EmulatorHandle;
  s3Url: string;
  ec2Url: string;
  users: LabUser[];
  /** Logs a lab user in to the vSphere Client stand-in and returns the plugin session token it hands the plugin. */
  pluginSessionToken(userName: string): Promise<string>;
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
  /** Build the plugin UI first (default true; API tests and benchmarks do not load it). */
  buildUi?: boolean;
  /** Connector settings over the lab's (each top-level section is merged, e.g. `{ engine: { pollMs: 20 } }`). */
  connector?: Partial<ConnectorConfigInput>;
  /** Buckets the lab S3 starts with. */
  buckets?: string[];
  /**
   * Issue 14: a throwaway PostgreSQL cluster as the shared store and a second connector of the same vCenter on it
   * (its own data dir, fleet id and port); the vSphere Client's plugin stays registered with the first.
   */
  postgres?: boolean;
}

export async function labUsers(): Promise<LabUser[]> {
  const inventory = JSON.parse(await readFile(join(PACKAGE_ROOT, 'lab', 'inventory.json'), 'utf8')) as { users: LabUser[] };
  return inventory.users;
}

/** The stand-in's login, as the browser does it; the stand-in answers with the plugin session token. */
async function pluginSessionToken(client: { origin: string; certPem: string }, users: LabUser[], userName: string): Promise<string> {
  const user = users.find((u) => u.name === userName);
  if (!user) throw new Error(`${userName} is not a lab user`);
  const body = JSON.stringify({ username: user.name, password: user.password });
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      `${client.origin}/ui/api/login`,
      { method: 'POST', ca: client.certPem, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  const token = answer.status === 200 ? (JSON.parse(answer.text) as { pluginSessionToken?: unknown }).pluginSessionToken : undefined;
  if (typeof token !== 'string') throw new Error(`login of ${userName} failed: HTTP ${answer.status} ${answer.text}`);
  return token;
}

const STOP_PART_MS = 30_000;

/** Start vcsim, S3, the EC2 emulator, the connector and the vSphere Client stand-in, all on 127.0.0.1. */
export async function startLab(opts: LabOptions = {}): Promise<LabHandle> {
  const log = opts.log ?? (() => {});
  const stageMs = opts.stageMs ?? 10_000;
  const stops: { name: string; stop: () => Promise<void> }[] = [];
  // Each part gets a bounded time: one that hangs (a task that ignores its abort, a socket left open) is named on
  // stderr and the rest still stop, so a test run never waits forever on its teardown.
  const stopAll = async () => {
    for (const { name, stop } of stops.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), STOP_PART_MS)));
      const began = Date.now();
      const outcome = await Promise.race([stop().then(() => 'stopped' as const, () => 'stopped' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late') process.stderr.write(`lab: ${name} did not stop within ${STOP_PART_MS / 1000} s; stopping the rest\n`);
      else if (Date.now() - began > 5_000) process.stderr.write(`lab: ${name} took ${Math.round((Date.now() - began) / 1000)} s to stop\n`);
    }
  };
  try {
    if (opts.buildUi !== false) await ensureUiBuilt(log);
    log('Starting the lab vCenter (vcsim)…');
    const vcsim = await startVcsim();
    stops.push({ name: 'vcsim', stop: () => vcsim.stop() });

    const s3 = await startS3(opts.buckets ? { buckets: opts.buckets } : {});
    stops.push({ name: 'S3', stop: () => s3.stop() });
    const ec2 = await startEc2Emulator({
      s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      stageMs,
      ...(opts.exportStageMs ? { exportStageMs: opts.exportStageMs } : {}),
      regions: LAB_REGIONS,
    });
    stops.push({ name: 'the EC2 emulator', stop: () => ec2.stop() });

    if (opts.importRoleReady) {
      const iam = new IAMClient({ endpoint: ec2.url, region: LAB_REGIONS[0], credentials: labAwsCredentials() });
      await iam.send(
        new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }),
      );
      iam.destroy();
    }

    // The stand-in is the vCenter origin the connector talks to, so its address is fixed first.
    const clientPort = await reservePort();
    const clientTls = await generateSelfSigned(['127.0.0.1', 'localhost']);
    const dataDir = await mkdtemp(join(tmpdir(), 'vm2ec2-lab-'));
    stops.push({ name: "the connector's data folder", stop: () => rm(dataDir, { recursive: true, force: true }) });

    const users = await labUsers();
    const serviceAccount = users.find((u) => u.name.startsWith('administrator@'));
    if (!serviceAccount) throw new Error('lab/inventory.json has no administrator user');

    const extra = opts.connector ?? {};
    let store: { url: string; passwordFile: (dataDir: string) => Promise<string> } | undefined;
    if (opts.postgres) {
      log('Starting PostgreSQL (the fleet\'s shared store)…');
      // A password as in production; each connector reads it from a 0600 file in its data dir, never from the URL.
      const password = randomBytes(12).toString('base64url');
      const cluster = await startPostgresCluster({ password });
      stops.push({ name: 'PostgreSQL', stop: () => cluster.stop() });
      const admin = new pg.Client(pgConfigFromUrl(cluster.url, password));
      await admin.connect();
      await admin.query('CREATE DATABASE vm2ec2').finally(() => admin.end());
      store = {
        url: withDatabase(cluster.url, 'vm2ec2'),
        passwordFile: async (dir) => {
          const file = join(dir, 'store-password');
          await writeFile(file, password, { mode: 0o600 });
          return file;
        },
      };
    }
    const connectorConfig = async (dir: string, fleetId: string): Promise<ConnectorConfigInput> => ({
      ...extra,
      ...(store ? { store: { url: store.url, passwordFile: await store.passwordFile(dir) }, fleet: { ...extra.fleet, connectorId: fleetId } } : {}),
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: dir,
      vcenter: { url: `https://127.0.0.1:${clientPort}`, caPem: clientTls.certPem },
      administrators: ['administrator@vsphere.local'],
      aws: { endpoint: ec2.url, ebsEndpoint: ec2.ebsUrl, kmsEndpoint: ec2.kmsUrl, regions: LAB_REGIONS, credentials: labAwsCredentials(), ...extra.aws },
      engine: {
        s3Endpoint: s3.url,
        s3Credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        // The connector's own vCenter account (like the registered connector of the seed): exports resume after a restart.
        vcenterAccount: { userName: serviceAccount.name, password: serviceAccount.password },
        // The emulator's clock is scaled, so poll in step with it.
        pollMs: Math.max(20, Math.round(stageMs / 4)),
        pollMaxMs: Math.max(100, stageMs),
        // Warm migration: a replication "minute" lasts 6 s in the lab, so the 5-minute minimum interval is 30 s.
        warmMinuteMs: 6_000,
        ...extra.engine,
      },
    });
    log('Starting the connector…');
    const connector = await startConnector(await connectorConfig(dataDir, 'lab-connector-1'));
    stops.push({ name: 'the connector', stop: () => connector.stop() });
    let fleet: LabHandle['fleet'];
    if (store) {
      log('Starting a second connector of the same vCenter on the shared store…');
      const peerDataDir = await mkdtemp(join(tmpdir(), 'vm2ec2-lab-peer-'));
      stops.push({ name: "the peer connector's data folder", stop: () => rm(peerDataDir, { recursive: true, force: true }) });
      const peer = await startConnector(await connectorConfig(peerDataDir, 'lab-connector-2'));
      stops.push({ name: 'the peer connector', stop: () => peer.stop() });
      fleet = { storeUrl: store.url, peer, peerDataDir };
    }

    // As `vm2ec2 register` does after install: the extension with its task and event types and the custom
    // attributes, so migrations show in Recent Tasks and the VMs' events (docs/vcenter-integration.md).
    const registrar = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    try {
      await registrar.login(serviceAccount.name, serviceAccount.password);
      await registerPlugin(registrar, { manifestUrl: connector.manifestUrl, version: '0.1.0', serverCertPem: connector.certPem });
    } finally {
      await registrar.logout().catch(() => undefined);
      registrar.close();
    }

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
      // Lab only: the VM Summary's "Change disk blocks" card writes to a running VM's disk (warm migration's changes).
      labDiskWriter: (vmId, deviceKey, write) => vcsim.writeDisk(vmId, deviceKey, write),
      // Lab only: the guest powers itself off (the lab's VMs run no VMware Tools, so a cutover waits for this).
      labGuestShutdown: async (vmId) => {
        const vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
        try {
          await vc.login(serviceAccount.name, serviceAccount.password);
          await powerOff(vc, vmId);
        } finally {
          await vc.logout().catch(() => undefined);
          vc.close();
        }
      },
      // Lab only: and powers on again (the card's "Power on", after a shutdown or a cutover in the lab).
      labPowerOn: async (vmId) => {
        const vc = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
        try {
          await vc.login(serviceAccount.name, serviceAccount.password);
          await powerOn(vc, vmId);
        } finally {
          await vc.logout().catch(() => undefined);
          vc.close();
        }
      },
    });
    stops.push({ name: 'the vSphere Client stand-in', stop: () => client.stop() });

    return {
      clientUrl: `${client.origin}/ui/`,
      vcenterOrigin: client.origin,
      vcenterCertPem: client.certPem,
      vcsim,
      connector,
      dataDir,
      ...(fleet ? { fleet } : {}),
      s3,
      ec2,
      s3Url: s3.url,
      ec2Url: ec2.url,
      users,
      pluginSessionToken: (userName) => pluginSessionToken(client, users, userName),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
