import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, Wave, WaveBlocked, WaveCreate, WaveList, WaveListQuery, WaveParams } from '../contract/index.ts';
import { AppError } from '../errors.ts';

/** Issue 14: waves as first-class resources — create (every row pre-flighted, all or nothing), list, read, cancel. */
export const waveRoutes: FastifyPluginAsyncZod = async (app) => {
  const pending = async (): Promise<never> => {
    throw new AppError(503, 'INTERNAL', 'Waves are being built: this endpoint answers once the waves service lands.');
  };
  app.post(
    '/waves',
    {
      schema: {
        operationId: 'createWave',
        tags: ['waves'],
        summary: 'Create a wave: migrate many VMs with common choices and per-VM overrides',
        body: WaveCreate,
        response: { 201: Wave, 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 422: WaveBlocked, 503: ApiErrorBody },
      },
    },
    pending,
  );
  app.get('/waves', { schema: { operationId: 'listWaves', tags: ['waves'], summary: 'Waves, newest first', querystring: WaveListQuery, response: { 200: WaveList, 401: ApiErrorBody } } }, pending);
  app.get('/waves/:id', { schema: { operationId: 'getWave', tags: ['waves'], summary: 'One wave with its counts by state, bytes left and ETA', params: WaveParams, response: { 200: Wave, 401: ApiErrorBody, 404: ApiErrorBody } } }, pending);
  app.post(
    '/waves/:id/cancel',
    { schema: { operationId: 'cancelWave', tags: ['waves'], summary: "Cancel every migration of the wave that has not ended", params: WaveParams, response: { 200: Wave, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody } } },
    pending,
  );
};
