import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, Me } from '../contract/index.ts';

export const meRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/me',
    { schema: { operationId: 'getMe', tags: ['identity'], summary: 'The calling vCenter user', response: { 200: Me, 401: ApiErrorBody } } },
    async (request) => {
      const caller = await request.caller();
      return { userName: caller.userName, isAdministrator: caller.isAdministrator };
    },
  );
};
