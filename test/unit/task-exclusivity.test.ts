import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActiveTaskConflict, type ExportRecord } from '../../connector/engine/task-store.ts';
import { SqliteExportTasks } from '../../connector/store/sqlite/export-tasks.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { openSqlite } from '../../connector/store/sqlite/database.ts';
import { MIGRATIONS } from '../../connector/store/sqlite/migrations/index.ts';

// One active migration per VM and one active export per instance, decided by SQLite in the statement that
// records the task (schema step 0004), whichever connection writes.
const at = '2026-01-01T00:00:00.000Z';
function migration(id: string, vmId: string, over: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    id, seq: 0, idKind: 'import', state: 'queued', phase: 'queued', environmentId: 'env-a', region: 'us-east-1', vmId, platform: 'Linux',
    subnetId: 'subnet-1', instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local', bucket: 'b',
    prefix: `vm2ec2/${id}/`, exportAttempts: 0, disks: [], createdAt: at, updatedAt: at, ...over,
  };
}
function exportOf(id: string, instanceId: string, over: Partial<ExportRecord> = {}): Omit<ExportRecord, 'seq'> {
  return {
    id, state: 'active', environmentId: 'env-a', region: 'us-east-1', instanceId, exportTaskId: `export-${instanceId}-${id}`, bucket: 'b', s3Prefix: '',
    requestedBy: 'administrator@vsphere.local', createdAt: at, updatedAt: at, ...over,
  };
}
async function conflictOf(fn: () => Promise<unknown>): Promise<ActiveTaskConflict<{ id: string }>> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ActiveTaskConflict) return err as ActiveTaskConflict<{ id: string }>;
    throw err;
  }
  throw new Error('expected an ActiveTaskConflict');
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vm2ec2-exclusive-'));
  file = join(dir, 'connector.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('one active migration per VM', () => {
  it('refuses a second active migration of a VM, from any connection, naming the one that holds it', async () => {
    const a = new SqliteMigrationTasks(file);
    const b = new SqliteMigrationTasks(file);
    try {
      await a.insert(migration('mig-1', 'vm-1'));
      await a.insert(migration('mig-2', 'vm-2'));
      const refused = await conflictOf(async () => await b.insert(migration('mig-3', 'vm-1')));
      expect(refused.target).toBe('vm-1');
      expect(refused.holder?.id).toBe('mig-1');
      expect(await b.get('mig-3')).toBeUndefined();

      // Running and cancelling still hold the VM; an ended task frees it in the same write.
      for (const state of ['running', 'cancelling'] as const) {
        await a.save({ ...(await a.get('mig-1'))!, state });
        expect((await conflictOf(async () => await b.insert(migration('mig-3', 'vm-1')))).holder?.id).toBe('mig-1');
      }
      await a.save({ ...(await a.get('mig-1'))!, state: 'cancelled' });
      await b.insert(migration('mig-3', 'vm-1'));
      expect((await a.holderOf('vm-1'))?.id).toBe('mig-3');
      for (const state of ['failed', 'completed'] as const) {
        await b.save({ ...(await b.get('mig-3'))!, state });
        expect(await a.holderOf('vm-1')).toBeUndefined();
      }
      // Ended tasks never hold: an insert of an ended record (imports, tests) does not block the VM.
      await a.insert(migration('mig-4', 'vm-1', { state: 'failed' }));
      await a.insert(migration('mig-5', 'vm-1'));
      expect((await conflictOf(async () => await a.insert(migration('mig-6', 'vm-1')))).holder?.id).toBe('mig-5');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('one active export per instance', () => {
  it('refuses a second active export of an instance and checks the region limit in the same insert', async () => {
    const s = new SqliteExportTasks(file);
    try {
      expect((await s.insert(exportOf('exp-1', 'i-1'), 2))?.id).toBe('exp-1');
      expect((await conflictOf(async () => await s.insert(exportOf('exp-2', 'i-1'), 2))).holder?.id).toBe('exp-1');
      expect((await s.insert(exportOf('exp-3', 'i-2'), 2))?.id).toBe('exp-3');
      // The region is full: undefined, unless the instance itself is the one exporting (then the conflict says so).
      expect(await s.insert(exportOf('exp-4', 'i-3'), 2)).toBeUndefined();
      expect((await conflictOf(async () => await s.insert(exportOf('exp-5', 'i-2'), 2))).holder?.id).toBe('exp-3');
      expect((await s.insert(exportOf('exp-6', 'i-3', { region: 'eu-west-1' }), 2))?.id).toBe('exp-6');
      expect((await s.active()).map((e) => e.id)).toEqual(['exp-1', 'exp-3', 'exp-6']);

      const first = (await s.get('exp-1'))!;
      await s.save({ ...first, state: 'cancelling' });
      expect((await conflictOf(async () => await s.insert(exportOf('exp-7', 'i-1')))).holder?.id).toBe('exp-1');
      await s.save({ ...first, state: 'cancelled' });
      expect((await s.insert(exportOf('exp-7', 'i-1')))?.id).toBe('exp-7');
      // A reservation EC2 refused is removed and frees the instance.
      await s.remove('exp-7');
      expect(await s.holderOf('i-1')).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('keeps migrations and exports apart (an instance id and a VM id never block each other)', async () => {
    const m = new SqliteMigrationTasks(file);
    const e = new SqliteExportTasks(file);
    try {
      await m.insert(migration('mig-1', 'same-id'));
      expect((await e.insert(exportOf('exp-1', 'same-id')))?.id).toBe('exp-1');
    } finally {
      await m.close();
      await e.close();
    }
  });
});

describe('schema step 0004 on a database that already holds duplicates', () => {
  it('keeps every task, gives the hold to the oldest, refuses new duplicates and passes the hold on', async () => {
    const old = openSqlite(file, MIGRATIONS.slice(0, 3)).db;
    const put = old.prepare(
      `INSERT INTO engine_tasks (id, kind, seq, state, environment_id, vm_id, created_at, updated_at, data) VALUES (?, ?, ?, ?, 'env-a', ?, ?, ?, ?)`,
    );
    const rows: [string, 'migration' | 'export', string, string][] = [
      ['mig-1', 'migration', 'running', 'vm-1'],
      ['mig-2', 'migration', 'queued', 'vm-1'],
      ['mig-3', 'migration', 'completed', 'vm-1'],
      ['exp-1', 'export', 'active', 'i-1'],
      ['exp-2', 'export', 'cancelling', 'i-1'],
    ];
    rows.forEach(([id, kind, state, target], i) => {
      const data = kind === 'migration' ? migration(id, target, { state: state as MigrationRecord['state'], seq: i + 1 }) : { ...exportOf(id, target, { state: state as ExportRecord['state'] }), seq: i + 1 };
      put.run(id, kind, i + 1, state, target, at, at, JSON.stringify(data));
    });
    old.close();

    const m = new SqliteMigrationTasks(file);
    const e = new SqliteExportTasks(file);
    try {
      expect((await m.byStates(['running', 'queued', 'completed'])).map((t) => t.id)).toEqual(['mig-1', 'mig-2', 'mig-3']);
      expect((await e.active()).map((t) => t.id)).toEqual(['exp-1', 'exp-2']);
      expect((await m.holderOf('vm-1'))?.id).toBe('mig-1');
      expect((await e.holderOf('i-1'))?.id).toBe('exp-1');
      expect((await conflictOf(async () => await m.insert(migration('mig-4', 'vm-1')))).holder?.id).toBe('mig-1');

      // The older duplicates run on; when the holder ends, the other one still running takes the hold at its next write.
      await m.save({ ...(await m.get('mig-2'))!, state: 'running' });
      await m.save({ ...(await m.get('mig-1'))!, state: 'completed' });
      await m.save({ ...(await m.get('mig-2'))!, phase: 'exporting' });
      expect((await m.holderOf('vm-1'))?.id).toBe('mig-2');
      expect((await conflictOf(async () => await m.insert(migration('mig-4', 'vm-1')))).holder?.id).toBe('mig-2');
      await m.save({ ...(await m.get('mig-2'))!, state: 'failed' });
      await m.insert(migration('mig-4', 'vm-1'));
    } finally {
      await m.close();
      await e.close();
    }
  });
});
