// Builds the migration engine from the connector configuration.
import { join, resolve } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EBSClient } from '@aws-sdk/client-ebs';
import { createEbsClient } from '../aws/ebs-writer.ts';
import type { ConnectorConfig } from '../config.ts';
import { VimFault, Vim25Client } from '../vsphere/vim25.ts';
import { AwsRetryError, awsRetryText, isRetryableAwsError, MigrationEngine, MigrationError, sdkAttempts, type EngineVcenterSession, type MigrationEngineOptions } from './engine.ts';
import type { TaskObserver } from './observer.ts';
import { createVcenterReporter } from '../vcenter-tasks/wiring.ts';
import type { VcenterReporter } from '../vcenter-tasks/reporter.ts';
import type { ExportTaskRepository, MigrationTaskRepository } from './task-store.ts';
import { SqliteMigrationTasks } from '../store/sqlite/migration-tasks.ts';
import { migrationTasksOn } from '../store/task-repositories.ts';
import type { StoreBackend } from '../store/types.ts';
import type { MigrationRecord } from './types.ts';

export interface EngineEndpoints {
  vcenter: { sdkUrl: string; caPem?: string | undefined; thumbprint?: string | undefined };
  ec2(region: string): EC2Client;
  awsCredentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** SDK retry settings of the engine's S3 clients (default: standard mode, S3_MAX_ATTEMPTS). */
  s3Retry?: S3RetryOptions | undefined;
  /** Show migrations in vCenter (Recent Tasks, events, custom attributes; vcenter-tasks/). Default true. */
  vcenterReporting?: boolean | undefined;
  /** The export records' store, so reported exports keep their vCenter task across restarts. */
  exportTasks?: ExportTaskRepository | undefined;
  /** The connector store's database: the tasks live there (a fleet's PostgreSQL shares them); else config's SQLite file. */
  store?: StoreBackend | undefined;
}

/**
 * Attempts per S3 call (first try included). The SDK's standard retry mode backs off exponentially with full
 * jitter (base 50 ms, 1 s when throttled, capped at 20 s) and stops early when its retry quota runs dry.
 * 5 rather than the SDK's 3: a dropped connection during UploadPart costs one part, not the whole disk.
 */
export const S3_MAX_ATTEMPTS = 5;

export interface S3RetryOptions {
  maxAttempts?: number;
  /** A replacement strategy (e.g. shorter delays); the standard one when absent. */
  retryStrategy?: S3ClientConfig['retryStrategy'];
}

/** Outermost S3 middleware: once the SDK's retries are spent on a retryable error, say what happened and what to do. */
function explainExhaustedRetries(region: string) {
  return (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    try {
      return await next(args);
    } catch (err) {
      if (err instanceof MigrationError || !isRetryableAwsError(err)) throw err;
      const action = (context.commandName ?? 'request').replace(/Command$/, '');
      throw new AwsRetryError(awsRetryText('S3', action, region, err, sdkAttempts(err)), err);
    }
  };
}

/** S3 clients per region; non-AWS endpoints need path-style URLs and no aws-chunked checksum framing. */
export function s3ClientFactory(
  engine: ConnectorConfig['engine'],
  fallbackCredentials?: { accessKeyId: string; secretAccessKey: string },
  retry: S3RetryOptions = {},
): (region: string) => S3Client {
  const clients = new Map<string, S3Client>();
  return (region) => {
    let c = clients.get(region);
    if (!c) {
      const creds = engine.s3Credentials ?? (engine.s3Endpoint ? fallbackCredentials : undefined);
      c = new S3Client({
        region,
        maxAttempts: retry.maxAttempts ?? S3_MAX_ATTEMPTS,
        retryMode: 'standard',
        ...(retry.retryStrategy ? { retryStrategy: retry.retryStrategy } : {}),
        ...(engine.s3Endpoint
          ? { endpoint: engine.s3Endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
        ...(creds ? { credentials: creds } : {}),
      });
      // The stack's overloaded add() cannot infer the step from the options object: the middleware's shape is the initialize one.
      c.middlewareStack.add(explainExhaustedRetries(region) as never, { step: 'initialize', name: 'vm2ec2ExplainExhaustedRetries' });
      clients.set(region, c);
    }
    return c;
  };
}

/**
 * EBS direct API clients per region (warm migration). AWS serves these APIs on their own endpoint; aws.ebsEndpoint
 * overrides it (the lab), and like aws.endpoint it gets the configured static credentials, else the SDK's chain.
 */
export function ebsClientFactory(aws: ConnectorConfig['aws'], fallbackCredentials?: { accessKeyId: string; secretAccessKey: string }): (region: string) => EBSClient {
  const clients = new Map<string, EBSClient>();
  return (region) => {
    let c = clients.get(region);
    if (!c) {
      const creds = aws.credentials ?? fallbackCredentials;
      c = createEbsClient({
        region,
        ...(aws.ebsEndpoint ? { endpoint: aws.ebsEndpoint } : {}),
        ...(creds ? { credentials: creds } : {}),
        requestTimeoutMs: Math.max(aws.requestTimeoutMs, 60_000),
      });
      clients.set(region, c);
    }
    return c;
  };
}

/** A vim25 session for a task: the configured service account, or a clone handed over by the request (same process only). */
export class EngineVcenterSessions {
  private readonly handedOver = new Map<string, Vim25Client>();
  /** The service account's one long-lived session for reporting into vCenter (vcenter-tasks/). */
  private reporter: Promise<Vim25Client> | undefined;
  /** Reporting still to do with a task's handed-over session: its logout waits for it. */
  private readonly holds = new Map<string, Promise<void>>();

  constructor(
    private readonly vcenter: EngineEndpoints['vcenter'],
    private readonly account: ConnectorConfig['engine']['vcenterAccount'],
  ) {}

  /** Keeps a session cloned from the requester for this task (used when no service account is configured). */
  handOver(taskId: string, client: Vim25Client): void {
    this.handedOver.set(taskId, client);
  }

  get needsHandOver(): boolean {
    return !this.account;
  }

  /** TLS trust for vim25 connections to the vCenter. */
  get tls(): { ca?: string; thumbprint?: string } {
    return { ...(this.vcenter.caPem ? { ca: this.vcenter.caPem } : {}), ...(this.vcenter.thumbprint ? { thumbprint: this.vcenter.thumbprint } : {}) };
  }

  private async loginAccount(account: NonNullable<ConnectorConfig['engine']['vcenterAccount']>): Promise<Vim25Client> {
    const client = await Vim25Client.connect({ sdkUrl: this.vcenter.sdkUrl, ...(this.vcenter.caPem ? { ca: this.vcenter.caPem } : {}), ...(this.vcenter.thumbprint ? { thumbprint: this.vcenter.thumbprint } : {}) });
    try {
      // The client logs in again by itself if vCenter ends this session during a long export.
      await client.login(account.userName, account.password);
    } catch (err) {
      client.close();
      // Only a refused login is the account's fault; a network failure is retried by the engine.
      if (!(err instanceof VimFault)) throw err;
      throw new MigrationError(`The connector could not log in to vCenter as ${account.userName} (engine.vcenterAccount): ${err.message}. Fix the account in the connector configuration.`);
    }
    return client;
  }

  async open(task: MigrationRecord): Promise<EngineVcenterSession> {
    if (this.account) {
      const client = await this.loginAccount(this.account);
      return { client, release: () => client.logout().finally(() => client.close()) };
    }
    const client = this.handedOver.get(task.id);
    if (!client) {
      throw new MigrationError(
        'The connector restarted and no longer holds the vCenter session of the user who started this migration. Configure a vCenter account for the engine (engine.vcenterAccount) so migrations survive restarts, then start the migration again.',
      );
    }
    // The handed-over session lives as long as the task needs it; it is ended when the task ends.
    return { client, release: async () => {} };
  }

  /**
   * A session to report a task into vCenter with: the service account's shared one (it survives restarts and
   * serves exports too), else the migration's handed-over session while the task runs; undefined when neither.
   */
  async reporting(taskId: string): Promise<Vim25Client | undefined> {
    if (!this.account) return this.handedOver.get(taskId);
    const account = this.account;
    this.reporter ??= this.loginAccount(account).catch((err: unknown) => {
      this.reporter = undefined;
      throw err;
    });
    return this.reporter;
  }

  /** The task's handed-over session stays open until `work` (its last reports) settles. */
  hold(taskId: string, work: Promise<void>): void {
    this.holds.set(taskId, work.catch(() => undefined));
  }

  async end(taskId: string): Promise<void> {
    await this.holds.get(taskId);
    this.holds.delete(taskId);
    const c = this.handedOver.get(taskId);
    this.handedOver.delete(taskId);
    if (c) await c.logout().catch(() => undefined);
  }

  /** Ends the reporting session. */
  async close(): Promise<void> {
    const r = this.reporter;
    this.reporter = undefined;
    const c = await r?.catch(() => undefined);
    await c?.logout().catch(() => undefined);
  }
}

export function createEngine(
  config: ConnectorConfig,
  endpoints: EngineEndpoints,
  extra: Partial<MigrationEngineOptions> = {},
): {
  engine: MigrationEngine;
  sessions: EngineVcenterSessions;
  observers: TaskObserver[];
  tasks: MigrationTaskRepository;
  /** Reports migrations (and, once the export service joins, exports) into vCenter; absent when turned off. */
  reporter: VcenterReporter | undefined;
  close(): Promise<void>;
} {
  const file = config.store.sqliteFile ?? join(config.dataDir, 'connector.sqlite');
  const tasks = endpoints.store ? migrationTasksOn(endpoints.store) : new SqliteMigrationTasks(file === ':memory:' ? file : resolve(file));
  const sessions = new EngineVcenterSessions(endpoints.vcenter, config.engine.vcenterAccount);
  const s3 = s3ClientFactory(config.engine, endpoints.awsCredentials, endpoints.s3Retry);
  // One list for the engine and whoever else saves tasks (the export service); observers join it before start().
  const observers = extra.observers ?? [];
  const reporter = endpoints.vcenterReporting === false ? undefined : createVcenterReporter({ sessions, migrations: tasks, exports: endpoints.exportTasks, log: extra.log ?? (() => {}) });
  if (reporter) observers.push(reporter);
  const engine = new MigrationEngine({
    tasks,
    openVcenter: (t) => sessions.open(t),
    ec2: endpoints.ec2,
    s3,
    ebs: ebsClientFactory(config.aws, endpoints.awsCredentials),
    stagingBucket: (region) => config.engine.stagingBucket.replace('{region}', region),
    importRoleName: config.aws.importRoleName,
    maxRunning: config.engine.maxRunning,
    maxImportsPerRegion: config.engine.maxImportsPerRegion,
    keepAliveMs: config.engine.leaseKeepAliveMs,
    pollMs: config.engine.pollMs,
    pollMaxMs: config.engine.pollMaxMs,
    keepStaging: config.engine.keepStagingObjects,
    maxExportAttempts: config.engine.maxExportAttempts,
    vcenterConnectAttempts: config.engine.vcenterConnectAttempts,
    retryDelayMs: config.engine.retryDelayMs,
    retryMaxDelayMs: config.engine.retryMaxDelayMs,
    minuteMs: config.engine.warmMinuteMs,
    guestShutdownTimeoutMs: config.engine.guestShutdownTimeoutMs,
    powerOffPollMs: config.engine.powerOffPollMs,
    onTaskEnd: (t) => void sessions.end(t.id),
    ...extra,
    observers,
  });
  engine.setUpdating(config.engine.updating);
  return {
    engine,
    sessions,
    observers,
    tasks,
    reporter,
    async close() {
      await engine.stop();
      // The last reports get a moment; a vCenter that does not answer must not hold the shutdown.
      await Promise.race([reporter?.idle(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await sessions.close();
      await tasks.close();
    },
  };
}
