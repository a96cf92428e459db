import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';

// The list page cache must never serve a page older than the table, whichever connection wrote last.
function task(i: number, environmentId = 'env-a'): MigrationRecord {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    id: `mig-${i}`, seq: 0, idKind: 'queued', state: 'queued', phase: 'queued', environmentId, region: 'us-east-1', vmId: `vm-${i}`,
    platform: 'Linux', subnetId: 'subnet-1', instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local',
    bucket: 'b', prefix: `vm2ec2/mig-${i}/`, exportAttempts: 0, disks: [], createdAt: at, updatedAt: at,
  };
}

describe('SqliteMigrationTasks list pages', () => {
  let dir: string;
  let a: SqliteMigrationTasks;
  let b: SqliteMigrationTasks;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vm2ec2-tasks-'));
    a = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
    b = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reflects inserts and saves made through the same repository', async () => {
    for (let i = 1; i <= 3; i++) await a.insert(task(i));
    const page = { environmentId: 'env-a', limit: 2, offset: 0 };
    expect((await a.list(page)).items.map((t) => t.id)).toEqual(['mig-3', 'mig-2']);
    await a.insert(task(4));
    expect(await a.list(page)).toMatchObject({ total: 4, items: [{ id: 'mig-4' }, { id: 'mig-3' }] });
    const t3 = (await a.get('mig-3'))!;
    await a.save({ ...t3, state: 'running', phase: 'exporting' });
    expect((await a.list(page)).items[1]).toMatchObject({ id: 'mig-3', state: 'running', phase: 'exporting' });
    expect((await a.list({ state: 'queued', limit: 10, offset: 0 })).total).toBe(3);
  });

  it('reflects writes committed by another connection to the same file', async () => {
    await a.insert(task(1));
    expect((await a.list({ environmentId: 'env-a', limit: 10, offset: 0 })).total).toBe(1);
    await b.insert(task(2));
    await b.insert(task(3, 'env-b'));
    expect((await a.list({ environmentId: 'env-a', limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual(['mig-2', 'mig-1']);
    await b.save({ ...(await b.get('mig-1'))!, state: 'failed', phase: 'done', error: 'x' });
    expect((await a.list({ environmentId: 'env-a', limit: 10, offset: 0 })).items[1]).toMatchObject({ id: 'mig-1', state: 'failed' });
  });

  it('keeps pages of different filters apart', async () => {
    // Two tasks per VM: the older one ended (a VM has one active migration at a time).
    for (let i = 1; i <= 6; i++) await a.insert({ ...task(i, i % 2 ? 'env-a' : 'env-b'), vmId: `vm-${i % 3}`, ...(i <= 3 ? { state: 'completed' as const } : {}) });
    expect((await a.list({ environmentId: 'env-a', limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual(['mig-5', 'mig-3', 'mig-1']);
    expect((await a.list({ environmentId: 'env-b', limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual(['mig-6', 'mig-4', 'mig-2']);
    expect((await a.list({ environmentId: 'env-b', limit: 1, offset: 1 })).items.map((t) => t.id)).toEqual(['mig-4']);
    expect((await a.list({ vmId: 'vm-0', limit: 10, offset: 0 })).items.map((t) => t.id)).toEqual(['mig-6', 'mig-3']);
  });
});
