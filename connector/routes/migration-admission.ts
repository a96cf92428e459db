// Seed "VM Import Authorization", steps 4–6, for one VM: the path POST /migrations and every row of POST /waves take
// between the import authorization and the engine. One definition, so a wave admits a VM exactly as a single
// migration does.
import type { FastifyInstance } from 'fastify';
import type { EffectiveImportOptions, EnvironmentRole, GuestPlatform, ImportOptions, MigrationMode, PreflightCheck, CutoverShutdown, WarmImagePath } from '../contract/index.ts';
import type { Caller } from '../auth/plugin.ts';
import { canMigrate } from '../auth/access.ts';
import { requireVmExport } from '../auth/vm-export.ts';
import { preflightWithOptions } from '../preflight/run.ts';
import type { EnvironmentRecord } from '../store/index.ts';
import type { MigrationSubmission } from '../engine/types.ts';
import { Vim25Client } from '../vsphere/vim25.ts';
import { AppError } from '../errors.ts';
import { loadEnvironment, noEnvironmentPermission } from './access-helpers.ts';

/** The form's choices for one VM (POST /migrations' body, or a wave's common choices with the row's overrides). */
export interface MigrationChoices {
  vmId: string;
  platform: GuestPlatform;
  subnetId: string;
  instanceType: string;
  securityGroupIds: string[];
  privateIpAddress?: string | undefined;
  mode: MigrationMode;
  replicationIntervalMinutes?: number | undefined;
  cutoverShutdown?: CutoverShutdown | undefined;
  imagePath?: WarmImagePath | undefined;
  importOptions?: ImportOptions | undefined;
}

export interface AdmittedVm {
  vmName: string;
  /** Sum of the VM's disk capacities: what a wave counts as bytes left before the copy reports its own sizes. */
  diskBytes: number;
  /** The request's Advanced choices over the environment's defaults, as the pre-flight checked them. */
  importOptions: EffectiveImportOptions;
  kmsKeyArn?: string;
  /** The pre-flight's blockers (empty: the VM may migrate with these choices). */
  blockers: PreflightCheck[];
}

/** Step 4: the environment exists and the caller may migrate into it (permissions may have changed since the token). */
export async function environmentForMigration(app: FastifyInstance, caller: Caller, environmentId: string): Promise<{ environment: EnvironmentRecord; role: EnvironmentRole }> {
  const environment = await loadEnvironment(app, environmentId);
  const role = await app.access.roleIn(caller.principal, environment.id);
  if (!canMigrate(role)) throw noEnvironmentPermission(environment, true);
  return { environment, role };
}

/**
 * Steps 5–6: the caller's own vCenter session may export the VM (403 VM_EXPORT_DENIED, 404 VM_NOT_FOUND otherwise),
 * then the pre-flight of both ends with these choices. Blockers are returned, not thrown: a single migration refuses
 * with the first, a wave with every row's.
 */
export async function admitVm(app: FastifyInstance, caller: Caller, environment: EnvironmentRecord, role: EnvironmentRole, choices: MigrationChoices): Promise<AdmittedVm> {
  const vm = await requireVmExport(caller, choices.vmId);
  const { result, importOptions, kmsKeyArn } = await preflightWithOptions(app.aws, {
    caller,
    environment,
    role,
    vmId: choices.vmId,
    subnetId: choices.subnetId,
    privateIpAddress: choices.privateIpAddress,
    instanceType: choices.instanceType,
    platform: choices.platform,
    securityGroupIds: choices.securityGroupIds,
    mode: choices.mode,
    cutoverShutdown: choices.cutoverShutdown,
    imagePath: choices.imagePath,
    importOptions: choices.importOptions,
  });
  return {
    vmName: result.vmName ?? vm.name,
    diskBytes: vm.disks.reduce((sum, d) => sum + d.capacityBytes, 0),
    importOptions,
    ...(kmsKeyArn ? { kmsKeyArn } : {}),
    blockers: result.checks.filter((c) => c.severity === 'blocker'),
  };
}

/** 422 PREFLIGHT_BLOCKED for one VM: the first blocker's message, how many more, and all of them in the details. */
export function preflightBlocked(blockers: PreflightCheck[]): AppError {
  const [first] = blockers;
  return new AppError(
    422,
    'PREFLIGHT_BLOCKED',
    `The migration cannot start: ${first?.message ?? ''}${blockers.length > 1 ? ` (and ${blockers.length - 1} more problem${blockers.length > 2 ? 's' : ''})` : ''}`,
    { checks: blockers },
  );
}

/** What the engine records for an admitted VM. */
export function submissionFor(choices: MigrationChoices, admitted: AdmittedVm, environment: EnvironmentRecord, requestedBy: string): MigrationSubmission {
  return {
    environmentId: environment.id,
    region: environment.region,
    vmId: choices.vmId,
    vmName: admitted.vmName,
    platform: choices.platform,
    subnetId: choices.subnetId,
    instanceType: choices.instanceType,
    securityGroupIds: choices.securityGroupIds,
    privateIpAddress: choices.privateIpAddress,
    requestedBy,
    importOptions: admitted.importOptions,
    ...(admitted.kmsKeyArn ? { kmsKeyArn: admitted.kmsKeyArn } : {}),
    // A cold submission stays exactly what it was before warm migration existed.
    ...(choices.mode === 'warm'
      ? { mode: 'warm' as const, replicationIntervalMinutes: choices.replicationIntervalMinutes, cutoverShutdown: choices.cutoverShutdown, imagePath: choices.imagePath }
      : {}),
  };
}

/** Without a configured engine account the task runs on a clone of the requester's session, handed over here. */
export async function handOverSession(app: FastifyInstance, caller: Caller, taskId: string): Promise<void> {
  if (!app.engineSessions.needsHandOver) return;
  const ticket = await caller.vcenter.client.acquireCloneTicket();
  const own = await Vim25Client.connect({ sdkUrl: caller.vcenter.client.sdkUrl, ...app.engineSessions.tls });
  await own.cloneSession(ticket);
  app.engineSessions.handOver(taskId, own);
}
