import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiErrorBody, MigrationList, MigrationListQuery, MigrationTask, TaskIdParams, WarmTestRequest, type AuditAction, type ErrorCode } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { Caller } from '../auth/plugin.ts';
import type { AuditInput } from '../store/index.ts';
import { GUEST_SHUTDOWN_PRIVILEGE } from '../preflight/warm-facts.ts';
import { VimFault } from '../vsphere/vim25.ts';
import { audit, loadEnvironment, visibleEnvironments } from './access-helpers.ts';
import { auditInputRefusals } from './input-refusals.ts';

/** Who may act on a migration: cancel it and, for warm ones, launch or finish a test instance and cut over. */
const actRule = (verb: string) => `The user who requested it, an environment Owner or an administrator can ${verb}.`;
/** Also the UI's tooltip, ui/i18n `migrations.cancelRule`. */
const CANCEL_RULE = actRule('cancel it');

/** An audit entry's subject (who acted, on what), completed with outcome and message where the outcome is known. */
type AuditBase = Omit<AuditInput, 'actor' | 'outcome' | 'message'>;

/** A route's action on one migration: its audit action, how the refusal names it, and its 403 code. */
interface TaskAction {
  audit: AuditAction;
  /** "cancel migration X", "cut over migration X" … */
  what: (id: string) => string;
  /** The rule's verb: "cancel it", "cut it over" … */
  verb: string;
  refusal: ErrorCode;
}
const notFound = (id: string) => new AppError(404, 'NOT_FOUND', `There is no migration ${id}. Check the import task ID or queued task ID.`);
const CANCEL: TaskAction = { audit: 'migration.cancel', what: (id) => `cancel migration ${id}`, verb: 'cancel it', refusal: 'CANCEL_NOT_ALLOWED' };
const TEST_LAUNCH: TaskAction = { audit: 'migration.test-launch', what: (id) => `launch a test instance of migration ${id}`, verb: 'launch its test instance', refusal: 'MIGRATION_ACTION_NOT_ALLOWED' };
const TEST_FINISH: TaskAction = { audit: 'migration.test-finish', what: (id) => `finish the test of migration ${id}`, verb: 'finish its test', refusal: 'MIGRATION_ACTION_NOT_ALLOWED' };
const CUTOVER: TaskAction = { audit: 'migration.cutover', what: (id) => `cut over migration ${id}`, verb: 'cut it over', refusal: 'MIGRATION_ACTION_NOT_ALLOWED' };

/**
 * The one "who may act on this migration" check: the task must be visible to the caller (else 404, as if it did not
 * exist), and the caller must be its requester, an Owner of its environment or an administrator (else 403). Every
 * refusal is audited; the caller audits the grant once the action's outcome is known.
 */
async function authorizeTaskAction(
  app: FastifyInstance,
  caller: Caller,
  id: string,
  action: TaskAction,
): Promise<{ task: MigrationTask; base: AuditBase }> {
  const task = await app.engine.get(id);
  const envs = await visibleEnvironments(app, caller);
  const own = task?.requestedBy === caller.principal;
  if (!task || (envs && !envs.has(task.environmentId) && !own)) {
    const err = notFound(id);
    await audit(app, caller, { action: action.audit, outcome: 'denied', ...(task ? { environmentId: task.environmentId } : {}), code: err.code, message: err.message, details: { migrationId: id } });
    throw err;
  }
  const base = { action: action.audit, environmentId: task.environmentId, vmId: task.vmId, ...(task.vmName ? { vmName: task.vmName } : {}), details: { migrationId: task.id } };
  const role = caller.isAdministrator ? 'Owner' : await app.access.roleIn(caller.principal, task.environmentId);
  if (!own && role !== 'Owner') {
    const err = new AppError(403, action.refusal, `You cannot ${action.what(task.id)}: it was requested by ${task.requestedBy}. ${actRule(action.verb)} Ask one of them to ${action.verb}.`);
    await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
    throw err;
  }
  return { task, base };
}

/**
 * The two routes every open portal tab polls send the JSON the engine keeps (engine/task-json.ts): each task view is
 * built field by field from the contract type, and validating or serialising 50 views on every poll were the largest
 * costs in the polling benchmark (docs/benchmarks.md). The schemas stay for the OpenAPI document; tests parse the
 * responses against them. What is kept is the same for every caller; who may see it is checked on every request.
 */
const plainJson = { serializerCompiler: () => (data: unknown) => JSON.stringify(data) };
/** Sends what the engine serialised already (the route's response schema describes it). */
const sendJson = (reply: FastifyReply, body: Buffer | string) => reply.type('application/json; charset=utf-8').send(body);

/** GET /migrations (newest first, filtered, paged), GET /migrations/{id}, POST /migrations/{id}/cancel. */
export const migrationTaskRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/migrations',
    { ...plainJson, schema: { operationId: 'listMigrations', tags: ['migrations'], summary: 'Migration tasks, newest first', querystring: MigrationListQuery, response: { 200: MigrationList, 401: ApiErrorBody } } },
    async (request, reply) => {
      const caller = await request.caller();
      const envs = await visibleEnvironments(app, caller);
      const q = request.query;
      if (envs && q.environmentId && !envs.has(q.environmentId)) return { items: [], total: 0 };
      // Non-administrators without an environment: only environments they hold a role in (sorted: one page key per set).
      const filter = envs && !q.environmentId ? { ...q, environmentIds: [...envs].sort() } : q;
      return sendJson(reply, await app.engine.listJson(filter));
    },
  );

  app.get(
    '/migrations/:id',
    { ...plainJson, schema: { operationId: 'getMigration', tags: ['migrations'], summary: 'One migration task', params: TaskIdParams, response: { 200: MigrationTask, 401: ApiErrorBody, 404: ApiErrorBody } } },
    async (request, reply) => {
      const caller = await request.caller();
      const task = await app.engine.getJson(request.params.id);
      const envs = await visibleEnvironments(app, caller);
      if (!task || (envs && !envs.has(task.environmentId))) throw notFound(request.params.id);
      return sendJson(reply, task.json);
    },
  );

  app.post(
    '/migrations/:id/cancel',
    {
      schema: {
        operationId: 'cancelMigration',
        tags: ['migrations'],
        summary: 'Cancel a migration in any non-terminal phase',
        description: `${CANCEL_RULE} Anyone else is refused with 403 CANCEL_NOT_ALLOWED. The task records who cancelled it (cancelledBy, cancelledAt); every cancel, granted or refused, is in the audit log (action migration.cancel). A migration that already ended is returned unchanged. For a warm migration this is Stop replication: everything the replication created is removed on both sides (vCenter snapshots, EBS snapshots, a test instance).`,
        params: TaskIdParams,
        response: { 200: MigrationTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const { task, base } = await authorizeTaskAction(app, caller, request.params.id, CANCEL);
      const after = (await app.engine.cancel(task.id, caller.principal))!;
      const message =
        task.state === 'queued' || task.state === 'running'
          ? `Cancelled migration ${task.id} (requested by ${task.requestedBy}; it was ${task.state}).`
          : `Asked to cancel migration ${task.id}, which was already ${after.state}: nothing changed.`;
      await audit(app, caller, { ...base, outcome: 'granted', message });
      return after;
    },
  );

  /** Runs a warm action the caller may take; the engine's refusal (409 WARM_ACTION_NOT_AVAILABLE, saying why) is audited too. */
  const warmAction = async (caller: Caller, base: AuditBase, run: () => Promise<MigrationTask>, granted: (t: MigrationTask) => string): Promise<MigrationTask> => {
    let after: MigrationTask;
    try {
      after = await run();
    } catch (err) {
      if (err instanceof AppError && err.statusCode < 500) {
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
      }
      throw err;
    }
    await audit(app, caller, { ...base, outcome: 'granted', message: granted(after) });
    return after;
  };
  /** Whether the caller's own vCenter session may power the VM off (a VM gone from vCenter is the engine's to report). */
  const mayPowerOff = async (caller: Caller, vmId: string): Promise<boolean> => {
    const { client, session } = caller.vcenter;
    try {
      const granted = await client.hasPrivilegeOnEntities([{ type: 'VirtualMachine', value: vmId }], session.key, [GUEST_SHUTDOWN_PRIVILEGE.id]);
      return granted.get(vmId)?.[GUEST_SHUTDOWN_PRIVILEGE.id] === true;
    } catch (err) {
      if (err instanceof VimFault && err.faultType === 'ManagedObjectNotFound') return true;
      throw err;
    }
  };
  const WARM_RULE = `${actRule('do this')} Anyone else is refused with 403 MIGRATION_ACTION_NOT_ALLOWED; a migration that is not replicating (a cold one, or one that ended) is refused with 409 WARM_ACTION_NOT_AVAILABLE saying why. Granted and refused requests are in the audit log`;
  const warmErrors = { 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody };

  app.post(
    '/migrations/:id/test-instance',
    {
      schema: {
        operationId: 'launchTestInstance',
        tags: ['migrations'],
        summary: 'Launch a test instance of a warm migration from its latest replicated point',
        description: `Imports the latest replicated EBS snapshots and launches one instance, tagged as a test, in the chosen subnet of the migration's environment; the VM keeps running and replicating. Answers at once with the task (warm.test shows the test's progress). ${WARM_RULE} (action migration.test-launch). A subnet that is not one of the environment's is refused with 400 SUBNET_NOT_IN_ENVIRONMENT naming them.`,
        params: TaskIdParams,
        body: WarmTestRequest,
        response: { 200: MigrationTask, ...warmErrors },
      },
      // A body refused before the handler runs (e.g. not a subnet id) is audited like the handler's refusals.
      onError: auditInputRefusals(app, 'migration.test-launch'),
    },
    async (request) => {
      const caller = await request.caller();
      const { task, base } = await authorizeTaskAction(app, caller, request.params.id, TEST_LAUNCH);
      const { subnetId } = request.body;
      const env = await loadEnvironment(app, task.environmentId);
      if (!env.subnetIds.includes(subnetId)) {
        const err = new AppError(
          400,
          'SUBNET_NOT_IN_ENVIRONMENT',
          `The subnet ${subnetId} is not one of the subnets of the environment "${env.name}". Select one of its subnets: ${env.subnetIds.join(', ') || 'none yet (an administrator must choose them)'}.`,
          { subnetIds: env.subnetIds },
        );
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      return warmAction(caller, base, () => app.engine.launchTest(task.id, { subnetId }, caller.principal), (t) => `Launching a test instance of migration ${t.id} in ${subnetId} (requested by ${task.requestedBy}).`);
    },
  );

  app.post(
    '/migrations/:id/test-instance/finish',
    {
      schema: {
        operationId: 'finishTestInstance',
        tags: ['migrations'],
        summary: 'Finish the test of a warm migration: terminate the test instance and remove its image',
        description: `Replication continues. Answers at once with the task. ${WARM_RULE} (action migration.test-finish).`,
        params: TaskIdParams,
        response: { 200: MigrationTask, ...warmErrors },
      },
      onError: auditInputRefusals(app, 'migration.test-finish'),
    },
    async (request) => {
      const caller = await request.caller();
      const { task, base } = await authorizeTaskAction(app, caller, request.params.id, TEST_FINISH);
      return warmAction(caller, base, () => app.engine.finishTest(task.id, caller.principal), (t) => `Finishing the test of migration ${t.id}${t.warm?.test?.instanceId ? ` (test instance ${t.warm.test.instanceId})` : ''}.`);
    },
  );

  app.post(
    '/migrations/:id/cutover',
    {
      schema: {
        operationId: 'cutOverMigration',
        tags: ['migrations'],
        summary: 'Cut over a warm migration: power off the VM, replicate once more, launch the instance',
        description: `The VM is shut down through VMware Tools (cutoverShutdown guest; the caller's vCenter role must then allow Virtual machine > Interaction > Power off on it, else 403) or the cutover waits for someone to power it off (user); one final sync copies what changed; the instance is launched as the form asked. Downtime (warm.cutover.downtimeSeconds) runs from power-off to launch. Answers at once with the task. ${WARM_RULE} (action migration.cutover).`,
        params: TaskIdParams,
        response: { 200: MigrationTask, ...warmErrors },
      },
      onError: auditInputRefusals(app, 'migration.cutover'),
    },
    async (request) => {
      const caller = await request.caller();
      const { task, base } = await authorizeTaskAction(app, caller, request.params.id, CUTOVER);
      if (task.warm?.shutdown === 'guest' && !(await mayPowerOff(caller, task.vmId))) {
        // The connector powers the VM off for whoever cuts over: vCenter must allow that user to.
        const p = GUEST_SHUTDOWN_PRIVILEGE;
        const err = new AppError(
          403,
          'MIGRATION_ACTION_NOT_ALLOWED',
          `You cannot cut over migration ${task.id}: it shuts down the guest of "${task.vmName ?? task.vmId}", and your vCenter role does not allow powering it off (${p.label}, ${p.id}). Ask your vCenter administrator for that privilege, or ask someone who holds it to cut over.`,
        );
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      return warmAction(caller, base, () => app.engine.cutover(task.id, caller.principal), (t) => `Cutting over migration ${t.id} (requested by ${task.requestedBy}; ${t.warm?.shutdown === 'user' ? 'waiting for the VM to be powered off' : 'shutting down the guest'}).`);
    },
  );
};
