import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { MigrationEngine } from '../../connector/engine/engine.ts';
import { SqliteConnectorRegistry } from '../../connector/fleet/registry.ts';
import { SqliteMigrationTasks } from '../../connector/store/sqlite/migration-tasks.ts';
import { VcenterNetworkError } from '../../connector/vsphere/soap-transport.ts';

// Two engines of a fleet on one store: a cancel asked on the connector that does not run the task is recorded for its
// owner, which carries it out; the asking connector never writes the task itself (its copy is older than the owner's).
const AWS = { region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const sub = {
  environmentId: 'env-a', region: 'us-east-1', vmId: 'vm-1', vmName: 'web-01', platform: 'Linux' as const, subnetId: 'subnet-1',
  instanceType: 'm5.large', securityGroupIds: ['sg-1'], requestedBy: 'operator@vsphere.local',
};

describe('a cancel asked on a peer', () => {
  let dir: string;
  const open: { close(): Promise<void> }[] = [];
  const clients: { destroy(): void }[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vm2ec2-fleet-engine-'));
  });
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    for (const c of clients.splice(0)) c.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function engine(id: string, more: { maxRunning?: number; leaseMs?: number } = {}): Promise<{ engine: MigrationEngine; tasks: SqliteMigrationTasks; registry: SqliteConnectorRegistry }> {
    const tasks = new SqliteMigrationTasks(join(dir, 'connector.sqlite'));
    // Alive in the fleet's list (a connector heartbeats before its engine starts): its tasks are not a peer's to take.
    const registry = new SqliteConnectorRegistry(join(dir, 'connector.sqlite'), 30_000);
    await registry.heartbeat({ id, vcenterId: 'vc-1', version: 'test', host: 'h', timeZone: 'UTC', startedAt: new Date().toISOString() }, new Date());
    open.push(registry);
    const ec2 = new EC2Client(AWS);
    const s3 = new S3Client(AWS);
    clients.push(ec2, s3);
    const e = new MigrationEngine({
      connectorId: async () => id,
      vcenterId: () => 'vc-1',
      tasks,
      // vCenter does not answer: the export step keeps retrying, so the task stays running until it is cancelled.
      openVcenter: () => Promise.reject(new VcenterNetworkError('connect ECONNREFUSED', 'https://vc/sdk', 'ECONNREFUSED')),
      vcenterConnectAttempts: 1_000,
      retryDelayMs: 50,
      retryMaxDelayMs: 50,
      ec2: () => ec2,
      s3: () => s3,
      stagingBucket: () => 'staging',
      pollMs: 1,
      pollMaxMs: 1,
      fleetPollMs: 50,
      ...more,
    });
    open.push({ close: () => e.stop() }, tasks);
    return { engine: e, tasks, registry };
  }

  it('is carried out by the connector running the task, in its name', async () => {
    const a = await engine('conn-a');
    const b = await engine('conn-b');
    await a.engine.start();
    const t = await a.engine.submit(sub);
    for (let i = 0; i < 200 && (await a.tasks.get(t.id))?.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
    await b.engine.start();
    // conn-b answers at once that the cancel is under way, but writes nothing of the task.
    const answer = await b.engine.cancel(t.id, 'administrator@vsphere.local');
    expect(answer).toMatchObject({ state: 'cancelling', connectorId: 'conn-a' });
    expect(await a.tasks.cancelRequests('conn-a')).toEqual([expect.objectContaining({ id: t.id, by: 'administrator@vsphere.local' })]);
    let stored = await a.tasks.get(t.id);
    for (let i = 0; i < 500 && stored?.state !== 'cancelled'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      stored = await a.tasks.get(t.id);
    }
    expect(stored).toMatchObject({ state: 'cancelled', cancelledBy: 'administrator@vsphere.local', connectorId: 'conn-a' });
    expect(await a.tasks.cancelRequests('conn-a')).toEqual([]);
  });

  it('a lost peer\'s running tasks are taken over only into free slots, before queued work', async () => {
    const lease = { maxRunning: 2, leaseMs: 30_000 };
    const wait = async (what: string, ok: () => Promise<boolean>) => {
      for (let i = 0; i < 500; i++) {
        if (await ok()) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    const a = await engine('conn-a', lease);
    const b = await engine('conn-b', lease);
    await a.engine.start();
    const onA = [await a.engine.submit({ ...sub, vmId: 'vm-a1' }), await a.engine.submit({ ...sub, vmId: 'vm-a2' })];
    await wait('conn-a to run its two', async () => (await a.tasks.byStates(['running'])).filter((t) => t.connectorId === 'conn-a').length === 2);
    await b.engine.start();
    const onB = [await b.engine.submit({ ...sub, vmId: 'vm-b1' }), await b.engine.submit({ ...sub, vmId: 'vm-b2' })];
    const queued = await b.engine.submit({ ...sub, vmId: 'vm-b3' });
    await wait('conn-b to run its two', async () => (await b.tasks.byStates(['running'])).filter((t) => t.connectorId === 'conn-b').length === 2);

    // conn-a stops without a word (its tasks stay running in the store) and its heartbeat goes stale.
    await a.engine.stop();
    await a.registry.heartbeat({ id: 'conn-a', vcenterId: 'vc-1', version: 'test', host: 'h', timeZone: 'UTC', startedAt: new Date().toISOString() }, new Date(Date.now() - 60_000));
    const ownerOf = async (id: string) => (await b.tasks.get(id))?.connectorId;
    const runningOnB = async () => (await b.tasks.byStates(['running', 'cancelling'])).filter((t) => t.connectorId === 'conn-b').length;
    let peak = 0;
    const watch = setInterval(() => void runningOnB().then((n) => (peak = Math.max(peak, n))), 5);
    try {
      // Full (2 of 2): 20 fleet polls later it has taken nothing over.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await Promise.all(onA.map((t) => ownerOf(t.id)))).toEqual(['conn-a', 'conn-a']);
      expect((await b.tasks.get(queued.id))?.state).toBe('queued');

      // One slot frees: the older of conn-a's tasks takes it, not the queued one.
      await b.engine.cancel(onB[0]!.id, 'administrator@vsphere.local');
      await wait('conn-b to take over conn-a\'s first', async () => (await ownerOf(onA[0]!.id)) === 'conn-b');
      await new Promise((r) => setTimeout(r, 300));
      expect(await ownerOf(onA[1]!.id)).toBe('conn-a');
      expect((await b.tasks.get(queued.id))?.state).toBe('queued');
      // The next free slot: the other one, and only then the queued task.
      await b.engine.cancel(onB[1]!.id, 'administrator@vsphere.local');
      await wait('conn-b to take over conn-a\'s second', async () => (await ownerOf(onA[1]!.id)) === 'conn-b');
      await b.engine.cancel(onA[0]!.id, 'administrator@vsphere.local');
      await wait('the queued task to start', async () => (await b.tasks.get(queued.id))?.state === 'running');
      expect(await b.tasks.get(onA[1]!.id)).toMatchObject({ state: 'running', connectorId: 'conn-b' });
    } finally {
      clearInterval(watch);
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2);
  });
});
