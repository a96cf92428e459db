// The registration CLI against the lab vCenter (vcsim): register, status, update to a new version, unregister.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../connector/cli/index.ts';
import { CLIENT_TYPE } from '../../connector/cli/registration.ts';
import { PLUGIN_KEY } from '../../connector/contract/index.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { generateSelfSigned, type ServerTls } from '../../connector/tls.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
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
  vcsim = await startVcsim();
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
    });

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
    const st = capture();
    expect(await runCli(['status', ...vcArgs(), '--json'], st)).toBe(3);
    expect(JSON.parse(st.stdout())).toEqual({ key: PLUGIN_KEY, registered: false });
  });
});
