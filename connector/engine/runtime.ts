// What every pipeline of the engine shares: its options, the persistence hooks the scheduler gives it, and the
// abortable waits. The pipelines (cold.ts, warm/pipeline.ts) and the AWS steps (aws-steps.ts) get an EngineContext.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { Vim25Client } from '../vsphere/vim25.ts';
import type { BandwidthLimiter } from '../bandwidth/limiter.ts';
import { MigrationError } from './failures.ts';
import type { TaskObserver } from './observer.ts';
import type { MigrationTaskRepository } from './task-store.ts';
import type { MigrationRecord } from './types.ts';

/** Abort reasons: the connector stops (tasks resume later) or the user cancelled. */
export const SHUTDOWN = 'connector-shutdown';
export const CANCEL = 'migration-cancelled';
/** A peer connector took the task over (its owner in the store is no longer this connector): stop without a write. */
export const TAKEN_OVER = 'migration-taken-over';
/**
 * This connector handed the task back to its fleet (owner cleared in the store) while it only waited for an import
 * slot that a lost peer's migration holds: stop without a write; whoever has a free slot resumes it.
 */
export const RELEASED = 'migration-released';

/** A vCenter session the engine may use for one task; `release` ends it. */
export interface EngineVcenterSession {
  client: Vim25Client;
  release(): Promise<void>;
}

export interface MigrationEngineOptions {
  tasks: MigrationTaskRepository;
  /** A logged-in vim25 client for the task (the task's own user session, or a service account). */
  openVcenter(task: MigrationRecord): Promise<EngineVcenterSession>;
  ec2(region: string): EC2Client;
  /** S3 client for the region (non-AWS endpoints: forcePathStyle and WHEN_REQUIRED checksums). */
  s3(region: string): S3Client;
  /** EBS direct API client for the region (warm migrations); absent: warm migrations fail with a clear error. */
  ebs?: (region: string) => EBSClient;
  stagingBucket(region: string): string;
  importRoleName?: string;
  /** Migrations running at once on this connector (seed: 4). A warm task holds a slot only while it works. */
  maxRunning?: number;
  /** Active EC2 import tasks per region (EC2 default quota: 5). */
  maxImportsPerRegion?: number;
  /** Wall time between HttpNfcLeaseProgress calls while a lease is held. */
  keepAliveMs?: number;
  /** First and longest wait between EC2 status polls. */
  pollMs?: number;
  pollMaxMs?: number;
  /** At most one progress write per task per this many ms while bytes flow. */
  progressSaveMs?: number;
  /** Parts buffered per upload (memory ≈ queueSize × partSize). */
  queueSize?: number;
  /** Keep the staged disk objects after a successful import (troubleshooting); default false. */
  keepStaging?: boolean;
  /** Export attempts when the disk download is interrupted or the export lease fails (each takes a fresh lease). */
  maxExportAttempts?: number;
  /** Attempts to reach vCenter before the migration fails. */
  vcenterConnectAttempts?: number;
  /** First wait before an export retry (doubling per retry, 50–100 % jitter) and its cap. */
  retryDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * Length of one "minute" of a warm migration's replication interval, in ms (default 60,000). Tests and the lab
   * shorten it so a 5-minute interval (the API's minimum) passes in seconds; nothing else is scaled.
   */
  minuteMs?: number;
  /** Wait between power-state checks while cutover waits for the source VM to power off. */
  powerOffPollMs?: number;
  /** How long a guest shutdown may take before cutover fails (replication keeps running). */
  guestShutdownTimeoutMs?: number;
  now?: () => Date;
  log?: (msg: string) => void;
  /** Called once a task reaches a terminal state (e.g. to end its vCenter session). */
  onTaskEnd?: (task: MigrationRecord) => void;
  /** The connector's bandwidth cap shared by every disk copy (issue 14); absent: unlimited. */
  bandwidth?: BandwidthLimiter;
  /** This connector's fleet id, recorded on every task it starts or resumes (the task view's connectorId). */
  connectorId?: () => Promise<string>;
  /**
   * The vCenter this connector serves (fleet vCenter id): its tasks are recorded with it and it claims only tasks of
   * it. With connectorId, the engine claims its work from the store (a fleet shares the tasks); default ''.
   */
  vcenterId?: () => string;
  /** A connector whose heartbeat is older than this is lost: its running tasks are taken over (fleet.leaseMs). */
  leaseMs?: number;
  /** How often a connector of a fleet looks for lost peers' tasks, peers' cancels and queued work. */
  fleetPollMs?: number;
  /** Told after every persisted save (vCenter tasks and events, notifications); the array may grow until start(). */
  observers?: TaskObserver[];
}

export type EngineSettings = Required<Omit<MigrationEngineOptions, 'log' | 'onTaskEnd' | 'ebs' | 'bandwidth' | 'connectorId' | 'vcenterId'>> &
  Pick<MigrationEngineOptions, 'onTaskEnd' | 'ebs' | 'bandwidth' | 'connectorId' | 'vcenterId'> & { log: (msg: string) => void };

/** The options with their defaults filled in. */
export function engineSettings(options: MigrationEngineOptions): EngineSettings {
  return {
    importRoleName: 'vmimport',
    maxRunning: 4,
    maxImportsPerRegion: 5,
    keepAliveMs: 10_000,
    pollMs: 2_000,
    pollMaxMs: 30_000,
    progressSaveMs: 1_000,
    queueSize: 2,
    keepStaging: false,
    maxExportAttempts: 3,
    vcenterConnectAttempts: 6,
    retryDelayMs: 2_000,
    retryMaxDelayMs: 30_000,
    minuteMs: 60_000,
    powerOffPollMs: 2_000,
    guestShutdownTimeoutMs: 600_000,
    leaseMs: 30_000,
    fleetPollMs: 1_000,
    now: () => new Date(),
    log: () => {},
    observers: [],
    ...options,
  };
}

/** What the scheduler hands a pipeline: the settings and the ways to persist a task. */
export interface EngineContext {
  readonly opts: EngineSettings;
  /** Persists the task now (every step persists before its next vCenter or AWS call). */
  save(t: MigrationRecord): void;
  /** Persists at most once per progressSaveMs (progress counters). */
  saveThrottled(t: MigrationRecord): void;
  iso(): string;
}

export async function withVcenter<T>(ctx: EngineContext, t: MigrationRecord, use: (client: Vim25Client) => Promise<T>): Promise<T> {
  const vc = await ctx.opts.openVcenter(t);
  try {
    return await use(vc.client);
  } finally {
    await vc.release().catch(() => undefined);
  }
}

/** 50–100 % of `ms`: polls of many tasks spread out instead of arriving at EC2 together. */
export function jittered(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2);
}

/** Exponential backoff with jitter: the n-th wait is 50–100 % of min(max, base × 2^(n−1)). */
export function retryDelay(n: number, baseMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}

export function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new MigrationError(signal.reason === CANCEL ? 'cancelled' : 'stopped');
}

/** Abortable sleep (no timer library needed). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MigrationError('stopped'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new MigrationError('stopped'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
