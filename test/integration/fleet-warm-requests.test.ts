// Warm actions asked on a connector of a fleet that does not run the task (issue 14): Launch test instance, Finish test
// and Cut over are recorded in the shared store and carried out by the task's owner at its next poll, exactly once,
// on SQLite and on a real PostgreSQL. Three engines share one store; EC2 is the lab emulator (test instances from EBS
// snapshots), vCenter does not answer (the cutover then waits on it).
import { randomUUID } from 'node:crypto';
import { DescribeImportImageTasksCommand, DescribeInstancesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CompleteSnapshotCommand, EBSClient, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationEngine, TASK_TAG } from '../../connector/engine/engine.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { PgConnectorRegistry, SqliteConnectorRegistry } from '../../connector/fleet/registry.ts';
import { migrationTasksOn } from '../../connector/store/task-repositories.ts';
import type { Store } from '../../connector/store/types.ts';
import { VcenterNetworkError } from '../../connector/vsphere/soap-transport.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { BACKENDS, closeAll } from '../support/backends.ts';

const REGION = 'us-east-1';
const creds = { accessKeyId: 'lab', secretAccessKey: 'lab' };
const USER = 'tester@vsphere.local';

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(BACKENDS)('warm actions asked on a connector that does not run the task ($name)', (backend) => {
  let stores: Store[] = [];
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    await closeAll(stores.splice(0));
  });

  async function fleet() {
    const ec2Lab: Ec2EmulatorHandle = await startEc2Emulator({ s3: { endpoint: 'http://127.0.0.1:9', ...creds }, stageMs: 20 });
    cleanup.push(() => ec2Lab.stop());
    const ec2 = new EC2Client({ region: REGION, endpoint: ec2Lab.url, credentials: creds });
    const ebs = new EBSClient({ region: REGION, endpoint: ec2Lab.ebsUrl, credentials: creds });
    const s3 = new S3Client({ region: REGION, endpoint: 'http://127.0.0.1:9', credentials: creds });
    cleanup.push(async () => [ec2, ebs, s3].forEach((c) => c.destroy()));
    stores = await backend.openStores(3);
    for (const s of stores) await s.environments.list(); // the schema steps run on first use
    const engines = await Promise.all(
      ['conn-a', 'conn-b', 'conn-c'].map(async (id, i) => {
        const store = stores[i]!;
        const tasks = migrationTasksOn(store.backend);
        // Alive in the fleet's list: a connector heartbeats before its engine starts, so its tasks are not a peer's to take.
        const registry = store.backend.kind === 'postgres' ? new PgConnectorRegistry(store.backend.db, 60_000) : new SqliteConnectorRegistry(store.backend.file, 60_000);
        await registry.heartbeat({ id, vcenterId: 'vc-1', version: 'test', host: 'h', timeZone: 'UTC', startedAt: new Date().toISOString() }, new Date());
        const engine = new MigrationEngine({
          connectorId: async () => id,
          vcenterId: () => 'vc-1',
          tasks,
          openVcenter: () => Promise.reject(new VcenterNetworkError('connect ECONNREFUSED', 'https://vc/sdk', 'ECONNREFUSED')),
          vcenterConnectAttempts: 1_000,
          retryDelayMs: 50,
          retryMaxDelayMs: 50,
          ec2: () => ec2,
          s3: () => s3,
          stagingBucket: () => 'staging',
          pollMs: 10,
          pollMaxMs: 40,
          fleetPollMs: 50,
        });
        cleanup.push(async () => {
          await engine.stop();
          await tasks.close();
          await registry.close();
        });
        return { id, engine, tasks };
      }),
    );
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: randomUUID() }));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 0 }));
    const subnetId = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets![0]!.SubnetId!;
    return { engines, ec2, snapshotId: SnapshotId!, subnetId };
  }

  /** A warm migration conn-a runs, replicating between cycles (its next cycle an hour away), one cycle done. */
  function replicating(snapshotId: string, subnetId: string): MigrationRecord {
    const now = new Date().toISOString();
    const id = `mig-${randomUUID()}`;
    return {
      id, seq: 0, idKind: 'import', state: 'running', phase: 'replicating', mode: 'warm', connectorId: 'conn-a', vcenterId: 'vc-1',
      environmentId: 'env-a', region: REGION, vmId: 'vm-42', vmName: 'db-01', platform: 'Linux', subnetId, instanceType: 'm5.large',
      securityGroupIds: [], requestedBy: 'operator@vsphere.local', bucket: 'staging', prefix: `vm2ec2/${id}/`, exportAttempts: 0, disks: [],
      createdAt: now, updatedAt: now, startedAt: now,
      warm: {
        intervalMinutes: 60, shutdown: 'user', cycles: 1, supersededSnapshots: [], lastSyncAt: now, nextCycleAt: new Date(Date.now() + 3_600_000).toISOString(),
        disks: [{ deviceKey: 2000, label: 'Hard disk 1', capacityBytes: 1024 ** 3, changeId: '52 1/1', ebsSnapshotId: snapshotId }],
      },
    } as MigrationRecord;
  }

  it('the owner carries each out once: duplicates asked at once on two peers launch one test instance; finish and cut over follow', async () => {
    const { engines, ec2, snapshotId, subnetId } = await fleet();
    const [a, b, c] = engines as [(typeof engines)[0], (typeof engines)[0], (typeof engines)[0]];
    const task = await a.tasks.insert(replicating(snapshotId, subnetId));
    for (const e of engines) await e.engine.start();
    const stored = async () => (await a.tasks.get(task.id))!;

    // Five Launch test instance requests at once on the two connectors that do not run the task: one is recorded.
    const asked = await Promise.allSettled([b, b, b, c, c].map((e) => e.engine.launchTest(task.id, { subnetId }, USER)));
    const granted = asked.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({ connectorId: 'conn-a', warm: { test: { state: 'launching' } } });
    for (const r of asked) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ statusCode: 409, code: 'WARM_ACTION_NOT_AVAILABLE' });
    }

    const running = await until('the test instance running', async () => {
      const t = await stored();
      if (t.warm?.test?.state === 'failed') throw new Error(`the test failed: ${t.warm.test.error}`);
      return t.warm?.test?.state === 'running' && t;
    });
    expect(running).toMatchObject({ connectorId: 'conn-a', warm: { test: { requestedBy: USER, subnetId } } });
    expect(await a.tasks.warmRequests('conn-a')).toEqual([]);
    const mine = [{ Name: `tag:${TASK_TAG}`, Values: [task.id] }];
    const instances = ((await ec2.send(new DescribeInstancesCommand({ Filters: mine }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances.map((i) => i.InstanceId)).toEqual([running.warm!.test!.instanceId]);
    expect((await ec2.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks).toHaveLength(1);

    // Asked again on a peer now that the test runs: refused there at once, as on the owner.
    await expect(c.engine.launchTest(task.id, { subnetId }, USER)).rejects.toMatchObject({ statusCode: 409, code: 'WARM_ACTION_NOT_AVAILABLE' });

    // Finish test on a peer: the owner terminates the test instance and clears the test.
    expect(await c.engine.finishTest(task.id, USER)).toMatchObject({ warm: { test: { state: 'finishing' } } });
    await until('the test finished', async () => !(await stored()).warm?.test);
    const after = ((await ec2.send(new DescribeInstancesCommand({ Filters: mine }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(after.map((i) => i.State?.Name)).toEqual([expect.stringMatching(/shutting-down|terminated/)]);

    // Cut over on a peer (twice at once): the owner records one cutover, in the requester's name, and starts it.
    const cut = await Promise.allSettled([b.engine.cutover(task.id, USER), c.engine.cutover(task.id, 'other@vsphere.local')]);
    expect(cut.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const by = (cut.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ warm?: { cutover?: { requestedBy: string } } }>).value.warm?.cutover?.requestedBy;
    const cutting = await until('the cutover', async () => {
      const t = await stored();
      return t.warm?.cutover && t;
    });
    expect(cutting).toMatchObject({ connectorId: 'conn-a', warm: { cutover: { requestedBy: by } } });
    // The owner clears the request once the cutover it started is stored (a moment after the write seen above).
    await until('the cutover request cleared', async () => (await a.tasks.warmRequests('conn-a')).length === 0);
    expect(await a.tasks.warmRequests('conn-a')).toEqual([]);
  }, 90_000);
});
