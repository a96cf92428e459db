// Shared arrangement for the engine tests: vcsim, lab S3 (s3rver behind the shim), the EC2 emulator, and an
// engine built from a connector configuration exactly as the connector builds it. Everything on 127.0.0.1.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { startVcsim, type LabVmSpec, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { labS3ClientConfig, startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { ConnectorConfig, type ConnectorConfigInput } from '../../connector/config.ts';
import { createEngine } from '../../connector/engine/factory.ts';
import type { MigrationEngine } from '../../connector/engine/engine.ts';
import type { MigrationSubmission } from '../../connector/engine/types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';

export const REGION = 'us-east-1';
export const AWS_CREDENTIALS = { accessKeyId: 'lab', secretAccessKey: 'lab' };

interface Inventory {
  users: { name: string; password: string }[];
  vms: { name: string; powerState: string; disks: { capacityMiB: number; seed: number }[] }[];
}
export const inventory = JSON.parse(readFileSync(new URL('../../lab/inventory.json', import.meta.url), 'utf8')) as Inventory;
export const admin = inventory.users.find((u) => u.name.startsWith('administrator@'))!;

export interface EngineLab {
  vcsim: VcsimHandle;
  s3: S3Handle;
  ec2: Ec2EmulatorHandle;
  dataDir: string;
  config: ConnectorConfig;
  configInput: ConnectorConfigInput;
  engine: MigrationEngine;
  ec2Client: EC2Client;
  s3Client: S3Client;
  vmIds: Map<string, string>;
  subnetId: string;
  subnetCidr: string;
  securityGroupId: string;
  /** A submission for a VM by name, in the lab subnet and security group. */
  request(vmName: string, extra?: Partial<MigrationSubmission>): MigrationSubmission;
  /** A logged-in admin vim25 client (closed on stop). */
  vim(): Promise<Vim25Client>;
  /** Builds a fresh engine on the same database (the previous one must be stopped). */
  newEngine(engine?: Partial<ConnectorConfigInput['engine']>): MigrationEngine;
  stop(): Promise<void>;
}

/**
 * A connector configuration for an engine against the lab stand-ins: the lab administrator as the engine's vCenter
 * account, lab S3 for staging, fast lease keep-alive and EC2 polls. `engine` overrides or adds engine keys.
 */
export function labEngineConfig(lab: {
  dataDir: string;
  vcsim: Pick<VcsimHandle, 'sdkUrl' | 'certPem'>;
  s3: Pick<S3Handle, 'url' | 'accessKeyId' | 'secretAccessKey'>;
  ec2: Pick<Ec2EmulatorHandle, 'url'> & Partial<Pick<Ec2EmulatorHandle, 'ebsUrl' | 'kmsUrl'>>;
  engine?: Partial<NonNullable<ConnectorConfigInput['engine']>>;
  sqliteFile?: string;
}): ConnectorConfigInput {
  return {
    dataDir: lab.dataDir,
    ...(lab.sqliteFile ? { store: { sqliteFile: lab.sqliteFile } } : {}),
    vcenter: { url: new URL(lab.vcsim.sdkUrl).origin, caPem: lab.vcsim.certPem },
    aws: { endpoint: lab.ec2.url, ...(lab.ec2.ebsUrl ? { ebsEndpoint: lab.ec2.ebsUrl } : {}), ...(lab.ec2.kmsUrl ? { kmsEndpoint: lab.ec2.kmsUrl } : {}), regions: [REGION], credentials: { ...AWS_CREDENTIALS } },
    engine: {
      s3Endpoint: lab.s3.url,
      s3Credentials: { accessKeyId: lab.s3.accessKeyId, secretAccessKey: lab.s3.secretAccessKey },
      vcenterAccount: { userName: admin.name, password: admin.password },
      leaseKeepAliveMs: 50,
      pollMs: 20,
      pollMaxMs: 100,
      ...lab.engine,
    },
  };
}

export interface EngineLabOptions {
  stageMs?: number;
  engine?: Partial<NonNullable<ConnectorConfigInput['engine']>>;
  maxActiveImports?: number;
  startEngine?: boolean;
  /** The lab vCenter's VMs instead of lab/inventory.json's (users and roles kept). */
  vms?: LabVmSpec[];
}

export async function startEngineLab(opts: EngineLabOptions = {}): Promise<EngineLab> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    // Each step is bounded: one hung close (seen once in CI after SIGKILLed children) must not fail the suite's teardown.
    for (const s of stops.reverse()) await Promise.race([s().catch(() => {}), new Promise((r) => setTimeout(r, 15_000).unref())]);
  };
  try {
    const vcsim = await startVcsim(opts.vms ? { vms: opts.vms } : {});
    stops.push(() => vcsim.stop());
    const s3 = await startS3();
    stops.push(() => s3.stop());
    const ec2 = await startEc2Emulator({
      s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      stageMs: opts.stageMs ?? 30,
      ...(opts.maxActiveImports ? { maxActiveImports: opts.maxActiveImports } : {}),
    });
    stops.push(() => ec2.stop());
    const dataDir = await mkdtemp(join(tmpdir(), 'vm2ec2-engine-'));
    stops.push(() => rm(dataDir, { recursive: true, force: true }));

    const configInput = labEngineConfig({ dataDir, vcsim, s3, ec2, ...(opts.engine ? { engine: opts.engine } : {}) });
    const ec2Client = new EC2Client({ region: REGION, endpoint: ec2.url, credentials: { ...AWS_CREDENTIALS } });
    stops.push(async () => ec2Client.destroy());
    const s3Client = new S3Client(labS3ClientConfig(s3, REGION));
    stops.push(async () => s3Client.destroy());

    const clients: Vim25Client[] = [];
    stops.push(async () => {
      for (const c of clients) await c.logout().catch(() => undefined);
    });
    const vim = async () => {
      const c = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
      await c.login(admin.name, admin.password);
      clients.push(c);
      return c;
    };
    const vmIds = new Map((await (await vim()).listVirtualMachines()).map((v) => [v.name, v.id]));
    const subnet = (await ec2Client.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
    const sg = (await ec2Client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [subnet.VpcId!] }] }))).SecurityGroups![0]!;

    const ec2Clients = new Map<string, EC2Client>();
    let current: { engine: MigrationEngine; close(): Promise<void> } | undefined;
    const newEngine = (engine: Partial<ConnectorConfigInput['engine']> = {}): MigrationEngine => {
      const config = ConnectorConfig.parse({ ...configInput, engine: { ...configInput.engine, ...engine } });
      const built = createEngine(config, {
        vcenter: { sdkUrl: vcsim.sdkUrl, caPem: vcsim.certPem },
        ec2: (region) => {
          let c = ec2Clients.get(region);
          if (!c) ec2Clients.set(region, (c = new EC2Client({ region, endpoint: ec2.url, credentials: { ...AWS_CREDENTIALS } })));
          return c;
        },
      });
      const previous = current;
      current = built;
      void previous;
      return built.engine;
    };
    stops.push(async () => {
      await current?.close();
      for (const c of ec2Clients.values()) c.destroy();
    });
    const engine = newEngine();
    if (opts.startEngine !== false) await engine.start();

    return {
      vcsim,
      s3,
      ec2,
      dataDir,
      config: ConnectorConfig.parse(configInput),
      configInput,
      engine,
      ec2Client,
      s3Client,
      vmIds,
      subnetId: subnet.SubnetId!,
      subnetCidr: subnet.CidrBlock!,
      securityGroupId: sg.GroupId!,
      request: (vmName, extra = {}) => ({
        environmentId: 'env-default',
        region: REGION,
        vmId: vmIds.get(vmName)!,
        platform: 'Linux',
        subnetId: subnet.SubnetId!,
        instanceType: 't3.micro',
        securityGroupIds: [sg.GroupId!],
        requestedBy: admin.name,
        ...extra,
      }),
      vim,
      newEngine,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls until `check` returns a value (no timing assertions: only a generous safety deadline). */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
