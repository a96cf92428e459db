import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, API_PREFIX, Environment, ImportAuthorization, SecurityGroupList, SubnetList, VpcList } from '../../connector/contract/index.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { arr, child, el, moRefXml, str, wrap } from '../../connector/vsphere/soap.ts';
import { startLab, type LabHandle } from '../../lab/index.ts';
import { httpsJson, type HttpResult } from '../support/api-lab.ts';

// Issue 12 item 1: a plugin session token must stop working soon after its user logs out of the vSphere Client,
// its cloned vCenter session must be logged out, and checking this must cost at most one vCenter round trip per
// token per interval. Real HTTPS through the lab: the stand-in's login/logout, the connector, vcsim's sessions.
const LIVENESS_MS = 1_000;

let lab: LabHandle;
let vimAdmin: Vim25Client;
let environmentId: string;
let vmId: string;
let subnetId: string;
let groupId: string;

/** A vSphere Client login as the browser makes it: the session cookie (to log out) and the plugin session token. */
async function loginToClient(userName: string): Promise<{ cookie: string; token: string }> {
  const user = lab.users.find((u) => u.name === userName)!;
  const res = await httpsJson<{ pluginSessionToken: string }>(`${lab.vcenterOrigin}/ui/api/login`, {
    ca: lab.vcenterCertPem,
    method: 'POST',
    body: { username: user.name, password: user.password },
  });
  expect(res.status).toBe(200);
  const setCookie = [res.headers['set-cookie'] ?? []].flat()[0] ?? '';
  return { cookie: setCookie.split(';')[0]!, token: res.body.pluginSessionToken };
}

async function logoutOfClient(cookie: string): Promise<void> {
  const res = await httpsJson(`${lab.vcenterOrigin}/ui/api/logout`, { ca: lab.vcenterCertPem, method: 'POST', headers: { cookie } });
  expect(res.status).toBe(204);
}

const api = <T = unknown>(token: string, method: string, path: string, body?: unknown): Promise<HttpResult<T>> =>
  httpsJson<T>(`${lab.connector.origin}${API_PREFIX}${path}`, {
    ca: lab.connector.certPem,
    method,
    headers: { 'vmware-api-session-id': token },
    ...(body !== undefined ? { body } : {}),
  });

/** vCenter's own list of sessions (SessionManager.sessionList), read as the administrator: user name per session key. */
async function vcenterSessions(): Promise<Map<string, string>> {
  const spec = wrap(
    'specSet',
    wrap('propSet', el('type', 'SessionManager') + el('all', false) + el('pathSet', 'sessionList')) +
      wrap('objectSet', moRefXml('obj', { type: 'SessionManager', value: 'SessionManager' }) + el('skip', false)),
  );
  const r = await vimAdmin.invoke('RetrievePropertiesEx', { type: 'PropertyCollector', value: 'propertyCollector' }, spec + wrap('options', ''));
  const sessions = new Map<string, string>();
  for (const o of arr(child(r, 'objects'))) {
    for (const p of arr(child(o, 'propSet'))) {
      for (const s of arr(child(child(p, 'val'), 'UserSession'))) sessions.set(str(s, 'key') ?? '', str(s, 'userName') ?? '');
    }
  }
  return sessions;
}
const sessionsOf = async (userName: string) => [...(await vcenterSessions()).values()].filter((u) => u === userName).length;

const stats = () => lab.connector.app.vcenterSessionStats();

beforeAll(async () => {
  lab = await startLab({ stageMs: 50, buildUi: false, connector: { sessions: { livenessMs: LIVENESS_MS } } });
  const admin = lab.users.find((u) => u.name === 'administrator@vsphere.local')!;
  vimAdmin = await Vim25Client.connect({ sdkUrl: lab.vcsim.sdkUrl, ca: lab.vcsim.certPem });
  await vimAdmin.login(admin.name, admin.password);
  vmId = (await vimAdmin.listVirtualMachines()).find((v) => v.name === 'ubuntu-web-01')!.id;

  const adminToken = await lab.pluginSessionToken(admin.name);
  const vpcId = VpcList.parse((await api(adminToken, 'GET', '/regions/us-east-1/vpcs')).body).vpcs[0]!.id;
  subnetId = SubnetList.parse((await api(adminToken, 'GET', `/regions/us-east-1/subnets?vpcId=${vpcId}`)).body).subnets.find((s) => s.name === 'lab-app-a')!.id;
  groupId = SecurityGroupList.parse((await api(adminToken, 'GET', `/regions/us-east-1/security-groups?vpcId=${vpcId}`)).body).securityGroups.find((g) => g.name === 'web')!.id;
  environmentId = Environment.parse(
    (await api(adminToken, 'POST', '/environments', { name: 'Migration', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId] })).body,
  ).id;
  await api(adminToken, 'PUT', `/environments/${environmentId}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
});
afterAll(async () => {
  await vimAdmin?.logout().catch(() => {});
  vimAdmin?.close();
  await lab?.stop();
});

describe('a plugin session token after its user logs out of the vSphere Client', () => {
  it('is refused within the liveness interval (401), its vCenter clone is logged out, and nothing more can be done with it', async () => {
    const operator = 'operator@vsphere.local';
    const before = await sessionsOf(operator);
    const { cookie, token } = await loginToClient(operator);
    expect((await api(token, 'GET', '/me')).status).toBe(200);
    // The vSphere Client's own session and the connector's clone.
    expect(await sessionsOf(operator)).toBe(before + 2);
    const auth = await api(token, 'POST', '/import-authorizations', { environmentId, vmId });
    expect(auth.status, JSON.stringify(auth.body)).toBe(201);
    const importToken = ImportAuthorization.parse(auth.body).token;

    await logoutOfClient(cookie);
    const loggedOutAt = Date.now();
    let me = await api(token, 'GET', '/me');
    while (me.status === 200 && Date.now() - loggedOutAt < LIVENESS_MS * 3) {
      await new Promise((r) => setTimeout(r, 50));
      me = await api(token, 'GET', '/me');
    }
    expect(me.status).toBe(401);
    expect(Date.now() - loggedOutAt).toBeLessThanOrEqual(LIVENESS_MS + 500);
    const refusal = ApiErrorBody.parse(me.body);
    expect(refusal.code).toBe('NOT_AUTHENTICATED');
    expect(refusal.message).toMatch(/Log in to the vSphere Client again/);
    // Both sessions are gone from vCenter: the clone was logged out before the refusal was answered.
    expect(await sessionsOf(operator)).toBe(before);

    const again = await api(token, 'POST', '/import-authorizations', { environmentId, vmId });
    expect(again.status).toBe(401);
    expect(ApiErrorBody.parse(again.body).code).toBe('NOT_AUTHENTICATED');
    const migrate = await api(token, 'POST', '/migrations', {
      token: importToken,
      environmentId,
      vmId,
      platform: 'Linux',
      subnetId,
      instanceType: 'm5.large',
      securityGroupIds: [groupId],
    });
    expect(migrate.status).toBe(401);
    expect(ApiErrorBody.parse(migrate.body).code).toBe('NOT_AUTHENTICATED');
    expect((await api(token, 'GET', '/migrations')).status).toBe(401);
    expect(await sessionsOf(operator)).toBe(before);
  });

  it('keeps working while the user stays logged in, checked at most once per interval however many tabs poll', async () => {
    const { cookie, token } = await loginToClient('readonly@vsphere.local');
    expect((await api(token, 'GET', '/me')).status).toBe(200);
    const start = stats();

    // Due for a check: 50 parallel polls make one liveness round trip between them.
    await new Promise((r) => setTimeout(r, LIVENESS_MS + 50));
    const burst = await Promise.all(Array.from({ length: 50 }, () => api(token, 'GET', '/me')));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    expect(stats().livenessChecks - start.livenessChecks).toBe(1);

    // Then waves of 50 parallel polls every 100 ms for 3.5 intervals: one check per interval at most.
    const waveStart = stats();
    const t0 = Date.now();
    while (Date.now() - t0 < LIVENESS_MS * 3.5) {
      const wave = await Promise.all(Array.from({ length: 50 }, () => api(token, 'GET', '/me')));
      expect(wave.every((r) => r.status === 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed = Date.now() - t0;
    const checks = stats().livenessChecks - waveStart.livenessChecks;
    expect(checks).toBeGreaterThanOrEqual(3);
    expect(checks).toBeLessThanOrEqual(Math.floor(elapsed / LIVENESS_MS) + 1);
    // No new clone was made for a live token.
    expect(stats().clones).toBe(start.clones);
    await logoutOfClient(cookie);
  });

  it('refuses a token vCenter has refused without asking vCenter again for each request', async () => {
    const { cookie, token } = await loginToClient('readonly@vsphere.local');
    expect((await api(token, 'GET', '/me')).status).toBe(200);
    await logoutOfClient(cookie);
    await new Promise((r) => setTimeout(r, LIVENESS_MS + 50));
    const start = stats();
    const polls = await Promise.all(Array.from({ length: 50 }, () => api(token, 'GET', '/me')));
    expect(polls.every((r) => r.status === 401)).toBe(true);
    for (let i = 0; i < 5; i++) expect((await api(token, 'GET', '/me')).status).toBe(401);
    const after = stats();
    expect(after.livenessChecks - start.livenessChecks + (after.clones - start.clones)).toBe(1);
    expect(after.ended - start.ended).toBe(1);
  });

  it('replaces a clone that vCenter ended on its own while the user is still logged in', async () => {
    const operator = 'operator@vsphere.local';
    const { cookie, token } = await loginToClient(operator);
    const own = new Set([...(await vcenterSessions()).keys()]);
    expect((await api(token, 'GET', '/me')).status).toBe(200);
    const [clone] = [...(await vcenterSessions())].filter(([key, user]) => user === operator && !own.has(key)).map(([key]) => key);
    expect(clone).toBeDefined();
    // An administrator ends just the connector's clone (as vCenter's idle timeout would).
    await vimAdmin.invoke('TerminateSession', { type: 'SessionManager', value: 'SessionManager' }, el('sessionId', clone!));

    const failed = await api(token, 'GET', `/vms/${vmId}`);
    expect(failed.status).toBe(401);
    const next = await api(token, 'GET', `/vms/${vmId}`);
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect((await vcenterSessions()).has(clone!)).toBe(false);
    await logoutOfClient(cookie);
  });
});
