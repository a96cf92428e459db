import { describe, expect, it } from 'vitest';
import { NotificationPayload } from '../../connector/contract/index.ts';
import type { ExportRecord } from '../../connector/engine/task-store.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { exportEvents, migrationEvents } from '../../connector/notifications/events.ts';

// The payloads a task's state implies, whole and in order: what a webhook receiver reads and what its signature covers.

const at = '2026-12-03T10:00:00.000Z';
const migration = (over: Partial<MigrationRecord>): MigrationRecord =>
  ({
    id: 'import-vm-1a2b3c4d',
    seq: 1,
    idKind: 'import',
    state: 'running',
    phase: 'importing',
    environmentId: 'env-a',
    region: 'us-east-1',
    vmId: 'vm-42',
    vmName: 'web-01',
    platform: 'Linux',
    subnetId: 'subnet-1',
    instanceType: 'm5.large',
    securityGroupIds: [],
    requestedBy: 'VSPHERE.LOCAL\\operator',
    bucket: 'b',
    prefix: 'p/',
    exportAttempts: 1,
    disks: [],
    createdAt: at,
    updatedAt: at,
    ...over,
  }) as MigrationRecord;
const exportTask = (over: Partial<ExportRecord>): ExportRecord => ({
  id: 'export-i-0abc',
  seq: 2,
  state: 'completed',
  environmentId: 'env-a',
  region: 'us-east-1',
  instanceId: 'i-0abc1234def567890',
  exportTaskId: 'export-i-0123',
  bucket: 'exports',
  s3Prefix: 'vm2ec2/',
  requestedBy: 'VSPHERE.LOCAL\\operator',
  createdAt: at,
  updatedAt: at,
  ...over,
});

const built = (events: ReturnType<typeof migrationEvents>, envName?: string) =>
  events.map((e, i) => {
    const p = e.build(`ntf-${i}`, envName);
    NotificationPayload.parse(p);
    return JSON.stringify(p);
  });

describe('task notification payloads', () => {
  it('a completed warm migration: completed and cutover done, with the environment named', () => {
    const events = migrationEvents(migration({ mode: 'warm', state: 'completed', phase: 'done', instanceId: 'i-0abc1234def567890' }));
    expect(events.map((e) => [e.kind, e.subject, e.environmentId, e.occurredAt])).toEqual([
      ['migration.completed', 'migration:import-vm-1a2b3c4d', 'env-a', at],
      ['cutover.done', 'migration:import-vm-1a2b3c4d', 'env-a', at],
    ]);
    const section = { id: 'import-vm-1a2b3c4d', vmId: 'vm-42', vmName: 'web-01', mode: 'warm', state: 'completed', region: 'us-east-1', instanceId: 'i-0abc1234def567890', requestedBy: 'VSPHERE.LOCAL\\operator' };
    expect(built(events, 'Production')).toEqual([
      JSON.stringify({
        id: 'ntf-0',
        kind: 'migration.completed',
        occurredAt: at,
        text: 'Migration of web-01 to Amazon EC2 completed: instance i-0abc1234def567890 in us-east-1 (environment Production).',
        environment: { id: 'env-a', name: 'Production' },
        migration: section,
        test: false,
      }),
      JSON.stringify({
        id: 'ntf-1',
        kind: 'cutover.done',
        occurredAt: at,
        text: 'Cutover of web-01 is done: instance i-0abc1234def567890 runs in us-east-1 (environment Production).',
        environment: { id: 'env-a', name: 'Production' },
        migration: section,
        test: false,
      }),
    ]);
  });

  it('a failed migration without an environment name: its error, and no environment section', () => {
    const events = migrationEvents(migration({ vmName: undefined, state: 'failed', phase: 'importing', error: 'The import failed: ClientError' }));
    expect(built(events)).toEqual([
      JSON.stringify({
        id: 'ntf-0',
        kind: 'migration.failed',
        occurredAt: at,
        text: 'Migration of vm-42 to Amazon EC2 failed: The import failed: ClientError.',
        migration: { id: 'import-vm-1a2b3c4d', vmId: 'vm-42', mode: 'cold', state: 'failed', region: 'us-east-1', error: 'The import failed: ClientError', requestedBy: 'VSPHERE.LOCAL\\operator' },
        test: false,
      }),
    ]);
    expect(migrationEvents(migration({}))).toEqual([]);
  });

  it('exports: completed names the object, failed its reason; an active export implies nothing', () => {
    expect(built(exportEvents(exportTask({ s3Key: 'vm2ec2/export-i-0123.ova' })), 'Production')).toEqual([
      JSON.stringify({
        id: 'ntf-0',
        kind: 'export.completed',
        occurredAt: at,
        text: 'Export of instance i-0abc1234def567890 to S3 completed: s3://exports/vm2ec2/export-i-0123.ova (environment Production).',
        environment: { id: 'env-a', name: 'Production' },
        export: { id: 'export-i-0abc', instanceId: 'i-0abc1234def567890', state: 'completed', region: 'us-east-1', bucket: 'exports', s3Key: 'vm2ec2/export-i-0123.ova', requestedBy: 'VSPHERE.LOCAL\\operator' },
        test: false,
      }),
    ]);
    const failed = exportEvents(exportTask({ state: 'failed', statusMessage: 'The bucket refused the write.' }));
    expect(failed.map((e) => [e.kind, e.subject])).toEqual([['export.failed', 'export:export-i-0abc']]);
    expect(built(failed)).toEqual([
      JSON.stringify({
        id: 'ntf-0',
        kind: 'export.failed',
        occurredAt: at,
        text: 'Export of instance i-0abc1234def567890 to S3 failed: The bucket refused the write.',
        export: { id: 'export-i-0abc', instanceId: 'i-0abc1234def567890', state: 'failed', region: 'us-east-1', bucket: 'exports', error: 'The bucket refused the write.', requestedBy: 'VSPHERE.LOCAL\\operator' },
        test: false,
      }),
    ]);
    expect(exportEvents(exportTask({ state: 'active' }))).toEqual([]);
  });
});
