// The registration CLI against the lab vCenter (vcsim): register, status, update to a new version, unregister;
// and against vCenters of older API releases, which refuse elements their release does not define.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../connector/cli/index.ts';
import { buildExtension, CLIENT_TYPE } from '../../connector/cli/registration.ts';
import { PLUGIN_KEY } from '../../connector/contract/index.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';
import { SoapTransport } from '../../connector/vsphere/soap-transport.ts';
import { customFieldDefs } from '../../connector/vsphere/tasks-events.ts';
import { CUSTOM_FIELDS, EVENT_TYPES, TASK_TYPES } from '../../connector/vcenter-tasks/catalog.ts';
import { Vim25Client, VimFault } from '../../connector/vsphere/vim25.ts';
import { labUsers } from '../../lab/index.ts';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';

let vcsim: VcsimHandle;
let dir: string;
let pluginTls: ServerTls;
const files = { adminPw: '', operatorPw: '', vcCa: '', pluginCert: '' };
const MANIFEST_URL = 'https://connector.lab.local:8443/vm2ec2/plugin-manifest.json';

function capture(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (s) => void (out += s), err: (s) => void (err += s), env: {}, stdout: () => out, stderr: () => err };
}

const vcArgs = (user = 'administrator@vsphere.local', pw = files.adminPw) => ['--vcenter', vcsim.sdkUrl, '--vcenter-ca-file', files.vcCa, '--user', user, '--password-file', pw];

beforeAll(async () => {
  // A vCenter 8.0 Update 3: the registration carries the certificate too.
  vcsim = await startVcsim({ apiVersion: '8.0.3.0' });
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-register-'));
  pluginTls = await generateSelfSigned(['connector.lab.local']);
  const users = await labUsers();
  files.adminPw = join(dir, 'admin.pw');
  files.operatorPw = join(dir, 'operator.pw');
  files.vcCa = join(dir, 'vcenter.pem');
  files.pluginCert = join(dir, 'connector.crt');
  await writeFile(files.adminPw, users.find((u) => u.name === 'administrator@vsphere.local')!.password + '\n', { mode: 0o600 });
  await writeFile(files.operatorPw, users.find((u) => u.name === 'operator@vsphere.local')!.password, { mode: 0o600 });
  await writeFile(files.vcCa, vcsim.certPem);
  await writeFile(files.pluginCert, pluginTls.certPem);
}, 120_000);

afterAll(async () => {
  await vcsim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vm2ec2 register / status / unregister', () => {
  it('refuses an http:// manifest URL before contacting vCenter', async () => {
    await expect(runCli(['register', ...vcArgs(), '--plugin-url', 'http://connector:8080/vm2ec2/plugin-manifest.json', '--plugin-cert-file', files.pluginCert], capture())).rejects.toThrow(
      /must be an https:\/\/ URL/,
    );
  });

  it('refuses a password on the command line', async () => {
    await expect(runCli(['status', '--vcenter', vcsim.sdkUrl, '--user', 'administrator@vsphere.local', '--password', 'Admin!23'], capture())).rejects.toThrow(/not accepted on the command line/);
  });

  it('refuses a user without the Extension.Register privilege, with vCenter\'s reason', async () => {
    const io = capture();
    await expect(
      runCli(['register', ...vcArgs('operator@vsphere.local', files.operatorPw), '--plugin-url', MANIFEST_URL, '--plugin-cert-file', files.pluginCert], io),
    ).rejects.toThrow(/Extension\.Register|[Pp]ermission/);
  });

  it('registers the remote plug-in with client type, manifest URL, thumbprint, certificate, privileges and version', async () => {
    const io = capture();
    expect(await runCli(['register', ...vcArgs(), '--plugin-url', MANIFEST_URL, '--plugin-cert-file', files.pluginCert, '--version', '0.1.0'], io)).toBe(0);
    expect(io.stdout()).toContain(`Registered ${PLUGIN_KEY} 0.1.0`);
    // Nothing serves that URL here: registration goes on, with a warning that says so.
    expect(io.stderr()).toContain(`Warning: could not load the manifest from ${MANIFEST_URL}`);

    const st = capture();
    expect(await runCli(['status', ...vcArgs(), '--json'], st)).toBe(0);
    const status = JSON.parse(st.stdout()) as Record<string, unknown>;
    expect(status).toMatchObject({
      key: PLUGIN_KEY,
      registered: true,
      version: '0.1.0',
      clientType: CLIENT_TYPE,
      manifestUrl: MANIFEST_URL,
      serverThumbprint: pluginTls.thumbprintSha256,
      hasCertificate: true,
      apiVersion: '8.0.3.0',
    });
    expect(io.stdout()).toContain('pinned by certificate and SHA-256 thumbprint (vCenter API 8.0.3.0)');

    // What vCenter holds, read with our vim25 client: certificate and privilege labels included.
    const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
    try {
      const users = await labUsers();
      await vim.login('administrator@vsphere.local', users[0]!.password);
      const ext = await vim.findExtension(PLUGIN_KEY);
      expect(ext?.client[0]).toMatchObject({ type: 'vsphere-client-remote', url: MANIFEST_URL, version: '0.1.0' });
      expect(ext?.server[0]?.serverCertificate?.replace(/\s+/g, '')).toBe(pluginTls.certPem.replace(/\s+/g, ''));
      const privIds = (ext?.privileges ?? []).map((p) => p.privId);
      expect(privIds).toEqual([`${PLUGIN_KEY}.Migrate`, `${PLUGIN_KEY}.Administer`]);
      const labels = ext?.resources?.[0]?.data ?? {};
      for (const id of privIds) expect(labels[`privilege.${id}.label`]).toBeTruthy();
      // Recent Tasks and events: the task and event types are declared, each event type with its schema.
      expect((ext?.taskList ?? []).map((t) => t.taskId)).toEqual(Object.values(TASK_TYPES).map((t) => t.id));
      const events = ext?.eventList ?? [];
      expect(events.map((e) => e.eventId)).toEqual(Object.values(EVENT_TYPES).map((t) => t.id));
      for (const e of events) expect(e.eventTypeSchema).toContain(`<eventTypeID>${e.eventId}</eventTypeID>`);
      expect(ext?.resources?.find((r) => r.module === 'task')?.data[`${TASK_TYPES.migrate.id}.label`]).toBe('Migrate VM to EC2');
      // The custom attributes of migrated VMs are defined on VirtualMachine.
      const fields = (await customFieldDefs(vim)).filter((f) => (Object.values(CUSTOM_FIELDS) as string[]).includes(f.name));
      expect(fields.map((f) => [f.name, f.managedObjectType]).sort()).toEqual(Object.values(CUSTOM_FIELDS).map((n) => [n, 'VirtualMachine']).sort());
      expect(io.stdout()).toContain(`custom attributes on virtual machines: added ${Object.values(CUSTOM_FIELDS).join(', ')}`);
      await vim.logout();
    } finally {
      vim.close();
    }

    const human = capture();
    await runCli(['status', ...vcArgs()], human);
    expect(human.stdout()).toContain('client type:        vsphere-client-remote');
    expect(human.stdout()).toContain(pluginTls.thumbprintSha256);
  });

  it('updates the registration to a new version', async () => {
    const io = capture();
    expect(await runCli(['register', ...vcArgs(), '--plugin-url', MANIFEST_URL, '--plugin-cert-file', files.pluginCert, '--version', '0.2.0'], io)).toBe(0);
    expect(io.stdout()).toContain('0.1.0 → 0.2.0');
    // Idempotent: the types are declared once and the custom attributes are not defined twice.
    expect(io.stdout()).toContain('custom attributes on virtual machines: already defined');
    const vim = await adminClient(vcsim);
    try {
      const ext = await vim.findExtension(PLUGIN_KEY);
      expect(ext?.taskList).toHaveLength(Object.keys(TASK_TYPES).length);
      expect(ext?.eventList).toHaveLength(Object.keys(EVENT_TYPES).length);
      const names = (await customFieldDefs(vim)).map((f) => f.name).filter((n) => (Object.values(CUSTOM_FIELDS) as string[]).includes(n));
      expect(names).toHaveLength(Object.keys(CUSTOM_FIELDS).length);
      await vim.logout();
    } finally {
      vim.close();
    }
    const st = capture();
    await runCli(['status', ...vcArgs(), '--json'], st);
    expect(JSON.parse(st.stdout())).toMatchObject({ registered: true, version: '0.2.0' });
  });

  it('reads the password from standard input when it is not a terminal (the installed command)', async () => {
    const users = await labUsers();
    const child = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'connector/cli/index.ts'), 'status', '--vcenter', vcsim.sdkUrl, '--vcenter-ca-file', files.vcCa, '--user', 'administrator@vsphere.local', '--json'], {
      cwd: PACKAGE_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.end(`${users[0]!.password}\n`);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ key: PLUGIN_KEY, version: '0.2.0', clientType: CLIENT_TYPE });
  }, 60_000);

  it('unregisters the plug-in; status then reports it absent', async () => {
    const io = capture();
    expect(await runCli(['unregister', ...vcArgs()], io)).toBe(0);
    expect(io.stdout()).toContain(`Unregistered ${PLUGIN_KEY}`);
    // The attributes' values stay on migrated VMs, and the command says so.
    expect(io.stdout()).toContain('stay defined and keep their values on migrated virtual machines');
    const vim = await adminClient(vcsim);
    try {
      expect((await customFieldDefs(vim)).map((f) => f.name)).toEqual(expect.arrayContaining(Object.values(CUSTOM_FIELDS)));
      await vim.logout();
    } finally {
      vim.close();
    }
    const st = capture();
    expect(await runCli(['status', ...vcArgs(), '--json'], st)).toBe(3);
    expect(JSON.parse(st.stdout())).toEqual({ key: PLUGIN_KEY, registered: false });
  });
});

/** Logs in to a lab vCenter as the administrator with our vim25 client. */
async function adminClient(vc: VcsimHandle): Promise<Vim25Client> {
  const vim = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
  const users = await labUsers();
  await vim.login('administrator@vsphere.local', users.find((u) => u.name === 'administrator@vsphere.local')!.password);
  return vim;
}

// ExtensionServerInfo.serverCertificate exists from vSphere API 8.0.2.0; vCenter 7.0U2–8.0U1 refuse a request that carries it.
describe.each([
  { apiVersion: '7.0.2.0', certificate: false },
  { apiVersion: '8.0.1.0', certificate: false },
  { apiVersion: '8.0.2.0', certificate: true },
  // Newer than this client knows: it speaks 8.0.3.0, which such a vCenter still reads.
  { apiVersion: '9.0.0.0', certificate: true },
])('vm2ec2 register with a vCenter of API $apiVersion', ({ apiVersion, certificate }) => {
  let vc: VcsimHandle;
  let caFile: string;
  beforeAll(async () => {
    vc = await startVcsim({ apiVersion });
    caFile = join(dir, `vcenter-${apiVersion}.pem`);
    await writeFile(caFile, vc.certPem);
  }, 120_000);
  afterAll(async () => {
    await vc?.stop();
  });
  const args = () => ['--vcenter', vc.sdkUrl, '--vcenter-ca-file', caFile, '--user', 'administrator@vsphere.local', '--password-file', files.adminPw];

  it(`registers and updates, with ${certificate ? 'the certificate and' : 'only'} the thumbprint`, async () => {
    expect(vc.apiVersion).toBe(apiVersion);
    const io = capture();
    expect(await runCli(['register', ...args(), '--plugin-url', MANIFEST_URL, '--plugin-cert-file', files.pluginCert, '--version', '1.0.0'], io)).toBe(0);
    expect(io.stdout()).toContain(certificate ? 'pinned by certificate and SHA-256 thumbprint' : `pinned by SHA-256 thumbprint only: vCenter API ${apiVersion} has no field for the certificate`);
    // Updating goes through UpdateExtension, which reads the same type.
    expect(await runCli(['register', ...args(), '--plugin-url', MANIFEST_URL, '--plugin-cert-file', files.pluginCert, '--version', '1.0.1'], capture())).toBe(0);

    const vim = await adminClient(vc);
    try {
      expect(vim.about.apiVersion).toBe(apiVersion);
      const ext = await vim.findExtension(PLUGIN_KEY);
      expect(ext?.version).toBe('1.0.1');
      expect(ext?.server[0]?.serverThumbprint).toBe(pluginTls.thumbprintSha256);
      if (certificate) expect(ext?.server[0]?.serverCertificate?.replace(/\s+/g, '')).toBe(pluginTls.certPem.replace(/\s+/g, ''));
      else expect(ext?.server[0]?.serverCertificate).toBeUndefined();
    } finally {
      await vim.logout();
      vim.close();
    }

    const st = capture();
    expect(await runCli(['status', ...args()], st)).toBe(0);
    expect(st.stdout()).toContain(certificate ? 'server certificate: yes' : `server certificate: no (vCenter API ${apiVersion} predates the field, added in 8.0.2.0`);
    expect(await runCli(['unregister', ...args()], capture())).toBe(0);
  });

  it(`${certificate ? 'accepts' : 'refuses, naming the element,'} the request the old registration sent (certificate always included)`, async () => {
    const vim = await adminClient(vc);
    try {
      const always = buildExtension({ manifestUrl: MANIFEST_URL, version: '1.0.0', serverCertPem: pluginTls.certPem });
      expect(always.server[0]?.serverCertificate).toBeTruthy();
      const err = await vim.registerExtension(always).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (certificate) {
        expect(err).toBeUndefined();
        await vim.unregisterExtension(PLUGIN_KEY);
        return;
      }
      expect(err).toBeInstanceOf(VimFault);
      expect((err as VimFault).faultType).toBe('InvalidRequest');
      expect((err as VimFault).message).toContain('Unexpected element tag "serverCertificate" seen');
      expect((err as VimFault).message).toContain('while parsing serialized DataObject of type vim.Extension.ServerInfo');
      expect(await vim.findExtension(PLUGIN_KEY)).toBeNull();
    } finally {
      await vim.logout();
      vim.close();
    }
  });

  it('answers requests sent as its own release or older, and refuses a newer one (SOAPAction urn:vim25/<release>)', async () => {
    const newer = apiVersion.startsWith('9.') ? '9.1.0.0' : '8.0.3.0';
    const t = new SoapTransport({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    try {
      t.soapVersion = newer;
      const err = await t.call('RetrieveServiceContent', { type: 'ServiceInstance', value: 'ServiceInstance' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VimFault);
      expect((err as VimFault).message).toBe(`Request version 'urn:vim25/${newer}' and namespace 'urn:vim25' are not supported`);
      t.soapVersion = '7.0';
      expect(await t.call('RetrieveServiceContent', { type: 'ServiceInstance', value: 'ServiceInstance' })).toBeTruthy();
    } finally {
      t.close();
    }
    // Our client asks for what the vCenter reports, capped at the newest release it knows.
    const vim = await Vim25Client.connect({ sdkUrl: vc.sdkUrl, ca: vc.certPem });
    try {
      expect(vim.requestApiVersion).toBe(apiVersion.startsWith('9.') ? '8.0.3.0' : apiVersion);
    } finally {
      vim.close();
    }
  });
});
