import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, EnvironmentParams, KmsKeyList } from '../contract/index.ts';
import { canMigrate } from '../auth/access.ts';
import { importRoleOrUnknown, listImportKmsKeys } from '../aws/kms-keys.ts';
import { denyEnvironment, loadEnvironment } from './access-helpers.ts';

/** Issue 18: the KMS keys the migration form's Encryption may choose, in the environment's region. */
export const kmsKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/environments/:id/kms-keys',
    {
      schema: {
        operationId: 'listKmsKeys',
        tags: ['environments'],
        summary: 'KMS keys for encrypting imported volumes, each usable or not with the reason (users who may migrate into the environment)',
        description:
          'Usable: enabled, symmetric, for encryption, and the key policy (or, where it delegates to IAM, the role\'s IAM policy) lets the VM Import service role use it: kms:CreateGrant, Decrypt, DescribeKey, Encrypt, GenerateDataKey*, ReEncrypt*.',
        params: EnvironmentParams,
        response: { 200: KmsKeyList, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 502: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const env = await loadEnvironment(app, request.params.id);
      const role = await app.access.roleIn(caller.principal, env.id);
      if (!canMigrate(role)) throw await denyEnvironment(app, caller, env, true);
      return { keys: await listImportKmsKeys(app.aws, env.region, await importRoleOrUnknown(app.aws)) };
    },
  );
};
