import { afterEach, describe, expect, it } from 'vitest';
import { ActiveTaskConflict } from '../../connector/engine/task-store.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { PgMigrationTasks } from '../../connector/store/postgres/migration-tasks.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { Store } from '../../connector/store/types.ts';
import { BACKENDS, closeAll } from '../support/backends.ts';

// Issue 14: vCenters number their VMs alike (vm-NNN in each), so a fleet serving two vCenters holds one active
// migration per (vCenter, VM), not per VM ID. Every race runs with its inserts in flight together, on both backends.
const at = '2026-01-01T00:00:00.000Z';
const VC_A = 'https://vc-a.example.test';
const VC_B = 'https://vc-b.example.test';
function migration(id: string, vmId: string, vcenterId: string | undefined): MigrationRecord {
  return {
    id, seq: 0, idKind: 'queued', state: 'queued', phase: 'queued', environmentId: 'env-a', region: 'us-east-1', vmId, platform: 'Linux',
    subnetId: 'subnet-1', instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local', bucket: 'b',
    prefix: `vm2ec2/${id}/`, exportAttempts: 0, disks: [], createdAt: at, updatedAt: at, ...(vcenterId === undefined ? {} : { vcenterId }),
  };
}

type Tasks = SqliteMigrationTasks | PgMigrationTasks;

describe.each(BACKENDS)('one active migration per vCenter and VM ($name)', (backend) => {
  let stores: Store[] = [];
  let closers: Tasks[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c.close()));
    await closeAll(stores.splice(0));
  });

  /** `n` connectors (one repository each) on one new database. */
  async function fleet(n: number): Promise<Tasks[]> {
    stores = await backend.openStores(n);
    for (const s of stores) await s.environments.list();
    closers = stores.map((s) => (s.backend.kind === 'postgres' ? new PgMigrationTasks(s.backend.db) : new SqliteMigrationTasks(s.backend.file)));
    return closers;
  }

  it('the same VM ID in two vCenters: both migrate at once; in one vCenter, of parallel inserts exactly one wins', async () => {
    const f = await fleet(4);
    // Two connectors per vCenter, each inserting vm-47 and vm-48 of its vCenter at once.
    const vcOf = (i: number) => (i < 2 ? VC_A : VC_B);
    const results = await Promise.allSettled(
      ['vm-47', 'vm-48'].flatMap((vm) => f.map((c, i) => c.insert(migration(`mig-${vm}-${i}`, vm, vcOf(i))))),
    );
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(won.map((t) => `${t.vcenterId} ${t.vmId}`).sort()).toEqual([`${VC_A} vm-47`, `${VC_A} vm-48`, `${VC_B} vm-47`, `${VC_B} vm-48`]);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(refused).toHaveLength(4);
    for (const reason of refused) {
      expect(reason).toBeInstanceOf(ActiveTaskConflict);
      // The holder named is the task of the refused one's own vCenter.
      const conflict = reason as ActiveTaskConflict<MigrationRecord>;
      const loser = results.findIndex((r) => r.status === 'rejected' && r.reason === reason);
      const loserVc = vcOf(loser % 4);
      expect(conflict.holder).toMatchObject({ vmId: conflict.target, vcenterId: loserVc });
    }
    // Each vCenter's holder is its own task.
    for (const vc of [VC_A, VC_B]) {
      expect((await f[3]!.holderOf('vm-47', vc))?.id).toBe(won.find((t) => t.vmId === 'vm-47' && t.vcenterId === vc)!.id);
    }
    // Listing a VM ID scoped to a vCenter shows only that vCenter's tasks; unscoped, both.
    expect((await f[0]!.list({ vmId: 'vm-47', vcenterId: VC_B, limit: 10, offset: 0 })).items.map((t) => t.vcenterId)).toEqual([VC_B]);
    expect((await f[0]!.list({ vmId: 'vm-47', limit: 10, offset: 0 })).total).toBe(2);
    // vCenter A's task ends: A's vm-47 is free again while B's still holds.
    const a47 = won.find((t) => t.vmId === 'vm-47' && t.vcenterId === VC_A)!;
    expect(await f[1]!.save({ ...a47, state: 'failed' })).toBe(true);
    expect((await f[2]!.insert(migration('mig-a47-again', 'vm-47', VC_A))).id).toBe('mig-a47-again');
    await expect(f[0]!.insert(migration('mig-b47-again', 'vm-47', VC_B))).rejects.toBeInstanceOf(ActiveTaskConflict);
  });

  it('a single connector (tasks without a vCenter) keeps one active migration per VM', async () => {
    const f = await fleet(3);
    const results = await Promise.allSettled(f.map((c, i) => c.insert(migration(`mig-${i}`, 'vm-1', undefined))));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as ActiveTaskConflict<MigrationRecord>).holder?.id).toBe(won[0]!.id);
    expect((await f[0]!.holderOf('vm-1'))?.id).toBe(won[0]!.id);
    // Tasks recorded without a vCenter are shown for a VM ID whatever the vCenter asked.
    expect((await f[1]!.list({ vmId: 'vm-1', vcenterId: VC_A, limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual([won[0]!.id]);
  });
});
