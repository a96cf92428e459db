// The connector as a service: `connector/main.ts --config <yaml>` started as its own process against the lab,
// a certificate generated on first start with its thumbprint printed, the status endpoint, graceful stop, and
// logs (at trace level) that never contain a session token, an import token, a password or an AWS secret.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../connector/cli/index.ts';
import { probeManifest } from '../../connector/cli/io.ts';
import { API_PREFIX, MigrationList, MigrationTask, PLUGIN_KEY } from '../../connector/contract/index.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { generateSelfSigned } from '../../connector/tls.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { labUsers } from '../../lab/index.ts';
import { reservePort } from '../../lab/ports.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { startVsphereClient, type VsphereClientHandle } from '../../lab/vsphere-client/index.ts';
import { httpsJson } from '../support/api-lab.ts';

const REGIONS = ['us-east-1', 'eu-west-1'];
// A unique, recognisable AWS secret: the emulator does not verify signatures, so any value works.
const AWS_SECRET = `labSecret${randomBytes(12).toString('hex')}`;

let vcsim: VcsimHandle;
let ec2: Ec2EmulatorHandle;
let s3: S3Handle;
let client: VsphereClientHandle | undefined;
let dir: string;
let connector: ChildProcessWithoutNullStreams | undefined;
let logs = '';
let stderr = '';
let origin = '';
let printedThumbprint = '';
let exitCode: number | null | undefined;
let adminPassword = '';

function startMain(configFile: string): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'connector/main.ts'), '--config', configFile], {
    cwd: PACKAGE_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function waitFor(pred: () => boolean, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (pred()) resolve();
      else if (Date.now() > until) reject(new Error(`timed out waiting for ${what}; logs:\n${logs}\n${stderr}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

beforeAll(async () => {
  vcsim = await startVcsim();
  s3 = await startS3();
  ec2 = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: 30, regions: REGIONS });
  adminPassword = (await labUsers()).find((u) => u.name === 'administrator@vsphere.local')!.password;
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-service-'));
  const clientPort = await reservePort();
  const clientTls = await generateSelfSigned(['127.0.0.1', 'localhost']);
  await writeFile(join(dir, 'vcenter-ca.pem'), clientTls.certPem);
  const configFile = join(dir, 'connector.yaml');
  await writeFile(
    configFile,
    [
      '# written by ops-service.test.ts',
      'listen: { host: 127.0.0.1, port: 0 }',
      'dataDir: data',
      'vcenter:',
      `  url: https://127.0.0.1:${clientPort}`,
      '  caFile: vcenter-ca.pem',
      'administrators: [administrator@vsphere.local]',
      'aws:',
      `  endpoint: ${ec2.url}`,
      `  regions: [${REGIONS.join(', ')}]`,
      `  credentials: { accessKeyId: labKey, secretAccessKey: ${AWS_SECRET} }`,
      'logging: { level: trace }',
      'engine:',
      `  s3Endpoint: ${s3.url}`,
      `  s3Credentials: { accessKeyId: ${s3.accessKeyId}, secretAccessKey: ${s3.secretAccessKey} }`,
      `  vcenterAccount: { userName: administrator@vsphere.local, password: ${JSON.stringify(adminPassword)} }`,
      '  leaseKeepAliveMs: 50',
      '  pollMs: 20',
      '  pollMaxMs: 100',
      'trust:',
      '  allowedCertificates:',
      `    - { host: esx-09.lab.local, thumbprint: "${'AB:'.repeat(31)}AB", addedBy: administrator@vsphere.local }`,
      '',
    ].join('\n'),
  );
  connector = startMain(configFile);
  connector.stdout.on('data', (c: Buffer) => (logs += c.toString()));
  connector.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  connector.on('exit', (code) => (exitCode = code));
  await waitFor(() => /Connector listening/.test(logs) || exitCode !== undefined, 'the connector to listen');
  const line = logs.split('\n').find((l) => l.includes('Connector listening'));
  if (!line) throw new Error(`the connector did not start:\n${logs}\n${stderr}`);
  const started = JSON.parse(line) as { origin: string; manifestUrl: string; thumbprintSha256: string };
  origin = started.origin;
  printedThumbprint = started.thumbprintSha256;
  const certPem = await readFile(join(dir, 'data', 'tls', 'connector.crt'), 'utf8');
  client = await startVsphereClient({
    vcenter: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid },
    plugins: [{ key: PLUGIN_KEY, version: '0.1.0', manifestUrl: started.manifestUrl, serverCertPem: certPem, serverThumbprint: printedThumbprint }],
    tls: { certPem: clientTls.certPem, keyPem: clientTls.keyPem },
    port: clientPort,
  });
}, 180_000);

afterAll(async () => {
  if (connector && exitCode === undefined) {
    connector.kill('SIGKILL');
    await new Promise((r) => connector!.once('exit', r));
  }
  await client?.stop();
  await ec2?.stop();
  await s3?.stop();
  await vcsim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the connector started from its configuration file', () => {
  let token = '';
  let importToken = '';

  it('generates a certificate on first start and prints its SHA-256 thumbprint', async () => {
    const pem = await readFile(join(dir, 'data', 'tls', 'connector.crt'), 'utf8');
    expect(printedThumbprint).toBe(new X509Certificate(pem).fingerprint256);
    expect(logs).toMatch(/generated a self-signed certificate/);
    expect(logs).toMatch(/Certificate validation is relaxed for esx-09\.lab\.local/);
    // What `vm2ec2 register` checks before registering: the manifest loads with exactly this certificate pinned.
    const manifestUrl = `${origin}/vm2ec2/plugin-manifest.json`;
    expect(await probeManifest(manifestUrl, pem)).toBeUndefined();
    const other = await generateSelfSigned(['127.0.0.1']);
    expect(await probeManifest(manifestUrl, other.certPem)).toMatch(/does not match the configured thumbprint/);
  });

  it('reports vCenter, AWS per region, clock offset, store, queue, version and warnings on GET /connector/status', async () => {
    const users = await labUsers();
    const login = await httpsJson<{ pluginSessionToken: string }>(`${client!.origin}/ui/api/login`, {
      ca: client!.certPem,
      method: 'POST',
      body: { username: 'administrator@vsphere.local', password: adminPassword },
    });
    expect(login.status).toBe(200);
    token = login.body.pluginSessionToken;
    const ca = await readFile(join(dir, 'data', 'tls', 'connector.crt'), 'utf8');
    const res = await httpsJson<Record<string, unknown>>(`${origin}${API_PREFIX}/connector/status`, { ca, headers: { 'vmware-api-session-id': token } });
    expect(res.status).toBe(200);
    const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(res.body).toMatchObject({
      version: pkg.version,
      vcenter: { reachable: true },
      aws: REGIONS.map((region) => ({ region, reachable: true })),
      store: { healthy: true },
      queue: { depth: 0 },
      updating: false,
      warnings: [expect.objectContaining({ code: 'CERTIFICATE_ALLOWED_BY_THUMBPRINT' })],
    });
    expect(typeof (res.body.vcenter as { clockOffsetMs?: unknown }).clockOffsetMs).toBe('number');

    // A non-administrator is refused.
    const op = await httpsJson<{ pluginSessionToken: string }>(`${client!.origin}/ui/api/login`, {
      ca: client!.certPem,
      method: 'POST',
      body: { username: 'operator@vsphere.local', password: users.find((u) => u.name === 'operator@vsphere.local')!.password },
    });
    const refused = await httpsJson(`${origin}${API_PREFIX}/connector/status`, { ca, headers: { 'vmware-api-session-id': op.body.pluginSessionToken } });
    expect(refused.status).toBe(403);
  });

  it('shows the troubleshooting checks and hands administrators a log bundle', async () => {
    const ca = await readFile(join(dir, 'data', 'tls', 'connector.crt'), 'utf8');
    const checks = await httpsJson<{ findings: { id: string; severity: string }[] }>(`${origin}${API_PREFIX}/connector/checks`, { ca, headers: { 'vmware-api-session-id': token } });
    expect(checks.status).toBe(200);
    expect(checks.body.findings).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'import-role', severity: 'error' })]));
    expect(checks.body.findings.some((f) => f.id.startsWith('host-name:'))).toBe(true);

    const bundle = await new Promise<{ status: number; type: string; disposition: string; body: Buffer }>((resolve, reject) => {
      const req = httpsRequest(`${origin}${API_PREFIX}/connector/log-bundle`, { ca, headers: { 'vmware-api-session-id': token } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), disposition: String(res.headers['content-disposition']), body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end();
    });
    expect(bundle.status).toBe(200);
    // As the API document describes it (GET /connector/log-bundle, 200).
    expect(bundle.type).toBe('application/gzip');
    expect(bundle.disposition).toMatch(/^attachment; filename="vm2ec2-log-bundle-[0-9TZ-]+\.tar\.gz"$/);
    const tar = gunzipSync(bundle.body).toString('utf8');
    expect(tar).toContain('vm2ec2/config.json');
    expect(tar).not.toContain(AWS_SECRET);
  });

  it('migrates a VM end to end (VM, pre-flight, import authorization, migration) while logging at trace level', async () => {
    const ca = await readFile(join(dir, 'data', 'tls', 'connector.crt'), 'utf8');
    const call = <T,>(method: string, path: string, body?: unknown) =>
      httpsJson<T>(`${origin}${API_PREFIX}${path}`, { ca, method, headers: { 'vmware-api-session-id': token }, ...(body !== undefined ? { body } : {}) });
    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    await vim.login('administrator@vsphere.local', adminPassword);
    const vm = (await vim.listVirtualMachines()).find((v) => v.name === 'ubuntu-web-01')!;
    await vim.logout();
    vim.close();
    const ec2Client = new EC2Client({ region: REGIONS[0]!, endpoint: ec2.url, credentials: { accessKeyId: 'labKey', secretAccessKey: AWS_SECRET } });
    const subnet = (await ec2Client.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
    const sg = (await ec2Client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [subnet.VpcId!] }] }))).SecurityGroups![0]!;
    ec2Client.destroy();

    // The seeded problems the pre-flight blocks on: the vmimport role (fixed by `vm2ec2 doctor --fix`) and an empty environment.
    const doctorOut: string[] = [];
    const io = { out: (x: string) => void doctorOut.push(x), err: (x: string) => void doctorOut.push(x), env: {} };
    expect(await runCli(['doctor', '--config', join(dir, 'connector.yaml'), '--fix', '--yes'], io)).toBe(0);
    expect(doctorOut.join('')).toContain('Fixed: attached the VMImportExportRoleForAWSConnector policy to vmimport');
    const env = await call('PUT', '/environments/env-default', { name: 'Default', region: REGIONS[0], vpcId: subnet.VpcId, subnetIds: [subnet.SubnetId], securityGroupIds: [sg.GroupId] });
    expect(env.status, JSON.stringify(env.body)).toBe(200);

    expect((await call('GET', `/vms/${vm.id}`)).status).toBe(200);
    expect((await call('GET', `/vms/${vm.id}/preflight?environmentId=env-default`)).status).toBe(200);
    const auth = await call<{ token: string }>('POST', '/import-authorizations', { environmentId: 'env-default', vmId: vm.id });
    expect(auth.status).toBe(201);
    importToken = auth.body.token;
    const started = await call<{ id: string }>('POST', '/migrations', {
      token: importToken,
      environmentId: 'env-default',
      vmId: vm.id,
      platform: 'Linux',
      subnetId: subnet.SubnetId,
      instanceType: 't3.micro',
      securityGroupIds: [sg.GroupId],
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    let task: { state: string; error?: unknown } = { state: 'queued' };
    const until = Date.now() + 150_000;
    while (!['completed', 'failed', 'cancelled'].includes(task.state) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      task = (await call<{ state: string }>('GET', `/migrations/${started.body.id}`)).body;
    }
    expect(task.state, JSON.stringify(task)).toBe('completed');
    // The polled routes skip response validation for speed: what they send must still be exactly the contract
    // (parsing strips unknown fields, so equality also proves nothing internal such as disk URLs leaks).
    expect(MigrationTask.parse(task)).toEqual(task);
    const list = (await call<unknown>('GET', '/migrations?limit=10')).body;
    expect(MigrationList.parse(list)).toEqual(list);
    expect((list as { items: { id: string }[] }).items.map((t) => t.id)).toContain(started.body.id);
    // Unknown session tokens are refused (and must not be logged either).
    const bogus = await httpsJson(`${origin}${API_PREFIX}/me`, { ca, headers: { 'vmware-api-session-id': 'bogus-token-never-logged-123' } });
    expect(bogus.status).toBe(401);
  }, 180_000);

  it('stops gracefully on SIGTERM', async () => {
    connector!.kill('SIGTERM');
    await waitFor(() => exitCode !== undefined, 'the connector to exit', 40_000);
    expect(exitCode).toBe(0);
    expect(logs).toMatch(/"msg":"Stopping"/);
  });

  it('never logged a session token, an import token, a password or the AWS secret', () => {
    expect(logs.length).toBeGreaterThan(1000);
    const all = logs + stderr;
    for (const secret of [token, importToken, AWS_SECRET, adminPassword, 'bogus-token-never-logged-123']) {
      expect(secret.length).toBeGreaterThanOrEqual(8);
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/vmware_soap_session=/);
    expect(all).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
  });
});

describe('an invalid configuration', () => {
  it('is refused at start with the key that is wrong', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'vcenter:\n  url: http://vc.example.com\nlisten: { port: 70000 }\naws: { regions: [mars-1] }\n');
    const child = startMain(bad);
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(78);
    expect(err).toContain('vcenter.url');
    expect(err).toContain('listen.port');
    expect(err).toContain('aws.regions.0');
  }, 60_000);
});
