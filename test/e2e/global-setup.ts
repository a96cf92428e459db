import { startLab } from '../../lab/index.ts';

/** One lab for all journeys; its URL reaches the workers through the environment. */
export default async function globalSetup() {
  const lab = await startLab({ stageMs: 200, exportStageMs: 3000 });
  process.env.LAB_CLIENT_URL = lab.clientUrl;
  process.env.LAB_USERS = JSON.stringify(lab.users);
  // The AWS side (EC2 + IAM emulator), for steps an AWS administrator does outside vCenter.
  process.env.LAB_AWS_URL = lab.ec2Url;
  return async () => {
    await lab.stop();
  };
}
