// `npm start`: the whole lab on 127.0.0.1, until Ctrl-C.
import { startLab } from './index.ts';

// The AWS SDK warns once about its future Node 22 requirement; the lab pins SDK versions that support Node 20.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (!`${w.name} ${w.message}`.includes('NodeVersionSupportWarning')) console.warn(`${w.name}: ${w.message}`);
});

const lab = await startLab({ log: (m) => console.log(m), importRoleReady: true });
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(1, n - s.length));
console.log(`
vSphere Client (lab):  ${lab.clientUrl}
  (self-signed certificate: accept it in the browser)

Log in as:
${lab.users.map((u) => `  ${pad(u.name, 30)} ${pad(u.password, 14)} ${u.description}`).join('\n')}

Then, as the administrator: Menu → AWS Management Portal → Administration: create an environment and grant
the operator General; as the operator: VMs and Templates → right-click a VM in the Migration folder →
AWS Management Portal → Migrate VM to EC2.

vCenter SDK (vcsim):   ${lab.vcsim.sdkUrl}
Connector:             ${lab.connector.origin}/vm2ec2/  (thumbprint ${lab.connector.thumbprintSha256})
S3 (s3rver):           ${lab.s3Url}
EC2 emulator:          ${lab.ec2Url}

Press Ctrl-C to stop.`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the lab…`);
  await lab.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
