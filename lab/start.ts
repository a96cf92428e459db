// `npm start`: the whole lab on 127.0.0.1, until Ctrl-C. `npm start -- --postgres`: two connectors sharing a PostgreSQL store.
import { parseArgs } from 'node:util';
import { startLab } from './index.ts';

const { values: args } = parseArgs({ options: { postgres: { type: 'boolean', default: false } } });

/** One minute of a warm migration's replication interval in the lab: the 5-minute minimum is 30 s, the default 15 minutes 90 s. */
const LAB_WARM_MINUTE_MS = 6_000;

const lab = await startLab({ log: (m) => console.log(m), importRoleReady: true, postgres: args.postgres, connector: { engine: { warmMinuteMs: LAB_WARM_MINUTE_MS } } });
const pad = (s: string, n: number) => s + ' '.repeat(Math.max(1, n - s.length));
console.log(`
vSphere Client (lab):  ${lab.clientUrl}
  (self-signed certificate: accept it in the browser)

Log in as:
${lab.users.map((u) => `  ${pad(u.name, 30)} ${pad(u.password, 14)} ${u.description}`).join('\n')}

Then, as the administrator: Menu → AWS Management Portal → Administration: create an environment and grant
the operator General; as the operator: VMs and Templates → right-click a VM in the Migration folder →
AWS Management Portal → Migrate VM to EC2.

Warm migration: migrate a powered-on VM (rhel-db-01 in Migration) with "Replicate, then cut over" and "I will power
off the VM myself" (the lab's VMs run no VMware Tools). While the task shows "Replicating changes", select the VM → Summary →
the card marked "Lab only: Change disk blocks" → Change disk blocks: the next cycle sends those blocks and the
replication lag drops back. To finish: Cut over, then "Shut down guest OS" on the same card. Lab clock: one minute of
the replication interval is ${LAB_WARM_MINUTE_MS / 1000} s (5 minutes = ${(5 * LAB_WARM_MINUTE_MS) / 1000} s). More: docs/warm-migration.md#trying-it-in-the-lab

vCenter SDK (vcsim):   ${lab.vcsim.sdkUrl}
Connector:             ${lab.connector.origin}/vm2ec2/  (thumbprint ${lab.connector.thumbprintSha256})${
  lab.fleet
    ? `
  fleet id lab-connector-1; the vSphere Client's plugin is registered with this one
Second connector:      ${lab.fleet.peer.origin}/vm2ec2/  (fleet id lab-connector-2, same vCenter)
Shared store:          ${lab.fleet.storeUrl}  (PostgreSQL; password in each data dir's store-password)
  Administration → Connector status lists both under Connectors; stop one and its tasks move to the other after the
  lease (docs/install.md#run-several-connectors).`
    : ''
}
S3 (s3rver):           ${lab.s3Url}
EC2 emulator:          ${lab.ec2Url}
EBS direct APIs:       ${lab.ec2.ebsUrl}
KMS (encryption keys): ${lab.ec2.kmsUrl}  (alias/vm2ec2-lab is the key vmimport may use)

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
