import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, Me } from '../contract/index.ts';

export const meRoutes: FastifyPluginAsyncZod<{ administrators: string[] }> = async (app, opts) => {
  const admins = new Set(opts.administrators.map((u) => u.toLowerCase()));
  app.get(
    '/me',
    { schema: { tags: ['identity'], summary: 'The calling vCenter user', response: { 200: Me, 401: ApiErrorBody } } },
    async (request) => {
      const { session } = await request.vcenter();
      return { userName: session.userName, isAdministrator: admins.has(session.userName.toLowerCase()) };
    },
  );
};
