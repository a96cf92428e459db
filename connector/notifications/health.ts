// The connector's own health probe for connector.unhealthy: what the status tab checks that needs no user session
// (vCenter, EC2 per region, the store, free space), run on a timer. Two failed probes in a row open an incident
// (one blip pages nobody); the next passing probe closes it. Each incident notifies once and recovers once.
import { statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { AwsGateway } from '../aws/gateway.ts';
import type { ConnectorConfig } from '../config.ts';
import type { NotificationPayload } from '../contract/index.ts';
import { checkVcenter } from '../doctor/checks.ts';
import type { Store } from '../store/index.ts';
import { Vim25Client } from '../vsphere/vim25.ts';
import type { TaskEvent } from './events.ts';
import type { NotificationService } from './service.ts';

/** One check: undefined when fine, else one sentence of what failed and what to do. */
export interface HealthCheck {
  name: string;
  run(): Promise<string | undefined>;
}

export interface HealthState {
  status: 'healthy' | 'unhealthy';
  /** Failed probes in a row. */
  failures: number;
  /** When the current run of failed probes began: the incident's start once it opens. */
  firstFailureAt?: string;
  problems: string[];
}

export interface HealthNotice {
  state: 'unhealthy' | 'recovered';
  since: string;
  at: string;
  problems: string[];
}

export const HEALTHY: HealthState = { status: 'healthy', failures: 0, problems: [] };
/** Failed probes in a row that open an incident. */
export const FAILURES_TO_NOTIFY = 2;
/** Less free space than this in the data directory is a problem (the store and the migrations' state live there). */
export const MIN_FREE_BYTES = 512 * 1024 * 1024;

/** The transition a probe's result makes; a notice only when an incident opens or closes. */
export function nextHealth(state: HealthState, problems: readonly string[], at: string): { state: HealthState; notice?: HealthNotice } {
  if (problems.length) {
    const firstFailureAt = state.firstFailureAt ?? at;
    const failures = state.failures + 1;
    if (state.status === 'healthy' && failures >= FAILURES_TO_NOTIFY) {
      return { state: { status: 'unhealthy', failures, firstFailureAt, problems: [...problems] }, notice: { state: 'unhealthy', since: firstFailureAt, at, problems: [...problems] } };
    }
    return { state: { ...state, failures, firstFailureAt, problems: [...problems] } };
  }
  if (state.status === 'unhealthy') return { state: HEALTHY, notice: { state: 'recovered', since: state.firstFailureAt ?? at, at, problems: [] } };
  return { state: HEALTHY };
}

/** What an administrator runs on the connector's host to find the cause (the CLI's doctor, with its config option). */
export const DOCTOR_COMMAND = 'vm2ec2 doctor --config <connector.yaml>';

/** The outbox event: subject per incident and state, so a restart mid-incident re-enqueues nothing. No environment: it concerns them all. */
export function healthEvent(n: HealthNotice): TaskEvent {
  return {
    kind: 'connector.unhealthy',
    subject: `connector-health:${n.since}${n.state === 'recovered' ? ':recovered' : ''}`,
    occurredAt: n.at,
    build: (id): NotificationPayload => ({
      id,
      kind: 'connector.unhealthy',
      occurredAt: n.at,
      text:
        n.state === 'unhealthy'
          ? `The connector on ${hostname()} is unhealthy since ${n.since}: ${n.problems.join(' ')} To diagnose it, run "${DOCTOR_COMMAND}" on ${hostname()}.`
          : `The connector on ${hostname()} is healthy again: the problems that began at ${n.since} are gone.`,
      connector: { state: n.state, since: n.since, problems: n.problems },
      test: false,
    }),
  };
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}

/** The checks the connector can run by itself, reusing the doctor's vCenter check and the status tab's AWS and store calls. */
export function connectorHealthChecks(deps: { config: ConnectorConfig; aws: AwsGateway; store: Store; timeoutMs?: number }): HealthCheck[] {
  const { config, aws, store } = deps;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const account = config.engine.vcenterAccount;
  const checks: HealthCheck[] = [
    {
      name: 'vcenter',
      run: async () => {
        // Reachability and certificate validation, as `vm2ec2 doctor` checks them.
        const f = await checkVcenter(config);
        if (f.severity === 'error') return `${f.title} ${f.fix ?? ''}`.trim();
        if (!account) return undefined;
        const sdkUrl = new URL('/sdk', config.vcenter.url).href;
        try {
          const client = await Vim25Client.connect({ sdkUrl, timeoutMs, ...(config.vcenter.caPem ? { ca: config.vcenter.caPem } : {}), ...(config.vcenter.thumbprint ? { thumbprint: config.vcenter.thumbprint } : {}) });
          try {
            await withTimeout(client.login(account.userName, account.password), timeoutMs, 'vCenter');
            await client.logout().catch(() => undefined);
          } finally {
            client.close();
          }
          return undefined;
        } catch (err) {
          return `Connector cannot log in to vCenter as ${account.userName} (engine.vcenterAccount): ${describe(err)}. Fix the account in the connector configuration.`;
        }
      },
    },
    // Every environment's region is one of the connector's enabled regions.
    ...aws.regions.map((region) => ({
      name: `aws:${region}`,
      run: async () => {
        try {
          await withTimeout(aws.vpcs(region), timeoutMs, `Amazon EC2 in ${region}`);
          return undefined;
        } catch (err) {
          return `Connector cannot reach Amazon EC2 in ${region}: ${describe(err)}. Check the connector's AWS credentials and that it reaches the EC2 endpoint of ${region}.`;
        }
      },
    })),
    {
      name: 'store',
      run: async () => {
        try {
          await withTimeout(store.audit.query({ limit: 1 }), timeoutMs, 'The store');
          return undefined;
        } catch (err) {
          return `The connector's store does not answer: ${describe(err)}. Check the store file in the data directory (${config.dataDir}) and its permissions.`;
        }
      },
    },
    {
      name: 'disk',
      run: async () => {
        try {
          const s = await statfs(config.dataDir);
          const free = s.bavail * s.bsize;
          if (free >= MIN_FREE_BYTES) return undefined;
          return `The data directory ${config.dataDir} has only ${Math.floor(free / 1048576)} MiB free (at least ${MIN_FREE_BYTES / 1048576} MiB needed). Free space on its file system.`;
        } catch (err) {
          return `Connector cannot read the free space of the data directory ${config.dataDir}: ${describe(err)}. Check that it exists and the connector may read it.`;
        }
      },
    },
  ];
  return checks;
}

/** Runs the checks every interval and hands incidents to the notification outbox. */
export class HealthMonitor {
  private state: HealthState = HEALTHY;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly checks: readonly HealthCheck[],
    private readonly notifications: NotificationService,
    private readonly intervalMs: number,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  get current(): Readonly<HealthState> {
    return this.state;
  }

  /** Picks up an incident a restart interrupted (its notice is in the outbox), then probes on the interval. */
  start(): void {
    this.stopped = false;
    const last = this.notifications.store.lastHealthNotice();
    if (last?.state === 'unhealthy') this.state = { status: 'unhealthy', failures: FAILURES_TO_NOTIFY, firstFailureAt: last.since, problems: last.problems };
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.probing;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.probing = this.probe()
        .catch((err: unknown) => this.log(`Health probe failed to run (${describe(err)}); it runs again.`))
        .finally(() => {
          this.probing = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One probe: every check at once; returns the notice it raised, if any. */
  async probe(now = new Date()): Promise<HealthNotice | undefined> {
    const results = await Promise.all(this.checks.map((c) => c.run().catch((err: unknown) => `${c.name}: ${describe(err)}`)));
    const problems = results.filter((r): r is string => r !== undefined);
    const { state, notice } = nextHealth(this.state, problems, now.toISOString());
    this.state = state;
    if (notice) {
      this.log(notice.state === 'unhealthy' ? `Connector unhealthy: ${notice.problems.join(' ')}` : `Connector healthy again (the incident began at ${notice.since}).`);
      this.notifications.enqueue([healthEvent(notice)]);
    }
    return notice;
  }
}
