import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, MigrationAccepted, MigrationRequest } from '../contract/index.ts';
import { MigrationEngine } from '../engine/engine.ts';
import { AppError } from '../errors.ts';
import type { EffectiveImportOptions } from '../contract/index.ts';
import type { EnvironmentRecord } from '../store/index.ts';
import { admitVm, environmentForMigration, handOverSession, preflightBlocked, submissionFor, type AdmittedVm } from './migration-admission.ts';
import { audit } from './access-helpers.ts';
import { auditInputRefusals } from './input-refusals.ts';

/**
 * Seed "VM Import Authorization", steps 3–6: the connector verifies the token, then that the user may export the
 * VM, then the pre-flight blockers, and hands the request to the migration engine (202 with an import task ID,
 * or a queued task ID when the connector already runs its maximum).
 */
export const migrationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/migrations',
    {
      schema: {
        operationId: 'startMigration',
        tags: ['migrations'],
        summary: 'Start migrating a VM to EC2 with an import authorization token',
        description:
          'mode cold (default, "Migrate now") copies the whole disk, then imports it; mode warm ("Replicate, then cut over") replicates the running VM\'s changed blocks into EBS snapshots every replicationIntervalMinutes (default 15) until someone cuts over (POST /migrations/{id}/cutover), with the pre-flight\'s replication checks. A VM has at most one active migration (queued, running or cancelling). A request for a VM that has one is refused with 409 MIGRATION_ALREADY_RUNNING, naming it (details: migrationId, requestedBy, state, phase) and audited. That check comes last, when the task is recorded, so the request has already used its single-use import authorization: begin again (a new authorization) once the running migration has ended.',
        body: MigrationRequest,
        response: {
          202: MigrationAccepted,
          400: ApiErrorBody,
          401: ApiErrorBody,
          403: ApiErrorBody,
          404: ApiErrorBody,
          409: ApiErrorBody,
          422: ApiErrorBody,
          503: ApiErrorBody,
        },
      },
      // A body refused before the handler runs (e.g. no token) is audited like every other refusal.
      onError: auditInputRefusals(app, 'migration.request'),
    },
    async (request, reply) => {
      const caller = await request.caller();
      const body = request.body;
      // Checked before the token is redeemed, so the user can retry with the same token after the update.
      if (app.engine.updating) {
        throw new AppError(503, 'CONNECTOR_UPDATING', 'The connector is being updated and accepts no new migrations right now. Running migrations continue; try again in a few minutes.');
      }
      let environment: EnvironmentRecord | undefined;
      // Known once the pre-flight has read the VM; entries before that carry only the id.
      let vmName: string | undefined;
      // The request's Advanced choices over the environment's defaults, as the pre-flight checked them.
      let importOptions: EffectiveImportOptions | undefined;
      let vm: AdmittedVm | undefined;
      const base = { action: 'migration.request' as const, environmentId: body.environmentId, vmId: body.vmId };
      const refuse = async (err: AppError): Promise<never> => {
        await audit(app, caller, { ...base, ...(vmName ? { vmName } : {}), outcome: 'denied', code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
        throw err;
      };
      /** The engine refuses a second active migration of the VM atomically (409, audited); the session handed over for it is ended. */
      const refusedIfRunning = async <T>(taskId: string, submit: () => T): Promise<T> => {
        try {
          return await submit();
        } catch (err) {
          if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
          await app.engineSessions.end(taskId);
          return refuse(err);
        }
      };
      try {
        await app.importTokens.redeem(body.token, { user: caller.principal, environmentId: body.environmentId, vmId: body.vmId });
        const { environment: env, role } = await environmentForMigration(app, caller, body.environmentId);
        environment = env;
        const admitted = await admitVm(app, caller, env, role, body);
        vmName = admitted.vmName;
        importOptions = admitted.importOptions;
        vm = admitted;
        if (admitted.blockers.length > 0) throw preflightBlocked(admitted.blockers);
      } catch (err) {
        if (err instanceof AppError && err.statusCode < 500) return refuse(err);
        throw err;
      }
      // The engine exports with its configured vCenter account, or else with a clone of the requester's session.
      const id = MigrationEngine.newId();
      await handOverSession(app, caller, id);
      const task = await refusedIfRunning(id, () => app.engine.submit(submissionFor(body, vm!, environment!, caller.principal), id));
      const what = body.mode === 'warm' ? 'warm migration (replicate, then cut over)' : 'migration';
      await audit(app, caller, { ...base, ...(vmName ? { vmName } : {}), outcome: 'granted', message: `Import authorized; ${what} ${task.id} ${task.idKind === 'import' ? 'started' : 'queued'}.`, ...(importOptions ? { details: { importOptions } } : {}) });
      return reply.status(202).send({ id: task.id, idKind: task.idKind, state: task.state, ...(task.queuePosition ? { queuePosition: task.queuePosition } : {}) });
    },
  );
};
