// The fleet's connectors and the bandwidth cap through the lab connector's API over real HTTPS: administrators only
// (a refusal audited), clear refusals of a bad cap, the change audited, and a migration under the cap showing as
// throttled in its task view while its disk copy waits on the cap.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthSettingView, FleetConnectorList } from '../../connector/contract/index.ts';
import { PACKAGE_ROOT } from '../../connector/paths.ts';
import { auditOf, loginLabUsers, migrationEnvironment, migrationUntil, requestMigration, startApiLab, type ApiLab, type ApiUser } from '../support/api-lab.ts';

let lab: ApiLab;
let admin: ApiUser;
let operator: ApiUser;
const version = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(async () => {
  lab = await startApiLab({ importRoleReady: true, connector: { fleet: { connectorId: 'lab-conn-1', heartbeatMs: 100, leaseMs: 1_000 } } });
  ({ admin, operator } = await loginLabUsers(lab));
}, 180_000);
afterAll(async () => {
  await lab?.stop();
});

describe('fleet connectors and bandwidth through the API', { timeout: 240_000 }, () => {
  it("lists this connector, alive, with its version and vCenter; others are refused and the refusal audited", async () => {
    const res = await admin.call('GET', '/fleet/connectors');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const list = FleetConnectorList.parse(res.body);
    expect(list.leaseMs).toBe(1_000);
    expect(list.connectors).toHaveLength(1);
    expect(list.connectors[0]).toMatchObject({ id: 'lab-conn-1', self: true, health: 'alive', version, vcenterId: lab.vcsim.instanceUuid, effectiveCapMBps: null });
    // The heartbeat keeps it younger than the lease.
    await new Promise((r) => setTimeout(r, 1_500));
    const later = FleetConnectorList.parse((await admin.call('GET', '/fleet/connectors')).body).connectors[0]!;
    expect(later.health).toBe('alive');
    expect(Date.parse(later.heartbeatAt)).toBeGreaterThan(Date.parse(list.connectors[0]!.heartbeatAt));

    expect((await operator.call('GET', '/fleet/connectors')).status).toBe(403);
    expect((await operator.call('PUT', '/fleet/connectors/lab-conn-1/bandwidth', { capMBps: 1 })).status).toBe(403);
    const audit = await auditOf(admin, 'admin.access', 20);
    expect(audit.some((e) => e.actor.toLowerCase().includes('operator') && e.outcome === 'denied' && e.message.includes('/fleet/connectors/:connectorId/bandwidth'))).toBe(true);
  });

  it('refuses a bad cap saying what to fix, and an unknown connector', async () => {
    const zero = await admin.call('PUT', '/fleet/connectors/lab-conn-1/bandwidth', { capMBps: 0 });
    expect(zero.status).toBe(400);
    expect(JSON.stringify(zero.body)).toContain('capMBps must be at least 1 MB/s; use null for unlimited');
    const overlap = await admin.call('PUT', '/fleet/connectors/lab-conn-1/bandwidth', {
      capMBps: null,
      schedule: [
        { from: '08:00', to: '18:00', capMBps: 50 },
        { from: '17:00', to: '19:00', capMBps: 10 },
      ],
    });
    expect(overlap.status).toBe(400);
    expect(JSON.stringify(overlap.body)).toContain('the window 17:00–19:00 overlaps 08:00–18:00');
    const unknown = await admin.call('PUT', '/fleet/connectors/nobody/bandwidth', { capMBps: 5 });
    expect(unknown.status).toBe(404);
    expect((unknown.body as { message: string }).message).toContain('There is no connector nobody in this fleet');
  });

  it('a migration under a 1 MB/s cap shows as throttled; the change is audited', async () => {
    const set = await admin.call('PUT', '/fleet/connectors/lab-conn-1/bandwidth', { capMBps: 1, schedule: [] });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(BandwidthSettingView.parse(set.body)).toMatchObject({ connectorId: 'lab-conn-1', capMBps: 1, effectiveCapMBps: 1, updatedBy: 'administrator@vsphere.local' });
    const audit = await auditOf(admin, 'settings.bandwidth', 5);
    expect(audit[0]).toMatchObject({ outcome: 'changed', actor: 'administrator@vsphere.local' });
    expect(audit[0]!.message).toContain('Set the bandwidth cap of connector lab-conn-1 to 1 MB/s');

    const { env, subnetId, groupId } = await migrationEnvironment(admin, 'Capped');
    const vmId = (await lab.vmIds()).get('ubuntu-web-01')!;
    const started = await requestMigration(admin, { environmentId: env.id, vmId, subnetId, groupId });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = (started.body as { id: string }).id;
    let task = await migrationUntil(admin, id, (t) => !!t.throttled || ['completed', 'failed', 'cancelled'].includes(t.state), 60_000);
    expect(task.phase).toBe('uploading');
    expect(task.throttled).toEqual({ capMBps: 1 });
    // 1 GiB at 1 MB/s: nowhere near done.
    expect(task!.disks[0]!.bytesUploaded).toBeLessThan(64 * 1024 * 1024);
    const listed = FleetConnectorList.parse((await admin.call('GET', '/fleet/connectors')).body);
    expect(listed.connectors[0]!.effectiveCapMBps).toBe(1);

    expect((await admin.call('POST', `/migrations/${id}/cancel`)).status).toBeLessThan(300);
    task = await migrationUntil(admin, id, (t) => t.state === 'cancelled', 60_000);
    expect(task.state).toBe('cancelled');
    expect(task.throttled).toBeUndefined();
    const lifted = await admin.call('PUT', '/fleet/connectors/lab-conn-1/bandwidth', { capMBps: null });
    expect(BandwidthSettingView.parse(lifted.body).effectiveCapMBps).toBeNull();
  });
});
