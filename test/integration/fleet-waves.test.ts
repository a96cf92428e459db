import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImportImageTasksCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importRolePolicies, IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { registerPlugin } from '../../connector/cli/registration.ts';
import { API_PREFIX, Environment, Wave, type WaveCreateInput } from '../../connector/contract/index.ts';
import type { ConnectorConfigInput } from '../../connector/config.ts';
import { TASK_TAG } from '../../connector/engine/aws-launch.ts';
import type { MigrationRecord } from '../../connector/engine/types.ts';
import { Vim25Client } from '../../connector/vsphere/vim25.ts';
import { startEc2Emulator, type Ec2EmulatorHandle } from '../../lab/ec2/index.ts';
import { labAwsCredentials, labUsers, type LabUser } from '../../lab/index.ts';
import { startS3, type S3Handle } from '../../lab/s3/index.ts';
import { startVcsim, type LabVmSpec, type VcsimHandle } from '../../lab/vcsim/index.ts';
import { startVsphereClient, type VsphereClientHandle } from '../../lab/vsphere-client/index.ts';
import { authorizeImport, httpsJson, regionNetwork, type ApiUser } from '../support/api-lab.ts';
import { startFleetConnector, stopFleetConnector, type FleetConnector } from '../support/fleet-connector.ts';
import { freshDatabase } from '../support/postgres.ts';

// Issue 14's fleet test: 3 connectors (production's main.ts in child processes) on one PostgreSQL, 2 vCenters (two lab
// vcsims, each behind its vSphere Client stand-in), one AWS account (the EC2 emulator). Two connectors serve vCenter A,
// one serves vCenter B. 300 migrations of tiny VMs are created as 3 waves through the connectors' HTTPS API, as the
// portal does. Observed meanwhile: active imports at EC2 (the emulator refuses a sixth, and counts the peak), and
// migrations running per connector (sampled from the shared store). One connector of vCenter A is SIGKILLed mid-run:
// its running migrations finish on its peer; restarted, it takes new work and repeats none (one import and one
// instance per migration at EC2).
const REGION = 'us-east-1';
const PER_WAVE = 100;
const LEASE_MS = 3_000;
const MAX_RUNNING = 4;
const REGION_IMPORTS = 5;
/** Imports (several stages each) outlast the tiny disk copies, so the fleet's 12 running migrations contend for 5 slots. */
const STAGE_MS = 150;
const disk = (i: number) => [{ capacityMiB: 1, seed: i + 1 }];
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
const A_VMS = names('dc-a', 2 * PER_WAVE);
const B_VMS = names('dc-b', PER_WAVE);

interface Vcenter {
  vcsim: VcsimHandle;
  front: VsphereClientHandle;
  vmIds: Map<string, string>;
}

let users: LabUser[];
let storeUrl: string;
let db: pg.Client;
let s3: S3Handle;
let ec2: Ec2EmulatorHandle;
let ec2Client: EC2Client;
let vcA: Vcenter;
let vcB: Vcenter;
const connectors = new Map<string, FleetConnector>();
const dataDirs = new Map<string, string>();
const stops: (() => Promise<unknown>)[] = [];

async function startVcenter(vms: LabVmSpec[]): Promise<Vcenter> {
  const vcsim = await startVcsim({ vms });
  stops.push(() => vcsim.stop());
  const front = await startVsphereClient({ vcenter: { sdkUrl: vcsim.sdkUrl, certPem: vcsim.certPem, instanceUuid: vcsim.instanceUuid }, plugins: [] });
  stops.push(() => front.stop());
  const admin = users.find((u) => u.name === 'administrator@vsphere.local')!;
  const vim = await Vim25Client.connect({ sdkUrl: vcsim.sdkUrl, ca: vcsim.certPem });
  try {
    await vim.login(admin.name, admin.password);
    const vmIds = new Map((await vim.listVirtualMachines()).map((v) => [v.name, v.id]));
    await vim.logout();
    return { vcsim, front, vmIds };
  } finally {
    vim.close();
  }
}

function connectorConfig(id: string, vc: Vcenter, dataDir: string): ConnectorConfigInput & { dataDir: string } {
  const account = users.find((u) => u.name === 'administrator@vsphere.local')!;
  return {
    dataDir,
    store: { url: storeUrl },
    fleet: { connectorId: id, heartbeatMs: 250, leaseMs: LEASE_MS },
    vcenter: { url: vc.front.origin, caPem: vc.front.certPem },
    administrators: ['administrator@vsphere.local'],
    aws: { endpoint: ec2.url, ebsEndpoint: ec2.ebsUrl, kmsEndpoint: ec2.kmsUrl, regions: [REGION], credentials: labAwsCredentials() },
    engine: {
      s3Endpoint: s3.url,
      s3Credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      vcenterAccount: { userName: account.name, password: account.password },
      maxRunning: MAX_RUNNING,
      maxImportsPerRegion: REGION_IMPORTS,
      pollMs: 40,
      pollMaxMs: 200,
    },
    logging: { level: 'warn' },
  };
}

/** Starts (or restarts, same data directory and fleet id) a connector of `vc`. */
async function startConnector(id: string, vc: Vcenter): Promise<FleetConnector> {
  let dataDir = dataDirs.get(id);
  if (!dataDir) {
    dataDir = await mkdtemp(join(tmpdir(), `vm2ec2-${id}-`));
    dataDirs.set(id, dataDir);
  }
  const c = await startFleetConnector(connectorConfig(id, vc, dataDir));
  connectors.set(id, c);
  return c;
}

/** A lab user logged in at a vCenter's stand-in, calling one connector's API with the plugin session token. */
async function userAt(vc: Vcenter, c: FleetConnector, userName: string): Promise<ApiUser> {
  const user = users.find((u) => u.name === userName)!;
  const login = await httpsJson<{ pluginSessionToken?: string }>(`${vc.front.origin}/ui/api/login`, { ca: vc.front.certPem, method: 'POST', body: { username: user.name, password: user.password } });
  const token = login.body.pluginSessionToken;
  if (login.status !== 200 || !token) throw new Error(`login of ${userName}: HTTP ${login.status} ${JSON.stringify(login.body)}`);
  return {
    userName,
    token,
    call: (method, path, body) =>
      httpsJson(`${c.origin}${API_PREFIX}${path}`, { ca: c.certPem, method, headers: { 'vmware-api-session-id': token }, ...(body !== undefined ? { body } : {}) }),
  };
}

/** `fn` over `items`, `width` at a time. */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const v = await fn();
    if (v) return v;
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
}

const allTasks = async (): Promise<(MigrationRecord & { owner: string | null })[]> =>
  (await db.query<{ data: string; owner: string | null }>(`SELECT data, owner FROM engine_tasks WHERE kind = 'migration' ORDER BY seq`)).rows.map((r) => ({ ...(JSON.parse(r.data) as MigrationRecord), owner: r.owner }));

let setupMs = 0;
beforeAll(async () => {
  const t0 = Date.now();
  users = await labUsers();
  storeUrl = await freshDatabase('waves');
  db = new pg.Client({ connectionString: storeUrl });
  await db.connect();
  stops.push(() => db.end());
  // Two vCenters number their VMs alike (vm-NN in creation order), as real ones do: B's VMs share their ids with A's
  // first ones, and the store holds one active migration per (vCenter, VM) (schema step 0013).
  const spec = (name: string, i: number): LabVmSpec => ({ name, disks: disk(i) });
  [vcA, vcB] = await Promise.all([startVcenter(A_VMS.map(spec)), startVcenter(B_VMS.map((n, i) => spec(n, i + A_VMS.length)))]);
  const idsOfA = new Set(vcA.vmIds.values());
  expect([...vcB.vmIds.values()].filter((id) => idsOfA.has(id)).length).toBeGreaterThanOrEqual(B_VMS.length);
  s3 = await startS3();
  stops.push(() => s3.stop());
  ec2 = await startEc2Emulator({ s3: { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, stageMs: STAGE_MS, maxActiveImports: REGION_IMPORTS, regions: [REGION] });
  stops.push(() => ec2.stop());
  ec2Client = new EC2Client({ region: REGION, endpoint: ec2.url, credentials: labAwsCredentials() });
  stops.push(async () => ec2Client.destroy());
  const iam = new IAMClient({ region: REGION, endpoint: ec2.url, credentials: labAwsCredentials() });
  await iam.send(new PutRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(importRolePolicies().permissions) }));
  iam.destroy();

  // The first connector creates the schema; the others start together after it.
  const a1 = await startConnector('vc-a-1', vcA);
  const [, b1] = await Promise.all([startConnector('vc-a-2', vcA), startConnector('vc-b-1', vcB)]);
  // As `vm2ec2 register` does: the plug-in of each vCenter points at one of its connectors.
  for (const [vc, c] of [[vcA, a1], [vcB, b1]] as const) {
    const admin = users.find((u) => u.name === 'administrator@vsphere.local')!;
    const vim = await Vim25Client.connect({ sdkUrl: vc.vcsim.sdkUrl, ca: vc.vcsim.certPem });
    try {
      await vim.login(admin.name, admin.password);
      await registerPlugin(vim, { manifestUrl: `${c.origin}/vm2ec2/plugin-manifest.json`, version: '0.1.0', serverCertPem: c.certPem });
      await vim.logout();
    } finally {
      vim.close();
    }
  }
  setupMs = Date.now() - t0;
}, 300_000);

afterAll(async () => {
  await Promise.allSettled([...connectors.values()].map((c) => stopFleetConnector(c)));
  for (const s of stops.reverse()) await Promise.race([s().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
  await Promise.allSettled([...dataDirs.values()].map((d) => rm(d, { recursive: true, force: true })));
});

describe('a fleet of 3 connectors, 2 vCenters and one AWS account runs 300 migrations in 3 waves', { timeout: 900_000 }, () => {
  it('keeps the region and connector limits, completes each migration once, and survives a SIGKILLed connector', async () => {
    const began = Date.now();
    const a1 = connectors.get('vc-a-1')!;
    const a2 = connectors.get('vc-a-2')!;
    const b1 = connectors.get('vc-b-1')!;
    const adminA = await userAt(vcA, a1, 'administrator@vsphere.local');
    // Two /24 subnets (251 addresses each) for 300 instances: waves 1 and 2 launch into lab-app-a, wave 3 into lab-app-b.
    const network = await regionNetwork(adminA, REGION);
    const subnetOf = (name: string) => network.subnets.find((s) => s.name === name)!.id;
    const groupId = network.groups.find((g) => g.name === 'web')!.id;
    const envRes = await adminA.call('POST', '/environments', { name: 'Fleet waves', region: REGION, vpcId: network.vpcId, subnetIds: [subnetOf('lab-app-a'), subnetOf('lab-app-b')], securityGroupIds: [groupId] });
    expect(envRes.status, JSON.stringify(envRes.body)).toBe(201);
    const env = Environment.parse(envRes.body);
    const perms = await adminA.call('PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });
    expect(perms.status, JSON.stringify(perms.body)).toBe(200);

    // Per-connector load, as the shared store records who runs what (sampled every 100 ms for the whole run).
    const peakRunning = new Map<string, number>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await db.query<{ owner: string; n: number }>(
          `SELECT owner, count(*)::int AS n FROM engine_tasks WHERE kind = 'migration' AND state IN ('running', 'cancelling') AND owner IS NOT NULL GROUP BY owner`,
        );
        for (const r of rows) peakRunning.set(r.owner, Math.max(peakRunning.get(r.owner) ?? 0, r.n));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // The operator of each vCenter creates a wave through a connector of that vCenter: its own import authorization per
    // VM, then POST /waves, exactly as the portal's Begin migration does.
    const waveMs: number[] = [];
    const wave = async (vc: Vcenter, c: FleetConnector, name: string, vmNames: string[], priority: number, subnet: string): Promise<Wave> => {
      const t0 = Date.now();
      const operator = await userAt(vc, c, 'operator@vsphere.local');
      const vms = await pool(vmNames, 8, async (n) => {
        const vmId = vc.vmIds.get(n)!;
        return { vmId, token: await authorizeImport(operator, env.id, vmId) };
      });
      const body: WaveCreateInput = { name, priority, environmentId: env.id, platform: 'Linux', subnetId: subnetOf(subnet), instanceType: 'm5.large', securityGroupIds: [groupId], vms };
      const res = await operator.call('POST', '/waves', body);
      expect(res.status, JSON.stringify(res.body).slice(0, 2_000)).toBe(201);
      waveMs.push(Date.now() - t0);
      return Wave.parse(res.body);
    };
    const waves = [
      await wave(vcA, a1, 'Data centre A, wave 1', A_VMS.slice(0, PER_WAVE), 50, 'lab-app-a'),
      await wave(vcB, b1, 'Data centre B, wave 2', B_VMS, 50, 'lab-app-a'),
      // Created through vCenter A's stand-by connector: any connector of the vCenter serves its users.
      await wave(vcA, a2, 'Data centre A, wave 3', A_VMS.slice(PER_WAVE), 10, 'lab-app-b'),
    ];
    const created = Date.now();
    const taskIds = waves.flatMap((w) => w.taskIds);
    expect(taskIds).toHaveLength(3 * PER_WAVE);
    expect(new Set(taskIds).size).toBe(3 * PER_WAVE);

    // vc-a-1 is killed while it runs migrations of its own and the fleet has completed some.
    await waitFor('vc-a-1 to run migrations', 180_000, async () => {
      const { rows } = await db.query<{ mine: number; completed: number }>(
        `SELECT count(*) FILTER (WHERE state = 'running' AND owner = 'vc-a-1')::int AS mine, count(*) FILTER (WHERE state = 'completed')::int AS completed FROM engine_tasks WHERE kind = 'migration'`,
      );
      return rows[0]!.mine >= 2 && rows[0]!.completed >= 20;
    });
    await stopFleetConnector(a1, 'SIGKILL');
    const peakBeforeKill = new Map(peakRunning);
    const killedAt = Date.now();
    const owned = (await db.query<{ id: string }>(`SELECT id FROM engine_tasks WHERE owner = 'vc-a-1' AND state IN ('running', 'cancelling')`)).rows.map((r) => r.id);
    expect(owned.length).toBeGreaterThan(0);
    const lastBeat = Date.parse((await db.query<{ heartbeat_at: string }>(`SELECT heartbeat_at FROM connectors WHERE id = 'vc-a-1'`)).rows[0]!.heartbeat_at);
    const ownersOf = async (ids: string[]) => (await db.query<{ owner: string }>(`SELECT owner FROM engine_tasks WHERE id = ANY($1::text[])`, [ids])).rows.map((r) => r.owner);
    // vc-a-2 runs 4 of its own: it takes vc-a-1's over one free slot at a time, before any queued migration.
    await waitFor("vc-a-2 to take over one of vc-a-1's migrations", 60_000, async () => (await ownersOf(owned)).some((o) => o === 'vc-a-2'));
    const takeoverMs = Date.now() - lastBeat;
    expect(takeoverMs).toBeLessThan(2 * LEASE_MS + 2_000);
    await waitFor("vc-a-2 to take over all of vc-a-1's migrations", 120_000, async () => (await ownersOf(owned)).every((o) => o === 'vc-a-2'));
    const allTakenMs = Date.now() - lastBeat;

    // Restarted with its data directory and fleet id, it takes queued work again.
    const restartedAt = Date.now();
    const a1again = await startConnector('vc-a-1', vcA);
    const rejoinedMs = Date.now() - restartedAt;

    await waitFor('every migration to end', 600_000, async () => {
      const { rows } = await db.query<{ open: number }>(`SELECT count(*)::int AS open FROM engine_tasks WHERE kind = 'migration' AND state NOT IN ('completed', 'failed', 'cancelled')`);
      return rows[0]!.open === 0;
    });
    const done = await allTasks();
    const finished = Date.now();
    sampling = false;
    await sampler;
    const afterRestart = done.filter((t) => t.connectorId === 'vc-a-1' && Date.parse(t.startedAt ?? '') >= restartedAt);
    const load = ec2.emulator.importLoad;
    console.log(
      `fleet waves: set-up ${(setupMs / 1000).toFixed(1)} s; ${taskIds.length} migrations, waves created in ${((created - began) / 1000).toFixed(1)} s (${waveMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s each), all ended ${((finished - created) / 1000).toFixed(1)} s later; ` +
        `killed vc-a-1 ${((killedAt - created) / 1000).toFixed(1)} s in with ${owned.length} running, taken over ${takeoverMs} ms (the first) and ${allTakenMs} ms (all) after its last heartbeat (lease ${LEASE_MS} ms), ` +
        `restarted in ${rejoinedMs} ms and ran ${afterRestart.length} more; peak imports ${load.peakActive} (refused ${load.limitRefusals}), peak running per connector ${JSON.stringify(Object.fromEntries(peakRunning))} (before the kill ${JSON.stringify(Object.fromEntries(peakBeforeKill))}); ` +
        `ended: ${JSON.stringify(done.reduce<Record<string, number>>((m, t) => ({ ...m, [t.state]: (m[t.state] ?? 0) + 1 }), {}))}`,
    );

    // 0 lost: the store holds exactly the waves' 300 migrations, each completed.
    expect(done.map((t) => t.id).sort()).toEqual([...taskIds].sort());
    expect(done.filter((t) => t.state !== 'completed').map((t) => `${t.vmName}: ${t.state} ${t.error ?? ''}`)).toEqual([]);
    // Each ran on a connector of its own vCenter; vc-a-1's running ones finished on vc-a-2; the restarted vc-a-1 took new work.
    const byId = new Map(done.map((t) => [t.id, t]));
    for (const id of waves[1]!.taskIds) expect(byId.get(id)?.connectorId).toBe('vc-b-1');
    for (const id of [...waves[0]!.taskIds, ...waves[2]!.taskIds]) expect(['vc-a-1', 'vc-a-2']).toContain(byId.get(id)?.connectorId);
    for (const id of owned) expect(byId.get(id)?.connectorId).toBe('vc-a-2');
    expect(afterRestart.length).toBeGreaterThan(0);
    // The waves say so through the API.
    const operatorB = await userAt(vcB, b1, 'operator@vsphere.local');
    for (const w of waves) {
      const read = Wave.parse((await operatorB.call('GET', `/waves/${w.id}`)).body);
      expect(read).toMatchObject({ state: 'completed', counts: { completed: PER_WAVE, failed: 0, queued: 0, running: 0 } });
    }

    // 0 duplicates at EC2: one import and one instance per migration, killed connector and restart included.
    const imports = (await ec2Client.send(new DescribeImportImageTasksCommand({}))).ImportImageTasks ?? [];
    expect(imports).toHaveLength(3 * PER_WAVE);
    const instances = ((await ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag-key', Values: [TASK_TAG] }] }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances.map((i) => i.Tags?.find((t) => t.Key === TASK_TAG)?.Value).sort()).toEqual([...taskIds].sort());

    // The limits: at EC2, never more than 5 active imports in the region and not one ImportImage refused for it; in the
    // store, never more than 4 migrations running on any connector.
    expect(load.peakActive).toBeLessThanOrEqual(REGION_IMPORTS);
    expect(load.limitRefusals).toBe(0);
    expect([...peakRunning.keys()].sort()).toEqual(['vc-a-1', 'vc-a-2', 'vc-b-1']);
    for (const [owner, n] of peakBeforeKill) expect(n, `peak running on ${owner} before the kill`).toBeLessThanOrEqual(MAX_RUNNING);
    // Including the takeover: vc-a-2 resumed vc-a-1's migrations only into free slots.
    for (const [owner, n] of peakRunning) expect(n, `peak running on ${owner}`).toBeLessThanOrEqual(MAX_RUNNING);

    await Promise.all([a1again, a2, b1].map((c) => stopFleetConnector(c)));
  });
});
