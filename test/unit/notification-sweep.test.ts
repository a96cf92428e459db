import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorConfig } from '../../connector/config.ts';
import type { ExportRecord } from '../../connector/engine/task-store.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { NotificationService } from '../../connector/notifications/service.ts';
import { NotificationStore } from '../../connector/notifications/store.ts';
import { exportTasksOn, migrationTasksOn } from '../../connector/store/task-repositories.ts';
import type { Store } from '../../connector/store/types.ts';
import { BACKENDS, closeAll } from '../support/backends.ts';

// The startup sweep re-queues notifications a crash kept from the outbox. It must find the tasks where the engine keeps
// them: on a fleet that is PostgreSQL, while the outbox stays in the connector's own SQLite file.
const options = ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.invalid' } }).notifications;

describe.each(BACKENDS)('the notifications startup sweep ($name)', (backend) => {
  const closers: { close(): unknown }[] = [];
  let stores: Store[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const c of closers.splice(0)) await c.close();
    await closeAll(stores.splice(0));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('queues the notifications of tasks the engine saved with no observer (as if the connector died right after the save)', async () => {
    stores = await backend.openStores(1);
    const store = stores[0]!;
    await store.environments.list(); // the schema steps run on first use
    const migrations = migrationTasksOn(store.backend);
    const exports = exportTasksOn(store.backend);
    dir = mkdtempSync(join(tmpdir(), 'vm2ec2-sweep-'));
    const outbox = new NotificationStore(join(dir, 'outbox.sqlite'));
    closers.push(migrations, exports, outbox);
    const service = new NotificationService(outbox, { migrations, exports }, options);
    const target = outbox.createTarget({ kind: 'webhook', name: 'ops', url: 'https://hooks.example.com/vm2ec2', events: ['migration.completed', 'export.completed'], environmentIds: [] }, 'admin');

    const at = new Date(Date.now() + 1_000).toISOString();
    const migration: MigrationRecord = {
      id: 'mig-swept', seq: 0, idKind: 'import', state: 'completed', phase: 'done', environmentId: 'env-a', region: 'us-east-1', vmId: 'vm-7',
      vmName: 'web-07', platform: 'Linux', subnetId: 'subnet-1', instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local',
      bucket: 'b', prefix: 'vm2ec2/mig-swept/', exportAttempts: 0, disks: [], instanceId: 'i-0swept', createdAt: at, updatedAt: at,
    };
    await migrations.insert(migration);
    const exp: Omit<ExportRecord, 'seq'> = {
      id: 'exp-swept', state: 'completed', environmentId: 'env-a', region: 'us-east-1', instanceId: 'i-0abc', exportTaskId: 'export-i-0abc', bucket: 'b',
      s3Prefix: 'exports/', s3Key: 'exports/export-i-0abc.ova', requestedBy: 'administrator@vsphere.local', createdAt: at, updatedAt: at,
    };
    await exports.insert(exp);
    // An old task, beyond the sweep's horizon, is not notified again.
    const old = new Date(Date.now() - 30 * 86_400_000).toISOString();
    await migrations.insert({ ...migration, id: 'mig-old', vmId: 'vm-8', createdAt: old, updatedAt: old });

    expect(await service.sweep()).toBe(2);
    const due = outbox.due(new Date(Date.now() + 60_000), 10);
    expect(due.map((r) => [r.targetId, r.event, r.payload.migration?.id ?? r.payload.export?.id])).toEqual([
      [target.id, 'migration.completed', 'mig-swept'],
      [target.id, 'export.completed', 'exp-swept'],
    ]);
    // A second sweep (the next start) adds nothing: the outbox's key absorbs repeats.
    expect(await service.sweep()).toBe(0);
  });
});
