// Benchmark 2: 200 portal tabs polling the migrations list of one environment and single tasks, 10,000 tasks in the
// store, against a bare Fastify route serving same-sized static JSON in the same run.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Environment, SecurityGroupList, SubnetList, VpcList } from '../connector/contract/index.ts';
import { SqliteMigrationTasks } from '../connector/store/sqlite/migration-tasks.ts';
import type { SessionStats } from '../connector/vcenter/gateway.ts';
import type { MigrationRecord } from '../connector/engine/types.ts';
import { generateSelfSigned } from '../connector/tls.ts';
import { startBenchLab } from './lab.ts';
import { createInterface } from 'node:readline';
import type { LoadConfig, LoadResult, LoadTarget } from './load-client.ts';

export interface ApiPollingOptions {
  tasks: number;
  clients: number;
  /** Distinct vSphere Client logins the clients share (tabs of one login share its token). */
  logins: number;
  durationMs: number;
  warmupMs: number;
  /**
   * Saturation is measured with the connector and the bare route alternating in phases of this length (ms) until each
   * had durationMs, so load from other work on a shared machine, which comes and goes, falls on both alike.
   * Absent: one run per server.
   */
  phaseMs?: number;
}

/** A load run with the CPU the serving process spent on it. */
export interface ServedLoad extends LoadResult {
  /**
   * CPU time (user + system) of the serving process per answered request, warm-up included, in µs. Unlike requests/s
   * it hardly moves when other work shares the cores, so it compares runs made at different loads.
   */
  cpuUsPerRequest: number;
  /** CPU time (µs) of the serving process over the run. */
  cpuUs: number;
}

export interface ApiPollingResult {
  opts: ApiPollingOptions;
  connector: ServedLoad;
  bare: ServedLoad;
  /** The same tabs at the portal's own pace: a list and a task every `pacedIntervalMs` per tab. */
  connectorPaced: ServedLoad;
  barePaced: ServedLoad;
  pacedIntervalMs: number;
  listBytes: number;
  taskBytes: number;
  insertSeconds: number;
  /** Length of the alternating saturation phases (see ApiPollingOptions.phaseMs). */
  phaseMs?: number;
  /** The machine's 1/5/15-minute load average when the runs began and ended (others' work shows here). */
  loadAverage?: { before: string; after: string };
  /** The session liveness check in the measured path: vCenter round trips per token per liveness interval. */
  liveness: { livenessMs: number; saturation: LivenessUse; paced: LivenessUse };
}

/** vCenter round trips the connector made for plugin sessions during one load run (warm-up included). */
export interface LivenessUse {
  tokens: number;
  windowMs: number;
  /** Clone-ticket requests made to check that the users' sessions are alive. */
  checks: number;
  /** Sessions cloned (none expected: every token was cloned before the run). */
  clones: number;
  /** (checks + clones) / tokens / (windowMs / livenessMs): at most 1 by design (plus one at a window edge). */
  perTokenPerInterval: number;
}

/**
 * Liveness interval in the benchmark: shorter than the 30 s default so every token is re-checked several times
 * inside the measured window (the cost measured is then an upper bound for the default).
 */
export const BENCH_LIVENESS_MS = 5_000;

/** Runs the load generator against a server in this process, and measures this process's CPU meanwhile. */
async function runLoad(cfg: LoadConfig): Promise<ServedLoad> {
  const cpu = process.cpuUsage();
  const result = await loadChild(cfg);
  const used = process.cpuUsage(cpu);
  const cpuUs = used.user + used.system;
  return { ...result, cpuUs, cpuUsPerRequest: cpuUs / Math.max(1, result.answered) };
}

/** Runs bench/load-client.ts; `onPhase` hears its PHASE lines as they come. */
function loadChild(cfg: LoadConfig, onPhase?: (phase: string) => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'load-client.ts'), '--stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(JSON.stringify(cfg));
    let last = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('PHASE ')) onPhase?.(line.slice('PHASE '.length));
      else last = line;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(last) as LoadResult) : reject(new Error(`load client exited with ${code}`))));
  });
}

/**
 * Saturation against two servers of this process in alternating phases (load-client.ts `alternate`), with this
 * process's CPU time attributed to the server whose phase it was.
 */
async function runAlternating(a: LoadTarget, b: LoadTarget, warmupMs: number, durationMs: number, phaseMs: number): Promise<[ServedLoad, ServedLoad]> {
  const cpuUs = [0, 0];
  let current: number | undefined;
  let mark = process.cpuUsage();
  const result = await loadChild({ ...a, warmupMs, durationMs, alternate: { other: b, phaseMs } }, (phase) => {
    const used = process.cpuUsage(mark);
    mark = process.cpuUsage();
    if (current !== undefined) cpuUs[current]! += used.user + used.system;
    current = phase === 'END' ? undefined : Number(phase);
  });
  const { other, ...first } = result;
  if (!other) throw new Error('the load client did not alternate');
  const served = (r: LoadResult, us: number): ServedLoad => ({ ...r, cpuUs: us, cpuUsPerRequest: us / Math.max(1, r.answered) });
  return [served(first, cpuUs[0]!), served(other, cpuUs[1]!)];
}

function record(i: number, environmentId: string, vmId: string): MigrationRecord {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  return {
    id: `mig-${String(i).padStart(8, '0')}-bench`,
    seq: 0,
    idKind: 'import',
    state: i % 10 === 0 ? 'failed' : 'completed',
    phase: 'done',
    environmentId,
    region: 'us-east-1',
    vmId,
    vmName: `bench-vm-${i}`,
    platform: 'Linux',
    subnetId: 'subnet-0123456789abcdef0',
    instanceType: 'm5.large',
    securityGroupIds: ['sg-0123456789abcdef0'],
    requestedBy: 'operator@vsphere.local',
    bucket: 'vm2ec2-staging-us-east-1',
    prefix: `migrations/${i}/`,
    exportAttempts: 1,
    disks: [
      {
        key: '/vm-42/VirtualLsiLogicController0:0',
        capacityBytes: 1_073_741_824,
        expectedBytes: 1_084_479_242,
        bytesUploaded: 1_084_479_242,
        throughputBps: 90_000_000,
        done: true,
        url: 'https://esx.invalid/nfc/disk-0.vmdk',
        s3Key: `migrations/${i}/disk-0.vmdk`,
      },
    ],
    importTaskId: `import-ami-${i.toString(16).padStart(17, '0')}`,
    importStatus: 'completed',
    imageId: `ami-${i.toString(16).padStart(17, '0')}`,
    instanceId: `i-${i.toString(16).padStart(17, '0')}`,
    ...(i % 10 === 0 ? { error: 'EC2 import failed: ClientError: Disk validation failed [Unsupported VMDK File Format]' } : {}),
    createdAt: at,
    startedAt: at,
    updatedAt: at,
    finishedAt: at,
  };
}

/** The portal's refetchInterval while a migration is active (ui/features/portal/portal.queries.ts). */
export const PORTAL_POLL_MS = 3000;

export async function benchApiPolling(opts: ApiPollingOptions, log: (line: string) => void): Promise<ApiPollingResult> {
  // The limit stays in the request path (its cost is measured) but is set above what a benchmark can send.
  const lab = await startBenchLab({ limits: { maxRequests: 1_000_000_000, windowMs: 10_000 }, sessions: { livenessMs: BENCH_LIVENESS_MS } });
  const stats = () => lab.connector.app.vcenterSessionStats();
  /** Runs one load and counts the liveness round trips it caused. */
  const liveness = (before: SessionStats, after: SessionStats, tokens: number, windowMs: number): LivenessUse => {
    const checks = after.livenessChecks - before.livenessChecks;
    const clones = after.clones - before.clones;
    return { tokens, windowMs, checks, clones, perTokenPerInterval: (checks + clones) / tokens / (windowMs / BENCH_LIVENESS_MS) };
  };
  const measured = async (cfg: LoadConfig): Promise<[ServedLoad, LivenessUse]> => {
    const before = stats();
    const result = await runLoad(cfg);
    return [result, liveness(before, stats(), new Set(cfg.clients.map((c) => c.token)).size, cfg.warmupMs + cfg.durationMs)];
  };
  try {
    const admin = await lab.login('administrator@vsphere.local');
    const vpcId = VpcList.parse((await lab.call(admin, 'GET', '/regions/us-east-1/vpcs')).body).vpcs[0]!.id;
    const subnetId = SubnetList.parse((await lab.call(admin, 'GET', `/regions/us-east-1/subnets?vpcId=${vpcId}`)).body).subnets[0]!.id;
    const groupId = SecurityGroupList.parse((await lab.call(admin, 'GET', `/regions/us-east-1/security-groups?vpcId=${vpcId}`)).body).securityGroups[0]!.id;
    const env = Environment.parse(
      (await lab.call(admin, 'POST', '/environments', { name: 'Bench', description: 'polling load', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId], instanceTypes: ['m5.large'] })).body,
    );
    await lab.call(admin, 'PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: 'operator@vsphere.local', role: 'General' }] });

    // Through the engine's own repository, on the connector's database file.
    const t0 = performance.now();
    const repo = new SqliteMigrationTasks(join(lab.dataDir, 'connector.sqlite'));
    const ids: string[] = [];
    for (let i = 0; i < opts.tasks; i++) ids.push((await repo.insert(record(i, env.id, `vm-${i % 50}`))).id);
    await repo.close();
    const insertSeconds = (performance.now() - t0) / 1000;
    log(`  ${opts.tasks} tasks inserted in ${insertSeconds.toFixed(1)} s`);

    const listPath = `/vm2ec2/api/v1/migrations?environmentId=${env.id}`;
    const tokens: string[] = [];
    for (let i = 0; i < opts.logins; i++) tokens.push(await lab.login(i % 2 === 0 ? 'operator@vsphere.local' : 'administrator@vsphere.local'));
    // Each tab has used its login before (the clone exists): the runs measure steady polling, liveness checks included.
    for (const t of tokens) await lab.call(t, 'GET', '/me');
    const listRes = await lab.call<{ total: number }>(tokens[0]!, 'GET', `/migrations?environmentId=${env.id}`);
    if (listRes.status !== 200 || listRes.body.total !== opts.tasks) throw new Error(`migrations list answered HTTP ${listRes.status} with ${JSON.stringify(listRes.body).slice(0, 200)}`);
    const taskRes = await lab.call(tokens[0]!, 'GET', `/migrations/${ids[0]!}`);
    const listJson = JSON.stringify(listRes.body);
    const taskJson = JSON.stringify(taskRes.body);

    // Each tab alternates: the list of the environment, then one task.
    const clients = Array.from({ length: opts.clients }, (_, c) => ({
      token: tokens[c % tokens.length]!,
      paths: Array.from({ length: 20 }, (_, k) => (k % 2 === 0 ? listPath : `/vm2ec2/api/v1/migrations/${ids[(c * 37 + k * 101) % ids.length]!}`)),
    }));
    // The bare baseline: same TLS, same response sizes, nothing behind the route.
    const tls = await generateSelfSigned(['127.0.0.1']);
    const bare = Fastify({ https: { cert: tls.certPem, key: tls.keyPem } });
    bare.get('/list', async (_req, reply) => reply.type('application/json').send(listJson));
    bare.get('/task', async (_req, reply) => reply.type('application/json').send(taskJson));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const addr = bare.server.address();
    const origin = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const bareClients = clients.map((c) => ({ token: c.token, paths: c.paths.map((p) => (p === listPath ? '/list' : '/task')) }));
    const loadBefore = loadAverage();
    const toConnector = { origin: lab.connector.origin, ca: lab.connector.certPem, clients };
    const toBare = { origin, ca: tls.certPem, clients: bareClients };
    let connector: ServedLoad;
    let bareResult: ServedLoad;
    let connectorPaced: ServedLoad;
    let barePaced: ServedLoad;
    let saturationLiveness: LivenessUse;
    let pacedLiveness: LivenessUse;
    try {
      if (opts.phaseMs) {
        log(`  ${opts.clients} clients, connector and bare Fastify alternating every ${opts.phaseMs / 1000} s until each had ${opts.durationMs / 1000} s`);
        const before = stats();
        const t0 = performance.now();
        [connector, bareResult] = await runAlternating(toConnector, toBare, opts.warmupMs, opts.durationMs, opts.phaseMs);
        saturationLiveness = liveness(before, stats(), new Set(clients.map((c) => c.token)).size, performance.now() - t0);
      } else {
        log(`  connector: ${opts.clients} clients for ${opts.durationMs / 1000} s`);
        [connector, saturationLiveness] = await measured({ ...toConnector, warmupMs: opts.warmupMs, durationMs: opts.durationMs });
        log(`  bare Fastify: ${opts.clients} clients for ${opts.durationMs / 1000} s`);
        bareResult = await runLoad({ ...toBare, warmupMs: opts.warmupMs, durationMs: opts.durationMs });
      }
      log(`    connector ${(connector.requests / connector.seconds).toFixed(0)}/s, bare ${(bareResult.requests / bareResult.seconds).toFixed(0)}/s; CPU per request ${connector.cpuUsPerRequest.toFixed(0)} against ${bareResult.cpuUsPerRequest.toFixed(0)} µs`);
      log(`  liveness at saturation: ${describeLiveness(saturationLiveness)}`);

      const pacing = { intervalMs: PORTAL_POLL_MS, perTick: 2 };
      log(`  connector: ${opts.clients} tabs polling every ${PORTAL_POLL_MS / 1000} s for ${opts.durationMs / 1000} s`);
      [connectorPaced, pacedLiveness] = await measured({ ...toConnector, warmupMs: PORTAL_POLL_MS, durationMs: opts.durationMs, pacing });
      log(`  liveness at the portal's pace: ${describeLiveness(pacedLiveness)}`);
      log(`  bare Fastify: ${opts.clients} tabs polling every ${PORTAL_POLL_MS / 1000} s for ${opts.durationMs / 1000} s`);
      barePaced = await runLoad({ ...toBare, warmupMs: PORTAL_POLL_MS, durationMs: opts.durationMs, pacing });
    } finally {
      await bare.close();
    }
    return {
      opts,
      connector,
      bare: bareResult,
      connectorPaced,
      barePaced,
      pacedIntervalMs: PORTAL_POLL_MS,
      listBytes: Buffer.byteLength(listJson),
      taskBytes: Buffer.byteLength(taskJson),
      insertSeconds,
      ...(opts.phaseMs ? { phaseMs: opts.phaseMs } : {}),
      loadAverage: { before: loadBefore, after: loadAverage() },
      liveness: { livenessMs: BENCH_LIVENESS_MS, saturation: saturationLiveness, paced: pacedLiveness },
    };
  } finally {
    await lab.stop();
  }
}

const loadAverage = () => loadavg().map((n) => n.toFixed(2)).join(' / ');

function describeLiveness(l: LivenessUse): string {
  return `${l.checks} liveness checks and ${l.clones} clones for ${l.tokens} tokens in ${(l.windowMs / 1000).toFixed(0)} s (interval ${BENCH_LIVENESS_MS / 1000} s): ${l.perTokenPerInterval.toFixed(2)} vCenter round trips per token per interval`;
}
