import { startLab } from '../../lab/index.ts';

/** One lab for all journeys; its URL reaches the workers through the environment. */
export default async function globalSetup() {
  const lab = await startLab({ stageMs: 200 });
  process.env.LAB_CLIENT_URL = lab.clientUrl;
  process.env.LAB_USERS = JSON.stringify(lab.users);
  return async () => {
    await lab.stop();
  };
}
