// POST /migrations/{id}/resume-replication (issue 16, "Roll back a cutover": a rolled-back warm migration resumes
// replication from its last point instead of restarting). Who may: whoever may start a warm migration of that VM now
// (a General or Owner role in the environment, vApp > Export on the VM, no pre-flight blocker for replication, e.g.
// the snapshot and CBT privileges). The new task and the one-active-migration rule are the engine's (409).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, MigrationTask, TaskIdParams } from '../contract/index.ts';
import type { ImportOptions } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { AuditInput } from '../store/index.ts';
import { MigrationEngine } from '../engine/engine.ts';
import type { MigrationRecord } from '../engine/types.ts';
import { liveFallback, resumeMarks, resumeRefusal, resumeSubmission, staleResumeClaim, type ResumeRecord } from '../engine/warm/resume.ts';
import { audit, visibleEnvironments } from './access-helpers.ts';
import { admitVm, environmentForMigration, handOverSession, preflightBlocked } from './migration-admission.ts';
import { auditInputRefusals } from './input-refusals.ts';

const refusal = (message: string, details?: Record<string, unknown>) => new AppError(409, 'RESUME_NOT_AVAILABLE', message, details);

/** The completed migration's effective options as the form's Advanced choices (the pre-flight checks them again). */
function choicesOf(t: MigrationRecord): ImportOptions | undefined {
  const o = t.importOptions;
  if (!o) return undefined;
  return { licenseType: o.licenseType, encryption: { encrypted: o.encrypted, ...(o.encrypted && o.kmsKeyId ? { kmsKeyId: o.kmsKeyId } : {}) }, tags: o.tags };
}

export const migrationResumeRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/migrations/:id/resume-replication',
    {
      schema: {
        operationId: 'resumeReplication',
        tags: ['migrations'],
        summary: 'Resume replication of a rolled-back warm migration from its last replicated point',
        description:
          'Allowed for a completed "Replicate, then cut over" migration that was rolled back and not resumed yet; otherwise 409 RESUME_NOT_AVAILABLE saying why and what to do (the task view\'s resume.possible and resume.reason say so beforehand). ' +
          'Starts a new warm migration of the same VM with the same choices (answered 202 with it; its warm.resumedFrom names this one). Its first cycle sends only the blocks changed since the cutover, on top of the last EBS snapshots (ParentSnapshotId), when that point is still usable: the rollback window is open, Changed Block Tracking is still on, the disks are the same and the snapshots still exist. Otherwise it copies the disks whole, and the new task\'s warm.fullSyncReason says why (the view\'s resume.fromLastPoint and resume.fullSyncReason say it beforehand as far as the record knows). ' +
          'The caller needs what starting a warm migration of that VM needs (a General or Owner role in the environment, else 403 NO_ENVIRONMENT_PERMISSION; vApp > Export on the VM, else 403 VM_EXPORT_DENIED; no pre-flight blocker, else 422 PREFLIGHT_BLOCKED), no import authorization. A VM with another active migration is refused with 409 MIGRATION_ALREADY_RUNNING. Granted and refused requests are audited (action migration.resume).',
        params: TaskIdParams,
        response: { 202: MigrationTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody, 422: ApiErrorBody, 502: ApiErrorBody, 503: ApiErrorBody },
      },
      onError: auditInputRefusals(app, 'migration.resume'),
    },
    async (request, reply) => {
      const caller = await request.caller();
      const id = request.params.id;
      let stored = await app.migrationTasks.get(id);
      const envs = await visibleEnvironments(app, caller);
      if (!stored || (envs && !envs.has(stored.environmentId) && stored.requestedBy !== caller.principal)) {
        const err = new AppError(404, 'NOT_FOUND', `There is no migration ${id}. Check the import task ID or queued task ID.`);
        await audit(app, caller, { action: 'migration.resume', outcome: 'denied', ...(stored ? { environmentId: stored.environmentId } : {}), code: err.code, message: err.message, details: { migrationId: id } });
        throw err;
      }
      const base: Omit<AuditInput, 'actor' | 'outcome' | 'message'> = {
        action: 'migration.resume',
        environmentId: stored.environmentId,
        vmId: stored.vmId,
        ...(stored.vmName ? { vmName: stored.vmName } : {}),
        details: { migrationId: id },
      };
      const refuse = async (err: AppError): Promise<never> => {
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      };
      const vmLabel = stored.vmName ? `"${stored.vmName}" (${stored.vmId})` : stored.vmId;

      if (app.engine.updating) {
        return refuse(new AppError(503, 'CONNECTOR_UPDATING', 'The connector is being updated and accepts no new migrations right now. Running migrations continue; try again in a few minutes.'));
      }
      const reject = (err: unknown): Promise<never> => {
        if (err instanceof AppError && err.code === 'VM_NOT_FOUND') {
          return refuse(refusal(`You cannot resume replication of migration ${id}: its source virtual machine ${vmLabel} no longer exists in vCenter. Start a new migration of the VM you want to migrate (Migrate VM to EC2).`));
        }
        if (err instanceof AppError && err.statusCode < 500) return refuse(err);
        throw err;
      };
      const allowed = await environmentForMigration(app, caller, stored.environmentId).catch(reject);
      const marks = resumeMarks(app.migrationTasks);
      if (!marks) throw new AppError(503, 'CONNECTOR_UPDATING', 'This connector\'s task store cannot record a resume. Start a new migration instead.');
      // A claim whose request never finished (its connector stopped): resumed after all if its task exists, else undone.
      if (staleResumeClaim(stored.resume, Date.now())) {
        const left = stored.resume!;
        const made = left.migrationId ? await app.migrationTasks.get(left.migrationId) : undefined;
        await marks.markResume(id, made ? { ...left, state: 'resumed' } : null, ['resuming']);
        stored = (await app.migrationTasks.get(id)) ?? stored;
      }
      const why = resumeRefusal(stored);
      if (why) return refuse(refusal(`You cannot resume replication of migration ${id}. ${why}`, stored.resume?.migrationId ? { resumedAs: stored.resume.migrationId } : undefined));
      const w = stored.warm!;
      const admitted = await admitVm(app, caller, allowed.environment, allowed.role, {
        vmId: stored.vmId,
        platform: stored.platform,
        subnetId: stored.subnetId,
        instanceType: stored.instanceType,
        securityGroupIds: stored.securityGroupIds,
        privateIpAddress: stored.privateIpAddress,
        mode: 'warm',
        cutoverShutdown: w.shutdown,
        imagePath: w.requestedImagePath,
        importOptions: choicesOf(stored),
      }).catch(reject);
      if (admitted.blockers.length > 0) return refuse(preflightBlocked(admitted.blockers));

      // Usable point? Checked where it lives: EBS for the snapshots, the caller's own vCenter session for CBT and disks.
      const fallback = await liveFallback(stored, app.aws.ec2(stored.region), caller.vcenter.client, Date.now());
      const previous = stored.resume?.state === 'released' ? stored.resume : null;
      // The claim names the task it is about to record, so a claim left behind can be told apart from one under way.
      const newId = MigrationEngine.newId();
      const claim: ResumeRecord = { state: 'resuming', by: caller.principal, at: new Date().toISOString(), migrationId: newId };
      if (!(await marks.markResume(id, claim, [null, 'released']))) {
        const now = await app.migrationTasks.get(id);
        return refuse(refusal(`You cannot resume replication of migration ${id}. ${(now && resumeRefusal(now)) ?? 'Someone resumed it at the same moment.'}`));
      }
      let task: MigrationTask;
      try {
        await handOverSession(app, caller, newId);
        task = await app.engine.submit({ ...resumeSubmission(stored, caller.principal, fallback), vmName: admitted.vmName }, newId);
      } catch (err) {
        await marks.markResume(id, previous, ['resuming']);
        await app.engineSessions.end(newId);
        if (err instanceof AppError && err.statusCode < 500) return refuse(err);
        throw err;
      }
      await marks.markResume(id, { state: 'resumed', by: caller.principal, at: claim.at, migrationId: task.id }, ['resuming']);
      const how = fallback ? `with a full sync: ${fallback}` : `from its last replicated point${w.lastSyncAt ? ` (${w.lastSyncAt})` : ''}.`;
      await audit(app, caller, { ...base, details: { migrationId: id, resumedAs: task.id, fromLastPoint: !fallback }, outcome: 'granted', message: `Resumed replication of migration ${id} as warm migration ${task.id} ${how}` });
      return reply.status(202).send(task);
    },
  );
};
