// The lab (lab/index.ts#startLab, without building the plugin UI, on a fast clock) plus what API tests need:
// callers with plugin session tokens, SDK clients for arranging AWS state, VM ids. Everything on 127.0.0.1.
import { request } from 'node:https';
import { DescribeImportImageTasksCommand, EC2Client, ImportImageCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { labS3ClientConfig, type S3Handle } from '../../lab/s3/index.ts';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { ConnectorHandle } from '../../connector/server.ts';
import { API_PREFIX, AuditPage, Environment, ImportAuthorization, MigrationTask, SecurityGroupList, SubnetList, VpcList, type AuditEntry } from '../../connector/contract/index.ts';
import type { ConnectorConfigInput } from '../../connector/config.ts';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import type { VcsimHandle } from '../../lab/vcsim/index.ts';
import type { Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labAwsCredentials, startLab } from '../../lab/index.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';


export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request trusting exactly the given CA (Node's fetch cannot take a CA without extra packages). */
export function httpsJson<T = unknown>(
  url: string,
  opts: { ca: string; method?: string; headers?: Record<string, string>; body?: unknown; rawBody?: string },
): Promise<HttpResult<T>> {
  const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca,
        headers: {
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: body as T, headers: res.headers });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export interface ApiUser {
  userName: string;
  /** The plugin session token the stand-in handed out at login. */
  token: string;
  /** Calls the connector API (path relative to /vm2ec2/api/v1) as this user. */
  call<T = unknown>(method: string, path: string, body?: unknown, extra?: { rawBody?: string; headers?: Record<string, string> }): Promise<HttpResult<T>>;
}

export interface ApiLab {
  connector: ConnectorHandle;
  dataDir: string;
  vcsim: VcsimHandle;
  ec2: Ec2EmulatorHandle;
  /** The lab S3 (exports' OVAs, staging objects). */
  s3: S3Handle;
  /** SDK clients against the emulator, for arranging AWS state the way an AWS administrator would. */
  ec2Client(region: string): EC2Client;
  iamClient(): IAMClient;
  /**
   * Launches an instance holding `ip` in the subnet the way the connector's users end up with one: an imported
   * image (tiny disk object in the lab S3), then RunInstances. Needs a usable
   * vmimport role. Returns the instance id.
   */
  runInstanceAt(region: string, subnetId: string, ip: string): Promise<string>;
  login(userName: string): Promise<ApiUser>;
  /** VM ids by name, as the lab administrator sees them in vCenter. */
  vmIds(): Promise<Map<string, string>>;
  /** A vim25 call as the lab's vCenter administrator (what an administrator does in the vSphere Client). */
  asAdmin<T>(use: (vc: Vim25Client) => Promise<T>): Promise<T>;
  /** `urn:vmomi:VirtualMachine:<id>:<vCenter uuid>` as the vSphere Client names a VM. */
  contextId(vmId: string): string;
  /** A caller with no session token, or with a made-up one. */
  anonymous(token?: string): ApiUser;
  stop(): Promise<void>;
}

export interface ApiLabOptions {
  tokenTtlSeconds?: number;
  maxRunning?: number;
  exportStageMs?: number;
  /** The vmimport role has the connector's policies from the start (else: allowImports). */
  importRoleReady?: boolean;
  /** More connector configuration (fleet, notifications, …); its `engine` adds to the fast-polling defaults. */
  connector?: Partial<ConnectorConfigInput>;
}

export async function startApiLab(opts: ApiLabOptions = {}): Promise<ApiLab> {
  const lab = await startLab({
    stageMs: 50,
    buildUi: false,
    buckets: ['lab-images'],
    ...(opts.exportStageMs ? { exportStageMs: opts.exportStageMs } : {}),
    ...(opts.importRoleReady ? { importRoleReady: true } : {}),
    connector: {
      ...opts.connector,
      engine: { leaseKeepAliveMs: 50, pollMs: 20, pollMaxMs: 100, ...(opts.maxRunning ? { maxRunning: opts.maxRunning } : {}), ...opts.connector?.engine },
      ...(opts.tokenTtlSeconds ? { importTokens: { ttlSeconds: opts.tokenTtlSeconds } } : {}),
    },
  });
  const { connector, vcsim, ec2, s3 } = lab;
  const users = lab.users;
  const awsClients: { destroy(): void }[] = [];
  const stop = async () => {
    awsClients.forEach((c) => c.destroy());
    await lab.stop();
  };
  try {
    const sdk = { endpoint: ec2.url, credentials: labAwsCredentials() };

    const asUser = (userName: string, token: string | undefined): ApiUser => ({
      userName,
      token: token ?? '',
      call: (method, path, body, extra) =>
        httpsJson(`${connector.origin}${API_PREFIX}${path}`, {
          ca: connector.certPem,
          method,
          headers: { ...(token !== undefined ? { 'vmware-api-session-id': token } : {}), ...extra?.headers },
          ...(body !== undefined ? { body } : {}),
          ...(extra?.rawBody !== undefined ? { rawBody: extra.rawBody } : {}),
        }),
    });

    const asAdmin = async <T,>(use: (vc: Vim25Client) => Promise<T>): Promise<T> => {
      const admin = users.find((u) => u.name === 'administrator@vsphere.local');
      const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
      try {
        await vim.login(admin!.name, admin!.password);
        return await use(vim);
      } finally {
        await vim.logout().catch(() => undefined);
        vim.close();
      }
    };
    return {
      connector,
      dataDir: lab.dataDir,
      vcsim,
      ec2,
      s3,
      ec2Client(region) {
        const c = new EC2Client({ region, ...sdk });
        awsClients.push(c);
        return c;
      },
      iamClient() {
        const c = new IAMClient({ region: 'us-east-1', ...sdk });
        awsClients.push(c);
        return c;
      },
      async runInstanceAt(region, subnetId, ip) {
        const s3c = new S3Client(labS3ClientConfig(s3, region));
        awsClients.push(s3c);
        const key = `images/${ip}.vmdk`;
        await s3c.send(new CreateBucketCommand({ Bucket: 'lab-images' })).catch(() => undefined);
        await s3c.send(new PutObjectCommand({ Bucket: 'lab-images', Key: key, Body: Buffer.alloc(4096) }));
        const ec2c = new EC2Client({ region, ...sdk });
        awsClients.push(ec2c);
        const task = await ec2c.send(
          new ImportImageCommand({ Platform: 'Linux', RoleName: 'vmimport', ClientToken: `at-${ip}`, DiskContainers: [{ Format: 'VMDK', UserBucket: { S3Bucket: 'lab-images', S3Key: key } }] }),
        );
        let imageId: string | undefined;
        // No SDK waiter exists for import tasks; the emulator advances a stage every 50 ms.
        for (let i = 0; i < 400 && !imageId; i++) {
          const [t] = (await ec2c.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [task.ImportTaskId!] }))).ImportImageTasks ?? [];
          if (t?.Status === 'deleted') throw new Error(`lab import failed: ${t.StatusMessage ?? ''}`);
          if (t?.Status === 'completed') imageId = t.ImageId;
          else await new Promise((r) => setTimeout(r, 25));
        }
        if (!imageId) throw new Error('lab import did not complete');
        const run = await ec2c.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: subnetId, PrivateIpAddress: ip }));
        return run.Instances![0]!.InstanceId!;
      },
      async login(userName) {
        return asUser(userName, await lab.pluginSessionToken(userName));
      },
      anonymous: (token) => asUser('anonymous', token),
      asAdmin,
      async vmIds() {
        const vms = await asAdmin((vim) => vim.listVirtualMachines());
        return new Map(vms.map((v) => [v.name, v.id]));
      },
      contextId: (vmId) => `urn:vmomi:VirtualMachine:${vmId}:${vcsim.instanceUuid}`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The three lab users, logged in to the stand-in. */
export async function loginLabUsers(lab: ApiLab): Promise<{ admin: ApiUser; operator: ApiUser; readonly: ApiUser }> {
  const [admin, operator, readonly] = await Promise.all([
    lab.login('administrator@vsphere.local'),
    lab.login('operator@vsphere.local'),
    lab.login('readonly@vsphere.local'),
  ]);
  return { admin, operator, readonly };
}

/** What an administrator's environment form offers in a region: its VPC, subnets and security groups. */
export async function regionNetwork(admin: ApiUser, region = 'us-east-1') {
  const vpcId = VpcList.parse((await admin.call('GET', `/regions/${region}/vpcs`)).body).vpcs[0]!.id;
  const subnets = SubnetList.parse((await admin.call('GET', `/regions/${region}/subnets?vpcId=${vpcId}`)).body).subnets;
  const groups = SecurityGroupList.parse((await admin.call('GET', `/regions/${region}/security-groups?vpcId=${vpcId}`)).body).securityGroups;
  return { vpcId, subnets, groups };
}

/** The lab's vmimport role gets the policies the connector documents, so imports can use it. */
export async function allowImports(lab: ApiLab): Promise<void> {
  await lab.iamClient().send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
}

/**
 * Where the migration API tests start: an environment in us-east-1 with the subnet lab-app-a and the security group
 * web, created by the administrator, in which the operator has General and the read-only user Owner.
 */
export async function migrationEnvironment(admin: ApiUser, name: string, readonlyRole: 'Owner' | 'General' = 'Owner') {
  const network = await regionNetwork(admin);
  const subnetId = network.subnets.find((s) => s.name === 'lab-app-a')!.id;
  const groupId = network.groups.find((g) => g.name === 'web')!.id;
  const created = await admin.call('POST', '/environments', { name, region: 'us-east-1', vpcId: network.vpcId, subnetIds: [subnetId], securityGroupIds: [groupId] });
  if (created.status !== 201) throw new Error(`creating the environment ${name}: HTTP ${created.status} ${JSON.stringify(created.body)}`);
  const env = Environment.parse(created.body);
  const perms = await admin.call('PUT', `/environments/${env.id}/permissions`, {
    permissions: [
      { userName: 'operator@vsphere.local', role: 'General' },
      { userName: 'readonly@vsphere.local', role: readonlyRole },
    ],
  });
  if (perms.status !== 200) throw new Error(`granting roles in ${name}: HTTP ${perms.status} ${JSON.stringify(perms.body)}`);
  return { env, subnetId, groupId, network };
}

/** An import authorization for the VM in the environment, as the migrate form gets one before Begin. */
export async function authorizeImport(user: ApiUser, environmentId: string, vmId: string): Promise<string> {
  const res = await user.call('POST', '/import-authorizations', { environmentId, vmId });
  if (res.status !== 201) throw new Error(`authorizing ${vmId} for ${user.userName}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return ImportAuthorization.parse(res.body).token;
}

/** POST /migrations of a Linux VM to an m5.large in the subnet and group, with a fresh authorization unless given one. */
export async function requestMigration(
  user: ApiUser,
  m: { environmentId: string; vmId: string; subnetId: string; groupId: string; token?: string },
): Promise<HttpResult> {
  const token = m.token ?? (await authorizeImport(user, m.environmentId, m.vmId));
  return await user.call('POST', '/migrations', {
    token,
    environmentId: m.environmentId,
    vmId: m.vmId,
    platform: 'Linux',
    subnetId: m.subnetId,
    instanceType: 'm5.large',
    securityGroupIds: [m.groupId],
  });
}

/** The migration's view once `done` holds, polled as the portal does; fails with the last view after `ms`. */
export async function migrationUntil(user: ApiUser, id: string, done: (t: MigrationTask) => boolean, ms = 180_000): Promise<MigrationTask> {
  let last: MigrationTask | undefined;
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    last = MigrationTask.parse((await user.call('GET', `/migrations/${id}`)).body);
    if (done(last)) return last;
  }
  throw new Error(`migration ${id} did not get there within ${ms / 1000} s: ${JSON.stringify(last)}`);
}

/** The audit log's entries of one action, newest first (as an administrator reads them). */
export async function auditOf(admin: ApiUser, action: string, limit = 200): Promise<AuditEntry[]> {
  return AuditPage.parse((await admin.call('GET', `/audit?action=${action}&limit=${limit}`)).body).entries;
}
