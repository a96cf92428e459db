import { generateSelfSigned } from '../../connector/tls.ts';
import { startLab } from '../../lab/index.ts';

/** One lab for all journeys; its URL reaches the workers through the environment. */
export default async function globalSetup() {
  // A warm migration's "minute" lasts 2 s, so the 5-minute minimum interval replicates every 10 s in the journeys.
  // The notifications journey's webhook receiver: a certificate the connector trusts through configuration only.
  const webhookTls = await generateSelfSigned(['127.0.0.1']);
  process.env.LAB_WEBHOOK_TLS = JSON.stringify({ cert: webhookTls.certPem, key: webhookTls.keyPem });
  const lab = await startLab({ stageMs: 200, exportStageMs: 3000, connector: { engine: { warmMinuteMs: 2000 }, notifications: { webhookCaPem: webhookTls.certPem } } });
  process.env.LAB_CLIENT_URL = lab.clientUrl;
  process.env.LAB_USERS = JSON.stringify(lab.users);
  // The AWS side (EC2 + IAM emulator), for steps an AWS administrator does outside vCenter.
  process.env.LAB_AWS_URL = lab.ec2Url;
  return async () => {
    await lab.stop();
  };
}
