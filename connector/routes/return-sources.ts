// Where a "Bring back to vCenter" request's OVA comes from, and who may use it: a completed export (an administrator,
// or General or Owner in its environment), or an imported instance the task exports first (administrators only: an
// export is theirs to start, POST /exports). Refusals are audited.
import type { FastifyInstance } from 'fastify';
import type { Instance } from '@aws-sdk/client-ec2';
import type { Caller } from '../auth/plugin.ts';
import { canMigrate } from '../auth/access.ts';
import { AppError } from '../errors.ts';
import type { ExportRecord } from '../engine/task-store.ts';
import { instanceSourceChecks } from '../roundtrip/instance-source.ts';
import type { PreflightSource } from '../roundtrip/preflight.ts';
import { audit, loadEnvironment } from './access-helpers.ts';

export type ReturnSource =
  | { kind: 'export'; exp: ExportRecord; environmentId: string; region: string; instanceId: string }
  | { kind: 'instance'; instance: Instance; environmentId: string; region: string; instanceId: string };

/** The export, if the caller may bring it back; refusals are audited. */
export async function exportFor(app: FastifyInstance, caller: Caller, exportId: string): Promise<ExportRecord> {
  const exp = await app.exportsService.get(exportId);
  const allowed = exp && (caller.isAdministrator || canMigrate(await app.access.roleIn(caller.principal, exp.environmentId)));
  if (!exp || !allowed) {
    // Users without a role learn nothing about the export, not even whether it exists.
    const err = new AppError(
      exp ? 403 : 404,
      exp ? 'RETURN_NOT_ALLOWED' : 'NOT_FOUND',
      exp
        ? `You cannot bring export ${exportId} back to vCenter: it needs the General or Owner role in the export's environment. Ask your administrator to grant you permission.`
        : `There is no export ${exportId}.`,
    );
    await audit(app, caller, { action: 'return.request', outcome: 'denied', ...(exp ? { environmentId: exp.environmentId } : {}), code: err.code, message: err.message, details: { exportId } });
    throw err;
  }
  return exp;
}

/** The imported instance, if the caller (an administrator) may export it and bring it back; refusals are audited. */
async function instanceFor(app: FastifyInstance, caller: Caller, environmentId: string, instanceId: string): Promise<ReturnSource> {
  try {
    if (!caller.isAdministrator) {
      throw new AppError(
        403,
        'RETURN_NOT_ALLOWED',
        `You cannot bring instance ${instanceId} back to vCenter: it is exported to S3 first, which only administrators of the AWS Management Portal can start. Ask an administrator, or bring back a completed export (EC2-to-S3 Migrations).`,
      );
    }
    const env = await loadEnvironment(app, environmentId);
    const instance = await app.instancesService.find(env.id, env.region, instanceId);
    return { kind: 'instance', instance, environmentId: env.id, region: env.region, instanceId };
  } catch (err) {
    if (err instanceof AppError && err.statusCode < 500) {
      await audit(app, caller, { action: 'return.request', outcome: 'denied', environmentId, code: err.code, message: err.message, details: { instanceId } });
    }
    throw err;
  }
}

export async function returnSource(app: FastifyInstance, caller: Caller, q: { exportId?: string | undefined; instanceId?: string | undefined; environmentId?: string | undefined }): Promise<ReturnSource> {
  if (q.exportId !== undefined) {
    const exp = await exportFor(app, caller, q.exportId);
    return { kind: 'export', exp, environmentId: exp.environmentId, region: exp.region, instanceId: exp.instanceId };
  }
  return instanceFor(app, caller, q.environmentId!, q.instanceId!);
}

/** What the pre-flight reads the OVA's needs from: the export's OVA, or the instance's export checks and volumes. */
export async function preflightSource(app: FastifyInstance, src: ReturnSource): Promise<PreflightSource> {
  if (src.kind === 'export') return { kind: 'export', exp: src.exp, s3: app.returnsS3(src.region) };
  const { checks, diskCapacityBytes } = await instanceSourceChecks(app.aws.ec2(src.region), app.exportsService, src.instance);
  return { kind: 'instance', checks, diskCapacityBytes };
}
