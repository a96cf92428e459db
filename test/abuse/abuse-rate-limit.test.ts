import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, API_PREFIX } from '../../connector/contract/index.ts';
import { startConnector, type ConnectorHandle } from '../../connector/server.ts';
import { generateSelfSigned } from '../../connector/tls.ts';
import { startVcsim } from '../../lab/vcsim/index.ts';
import { startVsphereClient } from '../../lab/vsphere-client/index.ts';
import { reservePort } from '../../lab/ports.ts';
import { labUsers } from '../../lab/index.ts';
import { httpsJson } from '../support/api-lab.ts';

// A flood from one vSphere Client session against a connector with a small budget (the default is generous):
// the flooder gets 429 RATE_LIMITED with Retry-After, another user is served as usual.
const LIMIT = 25;
const stops: (() => Promise<unknown>)[] = [];
let connector: ConnectorHandle;
let login: (user: string) => Promise<string>;

beforeAll(async () => {
  const vcsim = await startVcsim();
  stops.push(() => vcsim.stop());
  const clientPort = await reservePort();
  const clientTls = await generateSelfSigned(['127.0.0.1', 'localhost']);
  const dataDir = await mkdtemp(join(tmpdir(), 'vm2ec2-ratelimit-'));
  stops.push(() => rm(dataDir, { recursive: true, force: true }));
  connector = await startConnector({
    listen: { host: '127.0.0.1', port: 0 },
    dataDir,
    vcenter: { url: `https://127.0.0.1:${clientPort}`, caPem: clientTls.certPem },
    administrators: ['administrator@vsphere.local'],
    limits: { maxRequests: LIMIT, windowMs: 60_000 },
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
  login = async (name) => {
    const u = users.find((x) => x.name === name)!;
    const res = await httpsJson<{ pluginSessionToken: string }>(`${client.origin}/ui/api/login`, { ca: client.certPem, method: 'POST', body: { username: u.name, password: u.password } });
    return res.body.pluginSessionToken;
  };
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
});

const get = (token: string, path: string) =>
  httpsJson(`${connector.origin}${API_PREFIX}${path}`, { ca: connector.certPem, headers: { 'vmware-api-session-id': token } });

describe('per-user rate limit', () => {
  it('a flood from one user gets 429 with Retry-After; another user is unaffected', async () => {
    const flooder = await login('operator@vsphere.local');
    const other = await login('readonly@vsphere.local');

    const flood = await Promise.all(Array.from({ length: LIMIT + 15 }, () => get(flooder, '/me')));
    const served = flood.filter((r) => r.status === 200);
    const limited = flood.filter((r) => r.status === 429);
    expect(served).toHaveLength(LIMIT);
    expect(limited).toHaveLength(15);
    for (const r of limited) {
      const body = ApiErrorBody.parse(r.body);
      expect(body.code).toBe('RATE_LIMITED');
      expect(body.message).toMatch(/limits\.maxRequests/);
      const retryAfter = Number(r.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }

    const otherRes = await get(other, '/me');
    expect(otherRes.status).toBe(200);
    expect((otherRes.body as { userName?: string }).userName).toBe('readonly@vsphere.local');
    // The flooder stays limited for the rest of the window, also on other routes.
    expect((await get(flooder, '/environments')).status).toBe(429);
  });
});
