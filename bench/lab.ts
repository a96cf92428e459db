// The lab (without building the plugin UI) with connector settings of the benchmark's choosing.
import type { ConnectorHandle } from '../connector/server.ts';
import type { ConnectorConfigInput } from '../connector/config.ts';
import { startLab } from '../lab/index.ts';
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
  const lab = await startLab({ stageMs: 50, buildUi: false, connector: { logging: { level: 'silent' }, ...extra } });
  const { connector } = lab;
  return {
    connector,
    dataDir: lab.dataDir,
    login: (name) => lab.pluginSessionToken(name),
    call: (token, method, path, body) =>
      httpsJson(`${connector.origin}/vm2ec2/api/v1${path}`, { ca: connector.certPem, method, headers: { 'vmware-api-session-id': token }, ...(body !== undefined ? { body } : {}) }),
    stop: () => lab.stop(),
  };
}
