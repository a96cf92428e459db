import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, Wave, WaveBlocked, WaveCreate, WaveList, WaveListQuery, WaveParams, WAVE_MAX_VMS } from '../contract/index.ts';
import type { Caller } from '../auth/plugin.ts';
import { AppError } from '../errors.ts';
import { audit, visibleEnvironments } from './access-helpers.ts';
import { auditInputRefusals } from './input-refusals.ts';

/** One import authorization per VM (about 0.6 KiB each) for the largest wave, and the common choices. */
const WAVE_BODY_LIMIT = 1024 * 1024;

const CANCEL_RULE = 'The user who created the wave, an Owner of its environment or an administrator can cancel it.';

/** Issue 14: waves as first-class resources — create (every row pre-flighted, all or nothing), list, read, cancel. */
export const waveRoutes: FastifyPluginAsyncZod = async (app) => {
  const notFound = (id: string) => new AppError(404, 'NOT_FOUND', `There is no wave ${id}. Check the wave ID in VM-to-EC2 Migrations.`);
  /** The wave, if the caller may see it (its creator, a role in its environment, or an administrator); else 404. */
  const visibleWave = async (caller: Caller, id: string) => {
    const wave = await app.waves.repo.get(id);
    const envs = await visibleEnvironments(app, caller);
    if (!wave || (envs && !envs.has(wave.environmentId) && wave.createdBy !== caller.principal)) return undefined;
    return wave;
  };

  app.post(
    '/waves',
    {
      bodyLimit: WAVE_BODY_LIMIT,
      schema: {
        operationId: 'createWave',
        tags: ['waves'],
        summary: 'Create a wave: migrate many VMs with common choices and per-VM overrides',
        description:
          `Each row carries its own import authorization (POST /import-authorizations for that VM and environment), checked exactly as POST /migrations checks one, with the common choices and the row's overrides; then the pre-flight of every row (both ends), and whether the VM already has a migration. ` +
          `Any blocked row refuses the whole wave with 422 PREFLIGHT_BLOCKED (details.rows: index, vmId, vmName, blockers) and nothing is created; the authorizations stay unused, so the same request can be sent again once fixed. ` +
          `Otherwise the wave and one migration task per VM are created (201): they carry the wave's priority (higher first, 0–100) and start window (not before: they wait; not after: those still queued are cancelled, saying so). At most ${WAVE_MAX_VMS} VMs; a VM listed twice is refused with 400 naming it. Granted and refused requests are audited (wave.create; each VM also as migration.request).`,
        body: WaveCreate,
        response: { 201: Wave, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 413: ApiErrorBody, 422: WaveBlocked, 503: ApiErrorBody },
      },
      onError: auditInputRefusals(app, 'wave.create'),
    },
    async (request, reply) => {
      const caller = await request.caller();
      return reply.status(201).send(await app.waves.create(caller, request.body));
    },
  );

  app.get(
    '/waves',
    { schema: { operationId: 'listWaves', tags: ['waves'], summary: 'Waves, newest first, with their counts by state, bytes left and ETA', querystring: WaveListQuery, response: { 200: WaveList, 401: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      const envs = await visibleEnvironments(app, caller);
      const q = request.query;
      if (envs && q.environmentId && !envs.has(q.environmentId)) return { items: [], total: 0 };
      return app.waves.list(envs && !q.environmentId ? { ...q, environmentIds: [...envs] } : q);
    },
  );

  app.get(
    '/waves/:id',
    { schema: { operationId: 'getWave', tags: ['waves'], summary: 'One wave with its counts by state, bytes left and ETA', params: WaveParams, response: { 200: Wave, 401: ApiErrorBody, 404: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      const wave = await visibleWave(caller, request.params.id);
      if (!wave) throw notFound(request.params.id);
      return app.waves.view(wave);
    },
  );

  app.post(
    '/waves/:id/cancel',
    {
      schema: {
        operationId: 'cancelWave',
        tags: ['waves'],
        summary: 'Cancel every migration of the wave that has not ended',
        description: `${CANCEL_RULE} Anyone else is refused with 403 CANCEL_NOT_ALLOWED. Each migration is cancelled as POST /migrations/{id}/cancel would (what was done is undone); migrations that already ended stay as they are. Cancelling a cancelled wave changes nothing. Granted and refused requests are audited (wave.cancel).`,
        params: WaveParams,
        response: { 200: Wave, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const id = request.params.id;
      const wave = await visibleWave(caller, id);
      if (!wave) {
        const err = notFound(id);
        await audit(app, caller, { action: 'wave.cancel', outcome: 'denied', code: err.code, message: err.message, details: { waveId: id } });
        throw err;
      }
      const base = { action: 'wave.cancel' as const, environmentId: wave.environmentId, details: { waveId: wave.id } };
      const role = caller.isAdministrator ? 'Owner' : await app.access.roleIn(caller.principal, wave.environmentId);
      if (wave.createdBy !== caller.principal && role !== 'Owner') {
        const err = new AppError(403, 'CANCEL_NOT_ALLOWED', `You cannot cancel the wave "${wave.name}": it was created by ${wave.createdBy}. ${CANCEL_RULE} Ask one of them to cancel it.`);
        await audit(app, caller, { ...base, outcome: 'denied', code: err.code, message: err.message });
        throw err;
      }
      const { wave: after, cancelled } = await app.waves.cancel(wave, caller.principal);
      const message = wave.cancelledAt
        ? `Asked to cancel the wave "${wave.name}" (${wave.id}), cancelled already by ${wave.cancelledBy}${cancelled.length ? `; cancelled ${cancelled.length} more migration${cancelled.length === 1 ? '' : 's'}` : ': nothing changed'}.`
        : `Cancelled the wave "${wave.name}" (${wave.id}, created by ${wave.createdBy}): ${cancelled.length} migration${cancelled.length === 1 ? '' : 's'} cancelled, ${after.counts.completed + after.counts.failed} had already ended.`;
      await audit(app, caller, { ...base, outcome: 'granted', message, details: { waveId: wave.id, cancelled } });
      return after;
    },
  );
};
