// Builds the migration engine from the connector configuration.
import { join, resolve } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ConnectorConfig } from '../config.ts';
import { Vim25Client } from '../vsphere/vim25.ts';
import { MigrationEngine, MigrationError, type EngineVcenterSession, type MigrationEngineOptions } from './engine.ts';
import { SqliteMigrationTasks } from './task-store.ts';
import type { MigrationRecord } from './types.ts';

export interface EngineEndpoints {
  vcenter: { sdkUrl: string; caPem?: string | undefined; thumbprint?: string | undefined };
  ec2(region: string): EC2Client;
  awsCredentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** S3 clients per region; non-AWS endpoints need path-style URLs and no aws-chunked checksum framing. */
export function s3ClientFactory(engine: ConnectorConfig['engine'], fallbackCredentials?: { accessKeyId: string; secretAccessKey: string }): (region: string) => S3Client {
  const clients = new Map<string, S3Client>();
  return (region) => {
    let c = clients.get(region);
    if (!c) {
      const creds = engine.s3Credentials ?? (engine.s3Endpoint ? fallbackCredentials : undefined);
      c = new S3Client({
        region,
        ...(engine.s3Endpoint
          ? { endpoint: engine.s3Endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
        ...(creds ? { credentials: creds } : {}),
      });
      clients.set(region, c);
    }
    return c;
  };
}

/** A vim25 session for a task: the configured service account, or a clone handed over by the request (same process only). */
export class EngineVcenterSessions {
  private readonly handedOver = new Map<string, Vim25Client>();

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

  async open(task: MigrationRecord): Promise<EngineVcenterSession> {
    if (this.account) {
      const client = await Vim25Client.connect({ sdkUrl: this.vcenter.sdkUrl, ...(this.vcenter.caPem ? { ca: this.vcenter.caPem } : {}), ...(this.vcenter.thumbprint ? { thumbprint: this.vcenter.thumbprint } : {}) });
      try {
        await client.login(this.account.userName, this.account.password);
      } catch (err) {
        client.close();
        throw new MigrationError(`The connector could not log in to vCenter as ${this.account.userName} (engine.vcenterAccount): ${err instanceof Error ? err.message : String(err)}. Fix the account in the connector configuration.`);
      }
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

  async end(taskId: string): Promise<void> {
    const c = this.handedOver.get(taskId);
    this.handedOver.delete(taskId);
    if (c) await c.logout().catch(() => undefined);
  }
}

export function createEngine(
  config: ConnectorConfig,
  endpoints: EngineEndpoints,
  extra: Partial<MigrationEngineOptions> = {},
): { engine: MigrationEngine; sessions: EngineVcenterSessions; close(): Promise<void> } {
  const file = config.store.sqliteFile ?? join(config.dataDir, 'connector.sqlite');
  const tasks = new SqliteMigrationTasks(file === ':memory:' ? file : resolve(file));
  const sessions = new EngineVcenterSessions(endpoints.vcenter, config.engine.vcenterAccount);
  const s3 = s3ClientFactory(config.engine, endpoints.awsCredentials);
  const engine = new MigrationEngine({
    tasks,
    openVcenter: (t) => sessions.open(t),
    ec2: endpoints.ec2,
    s3,
    stagingBucket: (region) => config.engine.stagingBucket.replace('{region}', region),
    importRoleName: config.aws.importRoleName,
    maxRunning: config.engine.maxRunning,
    maxImportsPerRegion: config.engine.maxImportsPerRegion,
    keepAliveMs: config.engine.leaseKeepAliveMs,
    pollMs: config.engine.pollMs,
    pollMaxMs: config.engine.pollMaxMs,
    keepStaging: config.engine.keepStagingObjects,
    onTaskEnd: (t) => void sessions.end(t.id),
    ...extra,
  });
  engine.setUpdating(config.engine.updating);
  return {
    engine,
    sessions,
    async close() {
      await engine.stop();
      tasks.close();
    },
  };
}
