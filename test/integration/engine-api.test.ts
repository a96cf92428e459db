// The engine's HTTP surface on a real connector (vSphere Client session tokens, the one error shape):
// maintenance 503 before the token is spent, task listing and lookup, cancel, settings for administrators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;
let readonly: ApiUser;

beforeAll(async () => {
  lab = await startApiLab();
  [admin, readonly] = await Promise.all([lab.login('administrator@vsphere.local'), lab.login('readonly@vsphere.local')]);
});
afterAll(async () => {
  await lab?.stop();
});

const body = (vmId: string) => ({
  token: 'aaaa.bbbb.cccc',
  environmentId: 'env-default',
  vmId,
  platform: 'Linux',
  subnetId: 'subnet-0123456789abcdef0',
  instanceType: 't3.micro',
  securityGroupIds: ['sg-0123456789abcdef0'],
});

describe('migration API', () => {
  it('answers 503 CONNECTOR_UPDATING while the maintenance flag is set, and checks the token again once it is cleared', async () => {
    const vmId = (await lab.vmIds()).get('bsd-firewall-01')!;
    type Preflight = { ready: boolean; checks: { code: string; severity: string; message: string }[] };
    lab.connector.app.engine.setUpdating(true);
    // The form learns it from the pre-flight checks, before anyone presses Begin.
    const pre = await admin.call<Preflight>('GET', `/vms/${vmId}/preflight?environmentId=env-default`);
    expect(pre.status).toBe(200);
    expect(pre.body.ready).toBe(false);
    expect(pre.body.checks[0]).toMatchObject({ code: 'CONNECTOR_UPDATING', severity: 'blocker', message: expect.stringContaining("can't create a migration task while the connector is updating") });
    const res = await admin.call<{ code: string; message: string }>('POST', '/migrations', body(vmId));
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('CONNECTOR_UPDATING');
    lab.connector.app.engine.setUpdating(false);
    const preAfter = await admin.call<Preflight>('GET', `/vms/${vmId}/preflight?environmentId=env-default`);
    expect(preAfter.body.checks.map((c) => c.code)).not.toContain('CONNECTOR_UPDATING');
    const after = await admin.call<{ code: string }>('POST', '/migrations', body(vmId));
    // A made-up token is now judged by the authorization check (no longer 503).
    expect([401, 403]).toContain(after.status);
    expect(after.body.code).toMatch(/^TOKEN_/);
  });

  it('lists tasks (empty), answers 404 for an unknown id and for cancelling it', async () => {
    const list = await admin.call<{ items: unknown[]; total: number }>('GET', '/migrations?limit=10');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [], total: 0 });
    const missing = await admin.call<{ code: string }>('GET', '/migrations/mig-00000000-0000-0000-0000-000000000000');
    expect(missing.status).toBe(404);
    const cancel = await admin.call<{ code: string }>('POST', '/migrations/mig-00000000-0000-0000-0000-000000000000/cancel');
    expect(cancel.status).toBe(404);
    const bad = await admin.call<{ code: string }>('GET', '/migrations?state=nonsense');
    expect(bad.status).toBe(400);
  });

  it('keeps instance export settings and exports to administrators', async () => {
    expect((await readonly.call('GET', '/settings/instance-export')).status).toBe(403);
    expect((await readonly.call('PUT', '/settings/instance-export', { bucketName: 'lab' })).status).toBe(403);
    expect((await readonly.call('GET', '/exports')).status).toBe(403);
    expect((await admin.call('GET', '/settings/instance-export')).body).toMatchObject({ bucketName: null });
    expect((await admin.call('PUT', '/settings/instance-export', { bucketName: 'Bad_Name' })).status).toBe(400);
    expect((await admin.call('PUT', '/settings/instance-export', { bucketName: 'lab' })).status).toBe(200);
    expect((await admin.call('GET', '/settings/instance-export')).body).toMatchObject({ bucketName: 'lab' });
    expect((await admin.call('GET', '/exports')).body).toEqual({ items: [] });
  });
});
