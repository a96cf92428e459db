// Load generator, run as a child process so it does not share the connector's event loop.
// Hand-written instead of autocannon: each of the 200 clients carries its own session token and walks its own path
// list over HTTPS with a private CA; a 40-line loop does that without 25 transitive dependencies.
import { Agent, request } from 'node:https';

export interface LoadTarget {
  origin: string;
  ca: string;
  clients: { token: string; paths: string[] }[];
}

export interface LoadConfig extends LoadTarget {
  warmupMs: number;
  durationMs: number;
  /**
   * Absent: closed loop, each client sends its next request as soon as the previous one is answered (saturation).
   * Set: each client behaves like a portal tab, sending `perTick` requests together every `intervalMs` (its refetchInterval),
   * starting at a random offset so the tabs do not poll in lockstep.
   */
  pacing?: { intervalMs: number; perTick: number };
  /**
   * Closed loop against this target and `other` in turn, `phaseMs` each, until each had `durationMs` (after
   * `warmupMs` split between them): load from other work on a shared machine then falls on both alike. Each phase
   * starts once the previous one's requests are answered, and is announced on stdout as a line `PHASE 0` (this
   * target), `PHASE 1` (other) or `PHASE END`, so the caller can attribute its own CPU time to each.
   */
  alternate?: { other: LoadTarget; phaseMs: number };
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
  /** With `alternate`: the other target's result. */
  other?: LoadResult;
}

/** One server's clients and what they measured. */
class Tally {
  readonly agent: Agent;
  readonly latencies: number[] = [];
  readonly statuses: Record<string, number> = {};
  errors = 0;
  bytes = 0;
  answered = 0;
  constructor(readonly target: LoadTarget) {
    this.agent = new Agent({ keepAlive: true, maxSockets: target.clients.length, ca: target.ca });
  }

  /** One request; counted when it is answered inside [from, to]. */
  one(path: string, token: string, from: number, to: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(`${this.target.origin}${path}`, { agent: this.agent, headers: { 'vmware-api-session-id': token, accept: 'application/json' } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => {
          const t1 = performance.now();
          this.answered++;
          if (t1 >= from && t1 <= to) {
            this.latencies.push(t1 - t0);
            this.statuses[String(res.statusCode)] = (this.statuses[String(res.statusCode)] ?? 0) + 1;
            this.bytes += n;
          }
          resolve();
        });
      });
      req.on('error', () => {
        this.errors++;
        resolve();
      });
      req.end();
    });
  }

  /** Every client sends its next request as soon as the previous one is answered, until `to`. */
  async closedLoop(to: number, from: number, step: number[]): Promise<void> {
    await Promise.all(
      this.target.clients.map(async (c, k) => {
        while (performance.now() < to) await this.one(c.paths[step[k]!++ % c.paths.length]!, c.token, from, to);
      }),
    );
  }

  result(seconds: number): LoadResult {
    this.agent.destroy();
    const latencies = this.latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0;
    const requests = latencies.length;
    return { requests, errors: this.errors, statuses: this.statuses, seconds, p50: pct(50), p99: pct(99), bytes: this.bytes, answered: this.answered };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function alternate(cfg: LoadConfig & { alternate: NonNullable<LoadConfig['alternate']> }): Promise<LoadResult> {
  const tallies = [new Tally(cfg), new Tally(cfg.alternate.other)];
  const steps = tallies.map((t) => t.target.clients.map(() => 0));
  const measured = [0, 0];
  const say = (line: string) => new Promise<void>((r) => process.stdout.write(`${line}\n`, () => r()));
  // Warm-up: each server in turn, not counted.
  for (let k = 0; k < 2; k++) {
    await say(`PHASE ${k}`);
    await tallies[k]!.closedLoop(performance.now() + cfg.warmupMs / 2, Infinity, steps[k]!);
  }
  for (let k = 0; measured[0]! < cfg.durationMs || measured[1]! < cfg.durationMs; k++) {
    const i = k % 2;
    const ms = Math.min(cfg.alternate.phaseMs, cfg.durationMs - measured[i]!);
    if (ms <= 0) continue;
    await say(`PHASE ${i}`);
    const from = performance.now();
    await tallies[i]!.closedLoop(from + ms, from, steps[i]!);
    measured[i]! += ms;
  }
  await say('PHASE END');
  const seconds = cfg.durationMs / 1000;
  return { ...tallies[0]!.result(seconds), other: tallies[1]!.result(seconds) };
}

async function single(cfg: LoadConfig): Promise<LoadResult> {
  const tally = new Tally(cfg);
  const start = performance.now();
  const measureFrom = start + cfg.warmupMs;
  const end = measureFrom + cfg.durationMs;
  const pacing = cfg.pacing;
  await Promise.all(
    cfg.clients.map(async (c) => {
      if (!pacing) {
        for (let i = 0; performance.now() < end; i++) await tally.one(c.paths[i % c.paths.length]!, c.token, measureFrom, end);
        return;
      }
      await sleep(Math.random() * pacing.intervalMs);
      for (let i = 0; performance.now() < end; ) {
        const tick = performance.now();
        const batch: Promise<void>[] = [];
        for (let k = 0; k < pacing.perTick; k++, i++) batch.push(tally.one(c.paths[i % c.paths.length]!, c.token, measureFrom, end));
        await Promise.all(batch);
        await sleep(tick + pacing.intervalMs - performance.now());
      }
    }),
  );
  return tally.result(cfg.durationMs / 1000);
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadConfig;
  const result = cfg.alternate ? await alternate({ ...cfg, alternate: cfg.alternate }) : await single(cfg);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[2] === '--stdin') void main();
