// The lab's vSphere Client stand-in in front of the real lab vcsim, with the fixture plugin server
// (test/fixtures/vsphere-client/) and four broken registrations, for test/integration/vsphere-client.test.ts and
// vsphere-client-plugins.test.ts. `useStandInLab` registers the file's beforeAll/afterAll; the handles below are live
// bindings, set once the lab runs (vitest loads this module afresh for each test file).
import https from 'node:https';
import { afterAll, beforeAll, expect } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { startVsphereClient, type VsphereClientHandle } from '../../lab/vsphere-client/index.ts';
import type { SessionDto } from '../../lab/vsphere-client/api-types.ts';
import { startFixturePluginServer, type FixturePluginServer } from '../fixtures/vsphere-client/plugin-server.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export let vcsim: VcsimHandle;
export let fixture: FixturePluginServer;
export let client: VsphereClientHandle;

/** An HTTPS request to the stand-in, trusting only its certificate. */
export function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(body !== undefined && typeof opts.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, client.origin), { method: opts.method ?? 'GET', headers, ca: client.certPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function login(username: string, password: string): Promise<{ cookie: string; session: SessionDto; setCookie: string }> {
  const r = await call('/ui/api/login', { method: 'POST', body: { username, password } });
  expect(r.status, r.text).toBe(200);
  const setCookie = String(r.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0] ?? '', session: r.json as SessionDto, setCookie };
}

export const FIXTURE_KEY = 'org.example.fixture';
export const fixtureId = `${FIXTURE_KEY}~1.0.0`;

/** Starts vcsim, the fixture plugin server and the stand-in before the file's tests; stops them after. */
export function useStandInLab(): void {
  beforeAll(async () => {
    vcsim = await startVcsim();
    fixture = await startFixturePluginServer();
    const port = new URL(fixture.origin).port;
    client = await startVsphereClient({
      vcenter: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid },
      plugins: [
        { key: FIXTURE_KEY, version: '1.0.0', manifestUrl: fixture.manifestUrl, serverCertPem: fixture.certPem, serverThumbprint: fixture.thumbprintSha256 },
        { key: 'org.example.broken', version: '2.0.0', manifestUrl: fixture.brokenManifestUrl, serverThumbprint: fixture.thumbprintSha256 },
        // Registered with another server's thumbprint: the stand-in must refuse to talk to it.
        { key: 'org.example.untrusted', version: '1.0.0', manifestUrl: fixture.manifestUrl, serverThumbprint: vcsim.thumbprintSha256 },
        { key: 'org.example.missing', version: '1.0.0', manifestUrl: `https://127.0.0.1:${port}/fixture/missing.json`, serverCertPem: fixture.certPem },
        { key: 'org.example.unpinned', version: '1.0.0', manifestUrl: fixture.manifestUrl },
      ],
    });
  });

  afterAll(async () => {
    await client?.stop();
    await fixture?.stop();
    await vcsim?.stop();
  });
}
