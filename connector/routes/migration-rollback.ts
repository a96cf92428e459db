// POST /migrations/{id}/rollback (issue 16, "Roll back a cutover"): stop (or terminate) the migrated instance and
// power the source VM back on, once, within the rollback window. Who may: whoever may migrate that VM into that
// environment (a General or Owner role, and vApp > Export on the VM in vCenter), plus power-on rights on the VM.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, MigrationTask, RollbackRequest, TaskIdParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { AuditInput } from '../store/index.ts';
import { requireVmExport } from '../auth/vm-export.ts';
import { powerOnSource, rollbackRefusal, settleInstance, type RollbackRecord } from '../engine/rollback.ts';
import { EVENT_TYPES, formatEvent } from '../vcenter-tasks/catalog.ts';
import { postEvent } from '../vsphere/tasks-events.ts';
import { VimFault } from '../vsphere/vim25.ts';
import { audit, visibleEnvironments } from './access-helpers.ts';
import { environmentForMigration } from './migration-admission.ts';
import { auditInputRefusals } from './input-refusals.ts';

const POWER_ON_PRIVILEGE = { id: 'VirtualMachine.Interact.PowerOn', label: 'Virtual machine > Interaction > Power on' };

const refusal = (message: string, details?: Record<string, unknown>) => new AppError(409, 'ROLLBACK_NOT_AVAILABLE', message, details);

export const migrationRollbackRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/migrations/:id/rollback',
    {
      schema: {
        operationId: 'rollBackMigration',
        tags: ['migrations'],
        summary: 'Roll back a completed migration: stop (or terminate) its EC2 instance and power the source VM back on',
        description:
          'Allowed for a completed migration whose rollback window (engine.rollbackWindowMs, default 7 days from completion) is open, which has not been rolled back, and whose source VM still exists in vCenter; otherwise 409 ROLLBACK_NOT_AVAILABLE saying why (the task view\'s rollback.possible and rollback.reason say so beforehand, except for a deleted VM). ' +
          'The caller needs what migrating that VM into that environment needs (a General or Owner role in the environment, else 403 NO_ENVIRONMENT_PERMISSION; vApp > Export on the VM, else 403 VM_EXPORT_DENIED) and Virtual machine > Interaction > Power on on the VM (403 MIGRATION_ACTION_NOT_ALLOWED). ' +
          'The instance is stopped, or terminated when terminateInstance is true; the VM is powered on with the caller\'s own vCenter session; the rollback is recorded on the task (rollback.state, rolledBackBy, rolledBackAt, instanceAction) so it happens once (a concurrent second request gets 409), posted as the event migration.rolledBack on the VM, and audited (action migration.rollback) whether granted or refused. ' +
          'A warm migration is rolled back the same way; afterwards its replication can be resumed from the last replicated point (POST /migrations/{id}/resume-replication).',
        params: TaskIdParams,
        body: RollbackRequest,
        response: { 200: MigrationTask, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody, 502: ApiErrorBody },
      },
      onError: auditInputRefusals(app, 'migration.rollback'),
    },
    async (request) => {
      const caller = await request.caller();
      const id = request.params.id;
      const terminate = request.body.terminateInstance;
      const stored = await app.migrationTasks.get(id);
      const envs = await visibleEnvironments(app, caller);
      if (!stored || (envs && !envs.has(stored.environmentId) && stored.requestedBy !== caller.principal)) {
        const err = new AppError(404, 'NOT_FOUND', `There is no migration ${id}. Check the import task ID or queued task ID.`);
        await audit(app, caller, { action: 'migration.rollback', outcome: 'denied', ...(stored ? { environmentId: stored.environmentId } : {}), code: err.code, message: err.message, details: { migrationId: id } });
        throw err;
      }
      const vmLabel = stored.vmName ? `"${stored.vmName}" (${stored.vmId})` : stored.vmId;
      const base: Omit<AuditInput, 'actor' | 'outcome' | 'message'> = {
        action: 'migration.rollback',
        environmentId: stored.environmentId,
        vmId: stored.vmId,
        ...(stored.vmName ? { vmName: stored.vmName } : {}),
        details: { migrationId: id, ...(stored.instanceId ? { instanceId: stored.instanceId } : {}), terminateInstance: terminate },
      };
      const refuse = async (err: AppError): Promise<never> => {
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      };

      try {
        await environmentForMigration(app, caller, stored.environmentId);
      } catch (err) {
        if (err instanceof AppError && err.statusCode < 500) return refuse(err);
        throw err;
      }
      if (stored.state !== 'completed') {
        return refuse(refusal(`Migration ${id} cannot be rolled back: it is ${stored.state}. Only a completed migration can be rolled back${stored.state === 'running' || stored.state === 'queued' ? '; to stop it, cancel it' : ''}.`));
      }
      const why = rollbackRefusal(stored, new Date());
      if (why) return refuse(refusal(`Migration ${id} cannot be rolled back. ${why}`, stored.rollback ? { rolledBackBy: stored.rollback.by, rolledBackAt: stored.rollback.at } : undefined));

      // The source VM, as the caller's own session sees it: gone, or not the caller's to export, is refused here.
      try {
        await requireVmExport(caller, stored.vmId);
      } catch (err) {
        if (err instanceof AppError && err.code === 'VM_NOT_FOUND') {
          return refuse(
            refusal(`Migration ${id} cannot be rolled back: its source virtual machine ${vmLabel} no longer exists in vCenter, so there is nothing to power back on. The EC2 instance ${stored.instanceId ?? ''} was left as it is.`),
          );
        }
        if (err instanceof AppError && err.statusCode < 500) return refuse(err);
        throw err;
      }
      const { client, session } = caller.vcenter;
      const mayPowerOn = (await client.hasPrivilegeOnEntities([{ type: 'VirtualMachine', value: stored.vmId }], session.key, [POWER_ON_PRIVILEGE.id])).get(stored.vmId)?.[POWER_ON_PRIVILEGE.id] === true;
      if (!mayPowerOn) {
        return refuse(
          new AppError(
            403,
            'MIGRATION_ACTION_NOT_ALLOWED',
            `You cannot roll back migration ${id}: it powers on the virtual machine ${vmLabel}, and your vCenter role does not allow that (${POWER_ON_PRIVILEGE.label}, ${POWER_ON_PRIVILEGE.id}). Ask your vCenter administrator for that privilege, or ask someone who holds it to roll back.`,
          ),
        );
      }

      const instanceAction = terminate ? 'terminate' : 'stop';
      const claim: RollbackRecord = { state: 'rolling-back', by: caller.principal, at: new Date().toISOString(), instanceAction };
      if (!(await app.migrationTasks.claimRollback(id, claim))) {
        const now = await app.migrationTasks.get(id);
        const r = now?.rollback;
        return refuse(
          refusal(
            `Migration ${id} cannot be rolled back. ${r ? (rollbackRefusal(now!, new Date()) ?? `${r.by} rolled it back at ${r.at}.`) : `It is ${now?.state ?? 'gone'}.`}`,
            r ? { rolledBackBy: r.by, rolledBackAt: r.at } : undefined,
          ),
        );
      }

      // Instance first, then the VM: the two never run side by side.
      const notes: string[] = [];
      try {
        if (stored.instanceId) {
          const note = await settleInstance(app.aws.ec2(stored.region), stored.instanceId, instanceAction);
          if (note) notes.push(note);
        }
        const note = await powerOnSource(client, stored.vmId);
        if (note) notes.push(note);
      } catch (err) {
        const reason = err instanceof VimFault ? `vCenter refused to power on the virtual machine ${vmLabel}: ${err.message}` : `${(err as Error).message}`;
        const error = `The rollback did not finish: ${reason}. ${notes.join(' ')} Check the instance in the EC2 console and the VM in vCenter, then roll back again.`.replace(/\s+/g, ' ').trim();
        await app.migrationTasks.setRollback(id, { ...claim, state: 'failed', finishedAt: new Date().toISOString(), error });
        await audit(app, caller, { ...base, outcome: 'granted', message: `Rollback of migration ${id} started and failed: ${reason}` });
        throw new AppError(502, err instanceof VimFault ? 'VCENTER_ERROR' : 'AWS_ERROR', error);
      }
      const done: RollbackRecord = { ...claim, state: 'rolled-back', finishedAt: new Date().toISOString(), ...(notes.length ? { note: notes.join(' ') } : {}) };
      await app.migrationTasks.setRollback(id, done);

      const verb = terminate ? 'terminated' : 'stopped';
      const args = { migrationId: id, instanceId: stored.instanceId ?? '', instanceAction: verb, rolledBackBy: caller.principal };
      try {
        await postEvent(client, {
          eventTypeId: EVENT_TYPES.rolledBack.id,
          severity: EVENT_TYPES.rolledBack.severity,
          message: formatEvent('rolledBack', args),
          vm: { ref: { type: 'VirtualMachine', value: stored.vmId }, name: stored.vmName ?? stored.vmId },
          arguments: args,
        });
      } catch (err) {
        // The rollback happened; a missing event must not report it as failed.
        app.log.warn(`vCenter: the rollback event of migration ${id} was not posted: ${(err as Error).message}`);
      }
      await audit(app, caller, {
        ...base,
        outcome: 'granted',
        message: `Rolled back migration ${id}: EC2 instance ${stored.instanceId ?? '(none)'} ${verb}, virtual machine ${vmLabel} powered on.${notes.length ? ` ${notes.join(' ')}` : ''}`,
      });
      return (await app.engine.get(id))!;
    },
  );
};
