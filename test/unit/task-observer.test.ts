import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { MigrationEngine, MigrationError } from '../../connector/engine/engine.ts';
import type { MigrationBefore, TaskObserver } from '../../connector/engine/observer.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';

// The engine tells its observers about every persisted save, with the state and phase the store held before it,
// also for a task resumed by a new engine (a connector restart). The vCenter reporter and the notification outbox
// are built on this.

interface Seen {
  id: string;
  before: MigrationBefore | undefined;
  state: string;
  phase: string;
  /** What the store held when the observer was called. */
  stored: string | undefined;
}

const AWS = { region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };

describe('MigrationEngine observers', () => {
  let dir: string;
  let tasks: SqliteMigrationTasks;
  let ec2: EC2Client;
  let s3: S3Client;
  const seen: Seen[] = [];
  const recorder: TaskObserver = {
    migrationSaved: (t, before) => seen.push({ id: t.id, before, state: t.state, phase: t.phase, stored: tasks.peekNow(t.id)?.state }),
  };

  function engine(observers: TaskObserver[], connectorId?: string): MigrationEngine {
    return new MigrationEngine({
      ...(connectorId ? { connectorId: async () => connectorId } : {}),
      tasks,
      // vCenter refuses at once: the task fails at its first step, as a real one does with a refused login.
      openVcenter: () => Promise.reject(new MigrationError('The connector could not log in to vCenter.')),
      ec2: () => ec2,
      s3: () => s3,
      stagingBucket: () => 'staging',
      retryDelayMs: 1,
      // The undo's S3 calls meet a closed port: retry them without waiting.
      pollMs: 1,
      pollMaxMs: 1,
      observers,
    });
  }

  const sub = {
    environmentId: 'env-a', region: 'us-east-1', vmId: 'vm-1', vmName: 'web-01', platform: 'Linux' as const, subnetId: 'subnet-1',
    instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local',
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vm2ec2-observer-'));
    tasks = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
    ec2 = new EC2Client(AWS);
    s3 = new S3Client(AWS);
    seen.length = 0;
  });
  afterEach(async () => {
    await tasks.close();
    ec2.destroy();
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees the insert, every transition with the state before it, and only what the store holds', async () => {
    const e = engine([recorder]);
    await e.start();
    const t = await e.submit(sub);
    await e.idle();
    await e.stop();
    expect((await e.get(t.id))?.state).toBe('failed');
    expect(seen[0]).toMatchObject({ id: t.id, before: undefined, state: 'queued', phase: 'queued' });
    expect(seen[1]).toMatchObject({ before: { state: 'queued', phase: 'queued' }, state: 'running', phase: 'exporting' });
    expect(seen.at(-1)).toMatchObject({ state: 'failed' });
    // Each call's before is the previous call's after: no save is missed.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.before).toEqual({ state: seen[i - 1]!.state, phase: seen[i - 1]!.phase });
    for (const s of seen) expect(s.stored).toBe(s.state);
  });

  it('gives a resumed task the before the store held, and a cancelled queued task its queued before', async () => {
    const at = new Date().toISOString();
    const running: MigrationRecord = {
      ...sub, id: 'mig-resumed', seq: 0, idKind: 'import', state: 'running', phase: 'exporting', mode: 'cold', bucket: 'staging',
      prefix: 'vm2ec2/mig-resumed/', exportAttempts: 1, disks: [], createdAt: at, startedAt: at, updatedAt: at,
    };
    await tasks.insert(running);
    const e = engine([recorder]);
    await e.start();
    await e.idle();
    const resumed = seen.filter((s) => s.id === 'mig-resumed');
    expect(resumed[0]?.before).toEqual({ state: 'running', phase: 'exporting' });
    expect(resumed.at(-1)).toMatchObject({ state: 'failed', stored: 'failed' });

    await e.stop();
    const paused = engine([recorder]); // not started: the submitted task stays queued
    const q = await paused.submit({ ...sub, vmId: 'vm-2' });
    await paused.cancel(q.id, 'administrator@vsphere.local');
    expect(seen.filter((s) => s.id === q.id).map((s) => [s.before?.state, s.state])).toEqual([
      [undefined, 'queued'],
      ['queued', 'cancelled'],
    ]);
  });

  it('keeps running when an observer throws', async () => {
    const e = engine([{ migrationSaved: () => { throw new Error('observer broke'); } }, recorder]);
    await e.start();
    const t = await e.submit(sub);
    await e.idle();
    await e.stop();
    expect((await e.get(t.id))?.state).toBe('failed');
    expect(seen.at(-1)).toMatchObject({ id: t.id, state: 'failed' });
  });

  it('records the connector that starts a task, and the one that resumes it, on the stored task and its view', async () => {
    const a = engine([recorder], 'conn-a');
    await a.start();
    const t = await a.submit(sub);
    await a.idle();
    await a.stop();
    expect((await tasks.get(t.id))?.connectorId).toBe('conn-a');
    expect((await a.get(t.id))?.connectorId).toBe('conn-a');

    const at = new Date().toISOString();
    await tasks.insert({
      ...sub, vmId: 'vm-2', id: 'mig-resumed', seq: 0, idKind: 'import', state: 'running', phase: 'exporting', mode: 'cold', bucket: 'staging',
      prefix: 'vm2ec2/mig-resumed/', exportAttempts: 1, disks: [], createdAt: at, startedAt: at, updatedAt: at, connectorId: 'conn-a',
    });
    const b = engine([recorder], 'conn-b');
    await b.start();
    await b.idle();
    await b.stop();
    expect((await tasks.get('mig-resumed'))?.connectorId).toBe('conn-b');
  });
});
