// The emulator object: clock, per-region state, timed transitions, failure injection and inspection.
import { KmsStore } from '../kms/store.ts';
import { EbsStore } from './ebs-store.ts';
import { advanceExports } from './exports.ts';
import { createIamState, type IamState } from './iam.ts';
import { advanceImages } from './images.ts';
import { advanceImports } from './imports.ts';
import { advanceInstances } from './instances.ts';
import type { GuestOsRule } from './licensing.ts';
import { seedRegion } from './network.ts';
import { createS3Access, type LabS3Access, type S3Endpoint } from './s3.ts';
import type { Core, ExportFailureRule, ImportFailureRule, ImportHoldRule, RegionState } from './state.ts';

export interface Ec2EmulatorOptions {
  /** Where imported disks are read from and exported OVAs are written to. */
  s3: S3Endpoint;
  /** Length of one task/instance stage; default 10 s (an import then takes about a minute). */
  stageMs?: number;
  /** Length of one export stage (3 stages, then the OVA is written); default `stageMs`. */
  exportStageMs?: number;
  /** Time only moves with `advance(ms)`. */
  manualClock?: boolean;
  /** Per-region cap on active import tasks; default 5. */
  maxActiveImports?: number;
  /** Per-region cap on active export tasks; default 5. */
  maxActiveExports?: number;
  /** Served regions; default us-east-1, us-west-2, eu-west-1. */
  regions?: string[];
  /** Account id reported everywhere; default 111122223333. */
  accountId?: string;
  /** ImportImage checks that the service role exists, trusts vmie and may read S3 (as AWS does); default false. */
  enforceServiceRole?: boolean;
  /** CreateInstanceExportTask checks the bucket ACL grants VM Import/Export WRITE and READ_ACP; default false. */
  requireExportBucketAcl?: boolean;
}

/** `reset`: the connection is dropped without an answer (mid-body for a request that has one). */
export type InjectedFault = 'throttle' | 'server-error' | 'reset';

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

export const DEFAULT_REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];

export class Ec2Emulator implements Core {
  readonly accountId: string;
  readonly stageMs: number;
  readonly exportStageMs: number;
  readonly maxActiveImports: number;
  readonly maxActiveExports: number;
  readonly enforceServiceRole: boolean;
  readonly requireExportBucketAcl: boolean;
  readonly regions: readonly string[];
  readonly s3: LabS3Access;
  readonly iam: IamState;
  /** EBS snapshots (EBS direct APIs, DescribeSnapshots, AMIs from snapshots) and their content-addressed blocks. */
  readonly ebs = new EbsStore();
  /** Fleet tests read it: the most import tasks active at once in a region, and the refusals for the limit. */
  readonly importLoad = { peakActive: 0, limitRefusals: 0 };
  /** KMS keys and aliases (served by the KMS endpoint; ImportImage and RunInstances check encryption keys here). */
  readonly kms: KmsStore;
  readonly importFailures: ImportFailureRule[] = [];
  readonly exportFailures: ExportFailureRule[] = [];
  readonly importHolds: ImportHoldRule[] = [];
  readonly guestOsRules: GuestOsRule[] = [];

  private readonly manualClock: boolean;
  private readonly base = Date.now();
  private offset = 0;
  private readonly states = new Map<string, RegionState>();
  private readonly faults: { action: string; fault: InjectedFault; remaining: number }[] = [];
  private readonly received = new Map<string, number>();
  private faultsAnswered = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(opts: Ec2EmulatorOptions) {
    this.accountId = opts.accountId ?? '111122223333';
    this.stageMs = opts.stageMs ?? 10_000;
    this.exportStageMs = opts.exportStageMs ?? this.stageMs;
    this.manualClock = opts.manualClock ?? false;
    this.maxActiveImports = opts.maxActiveImports ?? 5;
    this.maxActiveExports = opts.maxActiveExports ?? 5;
    this.enforceServiceRole = opts.enforceServiceRole ?? false;
    this.requireExportBucketAcl = opts.requireExportBucketAcl ?? false;
    this.regions = [...(opts.regions ?? DEFAULT_REGIONS)];
    this.regions.forEach((name, i) => this.states.set(name, seedRegion(name, i)));
    this.s3 = createS3Access(opts.s3);
    this.iam = createIamState(this.accountId, this.now());
    this.kms = new KmsStore(this.accountId, this.regions, this.now());
  }

  /** Emulated time in epoch ms. */
  now(): number {
    return (this.manualClock ? this.base : Date.now()) + this.offset;
  }

  /** Moves emulated time forward and runs every transition that became due (including S3 writes). */
  async advance(ms: number): Promise<void> {
    this.offset += ms;
    await this.tick();
    await this.settled();
  }

  /** Runs due transitions; serialised so an export's S3 write never runs twice. */
  tick(): Promise<void> {
    const run = this.chain.then(() => this.runDue());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async runDue(): Promise<void> {
    this.ebs.expire(this.now());
    this.kms.expire(this.now());
    for (const region of this.states.values()) {
      await advanceImports(this, region);
      advanceImages(this, region);
      advanceInstances(this, region);
      await advanceExports(this, region);
    }
  }

  /** Live state of a region (read it, do not mutate it behind the API's back). */
  region(name: string): RegionState | undefined {
    return this.states.get(name);
  }

  /** Matching import tasks reach `rule.stage`, then fail with `Status: deleted`. Returns a remover. */
  failImportAt(rule: ImportFailureRule): () => void {
    this.importFailures.push(rule);
    return () => remove(this.importFailures, rule);
  }

  /** Matching import tasks stay active at `rule.stage` (a long conversion) until the returned remover is called. */
  holdImportAt(rule: ImportHoldRule): () => void {
    this.importHolds.push(rule);
    return () => remove(this.importHolds, rule);
  }

  /**
   * The OS VM Import detects on matching tasks' disks (the lab's generated disks hold none): it decides which
   * LicenseType/UsageOperation the import accepts. Without a rule, Platform Windows is Windows Server and Linux is Linux.
   */
  detectGuestOs(rule: GuestOsRule): () => void {
    this.guestOsRules.push(rule);
    return () => remove(this.guestOsRules, rule);
  }

  /** Matching export tasks end `cancelled` with the rule's StatusMessage after one stage. Returns a remover. */
  failExport(rule: ExportFailureRule): () => void {
    this.exportFailures.push(rule);
    return () => remove(this.exportFailures, rule);
  }

  /** The next `count` calls of `action` (`'*'` for any) answer RequestLimitExceeded (HTTP 503; EBS direct APIs: RequestThrottledException). */
  throttle(action: string, count: number): void {
    this.faults.push({ action, fault: 'throttle', remaining: count });
  }

  /** The next `count` calls of `action` (`'*'` for any) answer InternalError (HTTP 500; EBS direct APIs: InternalServerException). */
  serverError(action: string, count: number): void {
    this.faults.push({ action, fault: 'server-error', remaining: count });
  }

  /** The next `count` calls of `action` (`'*'` for any) lose their connection without an answer (ECONNRESET). */
  resetConnections(action: string, count: number): void {
    this.faults.push({ action, fault: 'reset', remaining: count });
  }

  /** Pending injected faults are dropped; counters are kept. */
  clearFaults(): void {
    this.faults.length = 0;
    this.importFailures.length = 0;
    this.importHolds.length = 0;
    this.exportFailures.length = 0;
  }

  /** Consumes one injected fault for this action, if any is pending; counts the call either way. */
  takeFault(action: string): InjectedFault | undefined {
    this.received.set(action, (this.received.get(action) ?? 0) + 1);
    const entry = this.faults.find((f) => f.remaining > 0 && (f.action === action || f.action === '*'));
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.faults.splice(this.faults.indexOf(entry), 1);
    this.faultsAnswered += 1;
    return entry.fault;
  }

  /** Requests received for an action (answered or faulted) since start. */
  calls(action: string): number {
    return this.received.get(action) ?? 0;
  }

  /** Injected throttles and 500s actually answered since start. */
  get faultsInjected(): number {
    return this.faultsAnswered;
  }

  /** Injected faults not consumed yet (for an action, or all). */
  pendingFaults(action?: string): number {
    return this.faults.filter((f) => action === undefined || f.action === action).reduce((n, f) => n + f.remaining, 0);
  }

  /** Waits for transitions in flight; used on shutdown. */
  async idle(): Promise<void> {
    await this.chain;
    await this.settled();
  }

  private readonly inFlight = new Set<Promise<void>>();

  background(work: Promise<void>): void {
    const tracked: Promise<void> = work.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
