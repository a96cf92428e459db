// A connector against vcsim and the vSphere Client stand-in, with configurable request limits, for benchmarks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConnector, type ConnectorHandle } from '../connector/server.ts';
import type { ConnectorConfigInput } from '../connector/config.ts';
import { generateSelfSigned } from '../connector/tls.ts';
import { startVcsim } from '../lab/vcsim/index.ts';
import { startVsphereClient } from '../lab/vsphere-client/index.ts';
import { startEc2Emulator } from '../lab/ec2/index.ts';
import { reservePort } from '../lab/ports.ts';
import { LAB_AWS_CREDENTIALS, LAB_REGIONS, labUsers } from '../lab/index.ts';
import { httpsJson } from '../test/support/api-lab.ts';

export interface BenchLab {
  connector: ConnectorHandle;
  dataDir: string;
  /** Logs in through the stand-in and returns a plugin session token. */
  login(userName: string): Promise<string>;
  call<T = unknown>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export async function startBenchLab(extra: Partial<ConnectorConfigInput> = {}): Promise<BenchLab> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const vcsim = await startVcsim();
    stops.push(() => vcsim.stop());
    const ec2 = await startEc2Emulator({ s3: { endpoint: 'http://127.0.0.1:9', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, stageMs: 50, regions: LAB_REGIONS });
    stops.push(() => ec2.stop());
    const clientPort = await reservePort();
    const clientTls = await generateSelfSigned(['127.0.0.1', 'localhost']);
    const dataDir = await mkdtemp(join(tmpdir(), 'vm2ec2-bench-'));
    stops.push(() => rm(dataDir, { recursive: true, force: true }));
    const connector = await startConnector({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir,
      vcenter: { url: `https://127.0.0.1:${clientPort}`, caPem: clientTls.certPem },
      administrators: ['administrator@vsphere.local'],
      aws: { endpoint: ec2.url, regions: LAB_REGIONS, credentials: LAB_AWS_CREDENTIALS },
      logging: { level: 'silent' },
      ...extra,
    });
    stops.push(() => connector.stop());
    const client = await startVsphereClient({
      vcenter: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid },
      plugins: [],
      tls: { certPem: clientTls.certPem, keyPem: clientTls.keyPem },
      port: clientPort,
    });
    stops.push(() => client.stop());
    const users = await labUsers();
    return {
      connector,
      dataDir,
      async login(name) {
        const u = users.find((x) => x.name === name);
        if (!u) throw new Error(`${name} is not a lab user`);
        const res = await httpsJson<{ pluginSessionToken?: string }>(`${client.origin}/ui/api/login`, { ca: client.certPem, method: 'POST', body: { username: u.name, password: u.password } });
        if (!res.body.pluginSessionToken) throw new Error(`login of ${name} failed: HTTP ${res.status}`);
        return res.body.pluginSessionToken;
      },
      call: (token, method, path, body) =>
        httpsJson(`${connector.origin}/vm2ec2/api/v1${path}`, { ca: connector.certPem, method, headers: { 'vmware-api-session-id': token }, ...(body !== undefined ? { body } : {}) }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
