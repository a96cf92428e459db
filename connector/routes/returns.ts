// "Bring back to vCenter" (issue 16): a completed export's OVA imported into vCenter as a new VM, in the user's own
// vCenter session. Who may: a portal administrator, or a user with General or Owner in the export's environment; and
// vCenter's own privileges of that user on the target (checked here before anything starts, and again by vCenter).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, ReturnList, ReturnListQuery, ReturnPreflight, ReturnRequest, ReturnTask, TaskIdParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import type { ExportRecord } from '../engine/task-store.ts';
import { RETURN_EXPORT_PREFIX } from '../roundtrip/instance-source.ts';
import { returnPreflight, type ReturnPreflightOutcome } from '../roundtrip/preflight.ts';
import { Vim25Client } from '../vsphere/vim25.ts';
import { audit } from './access-helpers.ts';
import { preflightSource, returnSource } from './return-sources.ts';

/** Who may cancel a task (also for the UI's tooltip). */
const CANCEL_RULE = 'The user who requested it or an administrator can cancel it.';

function preflightView(p: ReturnPreflightOutcome) {
  return {
    checks: p.checks,
    sourceNetworks: p.sourceNetworks,
    ...(p.diskCapacityBytes !== undefined ? { diskCapacityBytes: p.diskCapacityBytes } : {}),
    ...(p.datastoreFreeBytes !== undefined ? { datastoreFreeBytes: p.datastoreFreeBytes } : {}),
  };
}

export const returnRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/returns/preflight',
    {
      schema: {
        operationId: 'preflightReturn',
        tags: ['returns'],
        summary: 'Check a Bring back to vCenter request before starting it',
        description: 'Every blocker at once: the export is completed, the target exists, your vCenter privileges on it (vApp > Import on the resource pool and folder, Datastore > Allocate space, Network > Assign network, and Virtual machine > Interaction > Power on on the folder when powerOn), free space on the datastore for the disks\' capacity, the name is free in the folder, every source network is mapped to an existing network.',
        body: ReturnRequest,
        response: { 200: ReturnPreflight, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const src = await returnSource(app, caller, request.body);
      const p = await returnPreflight(caller.vcenter.client, caller.vcenter.session.key, request.body, await preflightSource(app, src));
      return preflightView(p);
    },
  );

  app.post(
    '/returns',
    {
      schema: {
        operationId: 'startReturn',
        tags: ['returns'],
        summary: 'Bring an exported or imported instance back to vCenter',
        description:
          'From a completed export (exportId), or from an imported instance (instanceId and environmentId; administrators): the task then exports the instance to S3 first (the export rules of POST /exports and what VM Export refuses are pre-flight blockers) and imports its OVA. Runs the pre-flight first: a missing vCenter privilege answers 403 PRIVILEGE_MISSING, any other blocker 422 RETURN_BLOCKED; both list every blocker in details.checks. The import runs in your own vCenter session. Every request, started or refused, is in the audit log (action return.request).',
        body: ReturnRequest,
        response: { 202: ReturnTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody, 422: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await request.caller();
      const body = request.body;
      const src = await returnSource(app, caller, body);
      const base = { action: 'return.request' as const, environmentId: src.environmentId };
      const details = { ...(src.kind === 'export' ? { exportId: src.exp.id } : {}), instanceId: src.instanceId, name: body.name, folderId: body.folderId, datastoreId: body.datastoreId, computeResource: body.computeResource };
      let rec;
      let started: ExportRecord | undefined;
      try {
        const p = await returnPreflight(caller.vcenter.client, caller.vcenter.session.key, body, await preflightSource(app, src));
        const blockers = p.checks.filter((c) => c.severity === 'blocker');
        const denied = blockers.filter((c) => c.code === 'PRIVILEGE_MISSING');
        if (denied.length) {
          throw new AppError(403, 'PRIVILEGE_MISSING', `You cannot bring the VM back there: ${denied.map((c) => c.message).join(' ')}`, { checks: blockers });
        }
        if (blockers.length) {
          const [first] = blockers;
          throw new AppError(
            422,
            'RETURN_BLOCKED',
            `The VM cannot be brought back: ${first!.message}${blockers.length > 1 ? ` (and ${blockers.length - 1} more problem${blockers.length > 2 ? 's' : ''})` : ''}`,
            { checks: blockers },
          );
        }
        // From an imported instance: the connector's own export (its rules, EC2's refusals) is the task's first phase.
        if (src.kind === 'instance') {
          started = await app.exportsService.start({ environmentId: src.environmentId, region: src.region, instanceId: src.instanceId, s3Prefix: RETURN_EXPORT_PREFIX, requestedBy: caller.principal });
          await audit(app, caller, {
            action: 'export.request',
            environmentId: src.environmentId,
            outcome: 'granted',
            message: `Export ${started.exportTaskId} of ${src.instanceId} started (${started.id}) to bring it back to vCenter as "${body.name}".`,
            details: { instanceId: src.instanceId, exportId: started.id, exportTaskId: started.exportTaskId },
          });
        }
        const exp = src.kind === 'export' ? src.exp : started!;
        // The import runs in a clone of the user's session: vCenter applies this user's privileges to it.
        const ticket = await caller.vcenter.client.acquireCloneTicket();
        const own = await Vim25Client.connect({ sdkUrl: caller.vcenter.client.sdkUrl, ...app.engineSessions.tls });
        try {
          await own.cloneSession(ticket);
        } catch (err) {
          own.close();
          throw err;
        }
        rec = await app.returns.start(
          {
            environmentId: exp.environmentId,
            region: exp.region,
            ...(src.kind === 'instance' ? { source: 'instance' as const, exportTaskId: exp.exportTaskId } : {}),
            exportId: exp.id,
            instanceId: exp.instanceId,
            bucket: exp.bucket,
            s3Key: exp.s3Key ?? '',
            name: body.name,
            folderId: body.folderId,
            computeResource: body.computeResource,
            datastoreId: body.datastoreId,
            networkMappings: body.networkMappings,
            diskProvisioning: body.diskProvisioning,
            powerOn: body.powerOn,
            requestedBy: caller.principal,
            poolId: p.pool!.value,
            ...(p.host ? { hostId: p.host.value } : {}),
          },
          own,
        );
      } catch (err) {
        // An export started for a task that never began is not left running.
        if (started) await app.exportsService.cancel(started.id, caller.principal).catch(() => undefined);
        if (err instanceof AppError && err.statusCode < 500) {
          await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message, details: { ...details, ...(err.details ?? {}) } });
        }
        throw err;
      }
      const from = src.kind === 'export' ? `${src.instanceId} (export ${src.exp.exportTaskId})` : `${src.instanceId} (exported first, ${rec.exportTaskId})`;
      await audit(app, caller, { ...base, outcome: 'granted', message: `Bringing ${from} back to vCenter as "${body.name}" (${rec.id}).`, details: { ...details, exportId: rec.exportId, returnId: rec.id } });
      return reply.status(202).send(rec);
    },
  );

  app.get(
    '/returns',
    { schema: { operationId: 'listReturns', tags: ['returns'], summary: 'Bring back to vCenter tasks, newest first (administrators see all, others their own)', querystring: ReturnListQuery, response: { 200: ReturnList, 401: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      return app.returns.list({ ...request.query, ...(caller.isAdministrator ? {} : { requestedBy: caller.principal }) });
    },
  );

  app.get(
    '/returns/:id',
    { schema: { operationId: 'getReturn', tags: ['returns'], summary: 'One Bring back to vCenter task', params: TaskIdParams, response: { 200: ReturnTask, 401: ApiErrorBody, 404: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      const rec = await app.returns.get(request.params.id);
      if (!rec || (!caller.isAdministrator && rec.requestedBy !== caller.principal)) throw new AppError(404, 'NOT_FOUND', `There is no task ${request.params.id}.`);
      return rec;
    },
  );

  app.post(
    '/returns/:id/cancel',
    {
      schema: {
        operationId: 'cancelReturn',
        tags: ['returns'],
        summary: 'Cancel a Bring back to vCenter task',
        description: `${CANCEL_RULE} The import lease is aborted and the half-made VM removed, in any phase. Anyone else is refused with 403 CANCEL_NOT_ALLOWED. Every cancel, granted or refused, is in the audit log (action return.cancel).`,
        params: TaskIdParams,
        response: { 200: ReturnTask, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const id = request.params.id;
      const rec = await app.returns.get(id);
      const base = { action: 'return.cancel' as const, ...(rec ? { environmentId: rec.environmentId } : {}), details: { returnId: id } };
      if (!caller.isAdministrator && rec?.requestedBy !== caller.principal) {
        const err = new AppError(403, 'CANCEL_NOT_ALLOWED', `You cannot cancel task ${id}. ${CANCEL_RULE}`);
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      if (!rec) {
        const err = new AppError(404, 'NOT_FOUND', `There is no task ${id}.`);
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      let after;
      try {
        after = (await app.returns.cancel(id, caller.principal))!;
      } catch (err) {
        if (err instanceof AppError) await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      const message =
        rec.state === 'running'
          ? `Cancelled bringing "${rec.name}" back to vCenter (${id}, requested by ${rec.requestedBy}).`
          : `Asked to cancel ${id}, which was already ${rec.state}: nothing changed.`;
      await audit(app, caller, { ...base, outcome: 'granted', message });
      return after;
    },
  );
};
