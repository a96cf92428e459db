import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DescribeImportImageTasksCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_TAG } from '../../connector/engine/engine.ts';
import type { MigrationRecord, MigrationSubmission } from '../../connector/engine/types.ts';
import { PgStore } from '../../connector/store/index.ts';
import { PgMigrationTasks } from '../../connector/store/postgres/migration-tasks.ts';
import { pgConfigFromUrl } from '../../connector/store/postgres/url.ts';
import { freshDatabase } from '../support/postgres.ts';
import { startEngineLab, waitFor, type EngineLab } from './engine-helpers.ts';

// Issue 14: connectors of one vCenter share their tasks on PostgreSQL. Two connectors (child processes, so one can be
// SIGKILLed) run 30 migrations of tiny VMs: every task completes once, EC2 sees one import per task and never more
// active imports in the region than the account's limit, and the killed connector's running tasks finish on its peer
// after the lease.
const CHILD = join(import.meta.dirname, 'fleet-child.ts');
const VMS = 30;
const LEASE_MS = 3_000;
const VCENTER_ID = 'lab-vcenter';
/** The account's active-import limit, at EC2 and on each connector; below 5 so 8 running tasks always contend for it. */
const MAX_IMPORTS = 3;

let lab: EngineLab;
let store: PgStore;
let tasks: PgMigrationTasks;
let storeUrl: string;
const dirs: string[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  lab = await startEngineLab({
    startEngine: false,
    // Imports outlast the disk copies, so the 8 running tasks of two connectors want import slots at once.
    stageMs: 400,
    maxActiveImports: MAX_IMPORTS,
    vms: Array.from({ length: VMS }, (_, i) => ({ name: `fleet-${String(i).padStart(2, '0')}`, disks: [{ capacityMiB: 8, seed: i + 1 }] })),
  });
  storeUrl = await freshDatabase('fleet');
  store = PgStore.create(pgConfigFromUrl(storeUrl), { defaultRegion: 'us-east-1' });
  await store.open();
  tasks = new PgMigrationTasks(store.backend.db);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([...children].map((c) => stopChild(c)));
  await store?.close();
  await lab?.stop();
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fleet connector in a child process; resolves once it has submitted `submit` and is running. */
async function startChild(id: string, submit: MigrationSubmission[] = []): Promise<{ child: ChildProcess; ids: string[]; log: string[] }> {
  const dataDir = await mkdtemp(join(tmpdir(), `vm2ec2-${id}-`));
  dirs.push(dataDir);
  const config = {
    ...lab.configInput,
    dataDir,
    store: { url: storeUrl },
    fleet: { connectorId: id, heartbeatMs: 250, leaseMs: LEASE_MS },
    engine: { ...lab.configInput.engine, maxRunning: 4, maxImportsPerRegion: MAX_IMPORTS },
  };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, FLEET_CHILD: JSON.stringify({ config, sdkUrl: lab.vcsim.sdkUrl, caPem: lab.vcsim.certPem, ec2Url: lab.ec2.url, vcenterId: VCENTER_ID, fleetPollMs: 250, submit }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => log.push(l));
  const ids: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fleet child ${id} exited early (${code}): ${log.slice(-5).join(' | ')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: string; ready?: boolean };
      if (msg.id) ids.push(msg.id);
      if (msg.ready) resolve();
    });
  });
  return { child, ids, log };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

const all = async (): Promise<MigrationRecord[]> => tasks.byStates(['queued', 'running', 'cancelling', 'completed', 'failed', 'cancelled']);

describe('tasks shared by two connectors on PostgreSQL', { timeout: 300_000 }, () => {
  it('all complete once, the region limit holds at EC2, and a SIGKILLed connector\'s tasks finish on its peer', async () => {
    const names = [...lab.vmIds.keys()].filter((n) => n.startsWith('fleet-')).sort();
    expect(names).toHaveLength(VMS);
    const a = await startChild('conn-a', names.map((n) => lab.request(n)));
    const b = await startChild('conn-b');
    expect(a.ids).toHaveLength(VMS);

    // Killed while it runs tasks of its own and some are done.
    await waitFor(async () => {
      const ts = await all();
      return ts.filter((t) => t.state === 'running' && t.connectorId === 'conn-a').length >= 2 && ts.some((t) => t.state === 'completed');
    }, 'conn-a to run tasks');
    await stopChild(a.child, 'SIGKILL');
    // What it was running when it died (read after the kill: it may have finished one meanwhile).
    const owned = (await store.backend.db.query<{ id: string }>(`SELECT id FROM engine_tasks WHERE owner = 'conn-a' AND state IN ('running', 'cancelling')`)).rows.map((r) => r.id);
    expect(owned.length).toBeGreaterThan(0);
    const lastBeat = Date.parse((await store.backend.db.query<{ heartbeat_at: string }>(`SELECT heartbeat_at FROM connectors WHERE id = 'conn-a'`)).rows[0]!.heartbeat_at);

    // Every task conn-a was running moves to conn-b (owner swapped in the store): the first within two leases of its
    // last heartbeat, the others as conn-b's own tasks free its 4 slots (it never runs more than 4).
    const takenOver = async () => {
      const { rows } = await store.backend.db.query<{ id: string; owner: string; state: string }>(`SELECT id, owner, state FROM engine_tasks WHERE id = ANY($1::text[])`, [owned]);
      return rows;
    };
    const explain = async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await takenOver())}; conn-b said: ${b.log.slice(-20).join(' | ')}`);
    };
    await waitFor(async () => (await takenOver()).some((r) => r.owner === 'conn-b') || undefined, 'conn-b to take over one of conn-a\'s tasks', 60_000).catch(explain);
    const takeoverMs = Date.now() - lastBeat;
    expect(takeoverMs).toBeLessThan(2 * LEASE_MS + 2_000);
    await waitFor(async () => (await takenOver()).every((r) => r.owner === 'conn-b') || undefined, 'conn-b to take over all of conn-a\'s tasks', 60_000).catch(explain);

    const done = await waitFor(async () => {
      const ts = await all();
      return ts.every((t) => t.state === 'completed' || t.state === 'failed') ? ts : undefined;
    }, 'every migration to end', 240_000);
    // 0 lost, 0 failed: every submitted task completed, the ones conn-a was running by conn-b.
    expect(done.map((t) => t.id).sort()).toEqual([...a.ids].sort());
    expect(done.filter((t) => t.state !== 'completed').map((t) => `${t.id}: ${t.error}`)).toEqual([]);
    for (const id of owned) expect(done.find((t) => t.id === id)?.connectorId).toBe('conn-b');

    // 0 duplicates at EC2: one import and one instance per task.
    const imports = (await lab.ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(imports).toHaveLength(VMS);
    const instances = ((await lab.ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: [TASK_TAG] }] }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    const byTask = instances.map((i) => i.Tags?.find((t) => t.Key === TASK_TAG)?.Value);
    expect(byTask.sort()).toEqual([...a.ids].sort());
    // The region limit, as EC2 saw it: reached, never passed, and not one ImportImage refused for it (with each
    // connector counting only its own imports, two connectors ran up to twice the limit and EC2 refused the excess).
    expect(lab.ec2.emulator.importLoad.peakActive).toBe(MAX_IMPORTS);
    expect(lab.ec2.emulator.importLoad.limitRefusals).toBe(0);
    console.log(`fleet: ${VMS} migrations on 2 connectors, takeover ${takeoverMs} ms after the last heartbeat (lease ${LEASE_MS} ms), peak imports ${lab.ec2.emulator.importLoad.peakActive}`);
    await stopChild(b.child);
  });

  it('a peer whose every slot waits for import slots a killed connector holds hands one back, finishes the killed one\'s imports, and all complete', async () => {
    // conn-a takes all 3 of the region's import slots and its imports stay converting (held at EC2) while conn-b's 4
    // slots fill with migrations waiting for import capacity; then conn-a is killed. Its tasks are taken over only into
    // free slots, and conn-b has none: without handing a waiter back, every slot would wait for ever.
    const release = lab.ec2.emulator.holdImportAt({ match: () => true, stage: 'converting' });
    const names = [...lab.vmIds.keys()].filter((n) => n.startsWith('fleet-')).sort();
    const a = await startChild('conn-a', names.slice(0, MAX_IMPORTS).map((n) => lab.request(n)));
    const slotsOf = async (owner: string) =>
      (await store.backend.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region_slots s JOIN engine_tasks e ON e.id = s.task_id WHERE e.owner = $1`, [owner])).rows[0]!.n;
    await waitFor(async () => (await slotsOf('conn-a')) === MAX_IMPORTS || undefined, 'conn-a to hold every import slot', 60_000);
    const b = await startChild('conn-b', names.slice(MAX_IMPORTS, MAX_IMPORTS + 5).map((n) => lab.request(n)));
    // (conn-a, with a slot left, may take one of conn-b's submissions: it waits on conn-a like the others.)
    const waiting = async () => (await all()).filter((t) => t.connectorId === 'conn-b' && t.state === 'running' && t.importStatus === 'waiting for import capacity in the region');
    await waitFor(async () => (await waiting()).length === 4 || undefined, 'conn-b\'s 4 slots to wait for import capacity', 60_000).catch(async (err: Error) => {
      const mine = (await all()).filter((t) => b.ids.includes(t.id)).map((t) => `${t.id.slice(0, 8)} ${t.state}/${t.phase}/${t.importStatus ?? '-'}/${t.connectorId ?? '-'}`);
      throw new Error(`${err.message}: ${mine.join('; ')}; conn-b said: ${b.log.filter((l) => !l.includes('Recent Tasks')).slice(-10).join(' | ')}`);
    });
    const peak = new Map<string, number>();
    const sample = setInterval(() => {
      void store.backend.db
        .query<{ owner: string; n: number }>(`SELECT owner, count(*)::int AS n FROM engine_tasks WHERE kind = 'migration' AND state IN ('running', 'cancelling') AND owner IS NOT NULL GROUP BY owner`)
        .then(({ rows }) => rows.forEach((r) => peak.set(r.owner, Math.max(peak.get(r.owner) ?? 0, r.n))));
    }, 50);
    try {
      await stopChild(a.child, 'SIGKILL');
      release();
      const ids = [...a.ids, ...b.ids];
      const done = await waitFor(async () => {
        const ts = (await all()).filter((t) => ids.includes(t.id));
        return ts.length === ids.length && ts.every((t) => t.state === 'completed' || t.state === 'failed') ? ts : undefined;
      }, 'all 8 migrations to end', 180_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; conn-b said: ${b.log.filter((l) => !l.includes('Recent Tasks')).slice(-15).join(' | ')}`);
      });
      expect(done.filter((t) => t.state !== 'completed').map((t) => `${t.id}: ${t.error}`)).toEqual([]);
      for (const id of a.ids) expect(done.find((t) => t.id === id)?.connectorId).toBe('conn-b');
      expect(b.log.some((l) => l.includes('handed back to the fleet'))).toBe(true);
      expect(peak.get('conn-b')).toBe(4);
    } finally {
      clearInterval(sample);
      release();
    }
    // One import per task at EC2 (its client token), one instance each.
    const imports = ((await lab.ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? []).filter((i) => [...a.ids, ...b.ids].some((id) => i.Description?.includes(id)));
    expect(imports).toHaveLength(a.ids.length + b.ids.length);
    await stopChild(b.child);
  });
});
