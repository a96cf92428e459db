// Load generator, run as a child process so it does not share the connector's event loop.
// Hand-written instead of autocannon: each of the 200 clients carries its own session token and walks its own path
// list over HTTPS with a private CA; a 40-line loop does that without 25 transitive dependencies.
import { Agent, request } from 'node:https';

export interface LoadConfig {
  origin: string;
  ca: string;
  clients: { token: string; paths: string[] }[];
  warmupMs: number;
  durationMs: number;
  /**
   * Absent: closed loop, each client sends its next request as soon as the previous one is answered (saturation).
   * Set: each client behaves like a portal tab, sending `perTick` requests together every `intervalMs` (its refetchInterval),
   * starting at a random offset so the tabs do not poll in lockstep.
   */
  pacing?: { intervalMs: number; perTick: number };
  /** Also return every measured latency, for runs merged by the caller. */
  latencies?: boolean;
}

export interface LoadResult {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  /** Latency percentiles (ms) of the requests that finished inside the measured window. */
  p50: number;
  p99: number;
  bytes: number;
  /** Every response received, warm-up included: the denominator of the server's CPU per request. */
  answered: number;
  latencies?: number[];
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadConfig;
  const agent = new Agent({ keepAlive: true, maxSockets: cfg.clients.length, ca: cfg.ca });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  let answered = 0;
  const start = performance.now();
  const measureFrom = start + cfg.warmupMs;
  const end = measureFrom + cfg.durationMs;

  const one = (path: string, token: string) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(`${cfg.origin}${path}`, { agent, headers: { 'vmware-api-session-id': token, accept: 'application/json' } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => {
          const t1 = performance.now();
          answered++;
          if (t1 >= measureFrom && t1 <= end) {
            latencies.push(t1 - t0);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            bytes += n;
          }
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });

  const pacing = cfg.pacing;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
  await Promise.all(
    cfg.clients.map(async (c) => {
      if (!pacing) {
        for (let i = 0; performance.now() < end; i++) await one(c.paths[i % c.paths.length]!, c.token);
        return;
      }
      await sleep(Math.random() * pacing.intervalMs);
      for (let i = 0; performance.now() < end; ) {
        const tick = performance.now();
        const batch: Promise<void>[] = [];
        for (let k = 0; k < pacing.perTick; k++, i++) batch.push(one(c.paths[i % c.paths.length]!, c.token));
        await Promise.all(batch);
        await sleep(tick + pacing.intervalMs - performance.now());
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0;
  const result: LoadResult = { requests: latencies.length, errors, statuses, seconds: cfg.durationMs / 1000, p50: pct(50), p99: pct(99), bytes, answered, ...(cfg.latencies ? { latencies } : {}) };
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[2] === '--stdin') void main();
