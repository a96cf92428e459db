// Issue 12 items 13 and 15 through real HTTP against the lab connector: the migrate modal's "what is missing"
// answer (environment role from the portal, VApp.Export from vCenter for the user's own session), and
// instance export settings that cannot be replaced silently (compare-and-set, 409, audited old and new values).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiErrorBody, AuditPage, EnvironmentList, InstanceExportSettingsView, VmMigrateAccess } from '../../connector/contract/index.ts';
import { loginLabUsers, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
let readonly: ApiUser;

beforeAll(async () => {
  lab = await startApiLab();
  ({ admin, operator, readonly } = await loginLabUsers(lab));
});
afterAll(async () => lab?.stop());

describe('GET /vms/{vmId}/migrate-access', () => {
  const access = async (user: ApiUser, vmName: string) => {
    const id = (await lab.vmIds()).get(vmName)!;
    const res = await user.call('GET', `/vms/${id}/migrate-access`);
    expect(res.status).toBe(200);
    return VmMigrateAccess.parse(res.body);
  };

  it('tells the read-only user both gaps and whom to ask', async () => {
    const a = await access(readonly, 'ubuntu-web-01');
    expect(a).toMatchObject({ vmName: 'ubuntu-web-01', canMigrate: false, exportPrivilege: false, environments: [] });
    expect(a.missing.map((m) => m.code)).toEqual(['NO_MIGRATE_PERMISSION', 'VM_EXPORT_DENIED']);
    expect(a.missing[0]!.fix).toMatch(/AWS Management Portal administrator/);
    expect(a.missing[1]!.message).toMatch(/vApp > Export/);
    expect(a.missing[1]!.fix).toMatch(/vCenter administrator/);
  });

  it('follows the operator’s environment role and the VM’s folder privilege', async () => {
    const envs = EnvironmentList.parse((await admin.call('GET', '/environments')).body).environments;
    const env = envs[0]!;
    // ReadOnly sees the environment but may not migrate into it.
    await admin.call('PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'ReadOnly' }] });
    expect((await access(operator, 'ubuntu-web-01')).missing.map((m) => m.code)).toEqual(['NO_MIGRATE_PERMISSION']);
    await admin.call('PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
    const ok = await access(operator, 'ubuntu-web-01'); // Migration folder: VApp.Export
    expect(ok).toMatchObject({ canMigrate: true, exportPrivilege: true, missing: [], environments: [{ id: env.id, role: 'General' }] });
    const prod = await access(operator, 'win2019-app-01'); // Production folder: no VApp.Export
    expect(prod.canMigrate).toBe(false);
    expect(prod.missing.map((m) => m.code)).toEqual(['VM_EXPORT_DENIED']);
    expect((await access(admin, 'win2019-app-01')).canMigrate).toBe(true);
    await admin.call('PUT', `/environments/${env.id}/permissions`, { permissions: [] });
  });

  it('answers 404 VM_NOT_FOUND for a VM vCenter does not have, 401 without a session', async () => {
    const res = await readonly.call('GET', '/vms/vm-999999/migrate-access');
    expect(res.status).toBe(404);
    expect(ApiErrorBody.parse(res.body).code).toBe('VM_NOT_FOUND');
    expect((await lab.anonymous().call('GET', '/vms/vm-999999/migrate-access')).status).toBe(401);
  });
});

describe('PUT /settings/instance-export', () => {
  const view = async () => InstanceExportSettingsView.parse((await admin.call('GET', '/settings/instance-export')).body);
  const put = (body: unknown, user = admin) => user.call('PUT', '/settings/instance-export', body);

  it('sets the first name, then refuses to replace it unless the caller names the bucket name it replaces', async () => {
    expect(await view()).toEqual({ bucketName: null, buckets: [] });
    expect((await put({ bucketName: 'first' })).status).toBe(200);
    const set = await view();
    const regions = [...new Set(EnvironmentList.parse((await admin.call('GET', '/environments')).body).environments.map((e) => e.region))].sort();
    expect(set).toMatchObject({ bucketName: 'first', updatedBy: 'administrator@vsphere.local', buckets: regions.map((r) => ({ region: r, bucket: `export-to-s3-first-${r}` })) });
    expect(Date.parse(set.updatedAt!)).toBeGreaterThan(Date.now() - 60_000);

    // The old form's "Create" again: no expected name → 409, the bucket name stays.
    const silent = await put({ bucketName: 'second' });
    expect(silent.status).toBe(409);
    expect(ApiErrorBody.parse(silent.body)).toMatchObject({ code: 'SETTINGS_CHANGED', message: expect.stringContaining('already configured with the bucket name "first"') });
    const stale = await put({ bucketName: 'second', expectedBucketName: 'zeroth' });
    expect(stale.status).toBe(409);
    expect(ApiErrorBody.parse(stale.body).message).toMatch(/Another administrator changed the bucket name to "first"/);
    expect((await view()).bucketName).toBe('first');

    expect((await put({ bucketName: 'second', expectedBucketName: 'first' })).status).toBe(200);
    expect((await view()).bucketName).toBe('second');
    // Same name again is a no-op, not a conflict.
    expect((await put({ bucketName: 'second' })).status).toBe(200);
    expect((await put({ bucketName: 'third', expectedBucketName: 'first' }, readonly)).status).toBe(403);
  });

  it('lets exactly one of two administrators’ parallel changes win; both are audited with old and new values', async () => {
    const from = (await view()).bucketName!;
    const results = await Promise.all(['alpha', 'bravo', 'charlie', 'delta'].map((n) => put({ bucketName: n, expectedBucketName: from })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
    const winner = (await view()).bucketName;
    expect(['alpha', 'bravo', 'charlie', 'delta']).toContain(winner);

    const audit = AuditPage.parse((await admin.call('GET', '/audit?action=settings.instance-export&limit=50')).body).entries;
    const changed = audit.find((e) => e.outcome === 'changed' && e.details?.['to'] === winner);
    expect(changed).toMatchObject({ actor: 'administrator@vsphere.local', details: { from, to: winner }, message: expect.stringContaining(`from "${from}" to "${winner}"`) });
    const refused = audit.filter((e) => e.outcome === 'denied' && e.code === 'SETTINGS_CHANGED');
    // Three losers here, two refusals in the test before.
    expect(refused.length).toBe(5);
    expect(refused[0]!.details).toMatchObject({ current: winner, expected: from });
  });
});
