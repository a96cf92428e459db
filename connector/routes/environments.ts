import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ApiErrorBody,
  Environment,
  EnvironmentInput,
  EnvironmentList,
  EnvironmentParams,
  EnvironmentPermissions,
  EnvironmentPermissionsInput,
  InstanceTypeList,
  InstanceTypeQuery,
  SecurityGroupList,
  SubnetList,
} from '../contract/index.ts';
import { canView } from '../auth/access.ts';
import { assessImportKey, importRoleOrUnknown } from '../aws/kms-keys.ts';
import { normalizeUserName } from '../auth/users.ts';
import { AppError } from '../errors.ts';
import type { Caller } from '../auth/plugin.ts';
import { StoreConflictError, type EnvironmentFields, type EnvironmentRecord } from '../store/index.ts';
import { audit, denyEnvironment, loadEnvironment, requireAdministrator, toEnvironmentDto } from './access-helpers.ts';

const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 403: ApiErrorBody, 404: ApiErrorBody, 502: ApiErrorBody };
const tags = ['environments'];

/** Checks an environment against AWS before it is stored: region enabled, VPC, subnets, groups and types exist there. */
async function validateAgainstAws(app: FastifyInstance, input: EnvironmentInput): Promise<EnvironmentFields> {
  const { aws } = app;
  const problems: string[] = [];
  const details: Record<string, unknown> = {};
  if (!aws.isRegionEnabled(input.region)) {
    throw new AppError(422, 'ENVIRONMENT_INVALID', `The region ${input.region} is not enabled on this connector (enabled: ${aws.regions.join(', ')}).`, {
      region: input.region,
    });
  }
  if (!(await aws.vpcExists(input.region, input.vpcId))) {
    throw new AppError(422, 'ENVIRONMENT_INVALID', `The VPC ${input.vpcId} does not exist in ${input.region}.`, { vpcId: input.vpcId });
  }
  const defaultKey = input.importDefaults.encryption.encrypted ? input.importDefaults.encryption.kmsKeyId : undefined;
  const [subnets, groups, offered, key] = await Promise.all([
    aws.subnets(input.region, input.vpcId, input.subnetIds),
    aws.securityGroups(input.region, input.vpcId, input.securityGroupIds),
    input.instanceTypes.length ? aws.offeredInstanceTypes(input.region) : Promise.resolve([]),
    defaultKey ? assessImportKey(aws, input.region, defaultKey, await importRoleOrUnknown(aws)) : Promise.resolve(undefined),
  ]);
  const missingSubnets = input.subnetIds.filter((id) => !subnets.some((s) => s.id === id));
  const missingGroups = input.securityGroupIds.filter((id) => !groups.some((g) => g.id === id));
  const notOffered = input.instanceTypes.filter((t) => !offered.includes(t));
  if (missingSubnets.length) (problems.push(`subnets not in ${input.vpcId}: ${missingSubnets.join(', ')}`), (details.subnetIds = missingSubnets));
  if (missingGroups.length) (problems.push(`security groups not in ${input.vpcId}: ${missingGroups.join(', ')}`), (details.securityGroupIds = missingGroups));
  if (notOffered.length) (problems.push(`instance types not offered in ${input.region}: ${notOffered.join(', ')}`), (details.instanceTypes = notOffered));
  // The default KMS key (issue 18) must be one an import in this region can use.
  const keyProblem = key && (!key.found ? key.message : (key.problem ?? key.policyProblem));
  if (keyProblem) (problems.push(`default KMS key ${defaultKey}: ${keyProblem.replace(/\.$/, '')}`), (details.kmsKeyId = defaultKey));
  if (problems.length) throw new AppError(422, 'ENVIRONMENT_INVALID', `The environment does not match AWS: ${problems.join('; ')}.`, details);
  return {
    name: input.name,
    description: input.description,
    region: input.region,
    vpcId: input.vpcId,
    subnetIds: input.subnetIds,
    securityGroupIds: input.securityGroupIds,
    instanceTypes: input.instanceTypes,
    importDefaults: input.importDefaults,
  };
}

const nameTaken = (err: unknown) =>
  err instanceof StoreConflictError ? new AppError(409, 'ENVIRONMENT_NAME_TAKEN', `${err.message} Choose another name.`) : err;

const summary = (e: EnvironmentRecord | EnvironmentFields) => ({
  name: e.name,
  region: e.region,
  vpcId: e.vpcId,
  subnetIds: e.subnetIds,
  securityGroupIds: e.securityGroupIds,
  instanceTypes: e.instanceTypes,
  importDefaults: e.importDefaults,
});

/** Environments (seed "Managing Environments"), their permissions and the live AWS lookups of the migration form. */
export const environmentRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/environments',
    { schema: { operationId: 'listEnvironments', tags, summary: 'Environments the caller holds a role in (administrators: all)', response: { 200: EnvironmentList, ...errors } } },
    async (request) => {
      const caller = await request.caller();
      const all = await app.store.environments.list();
      if (caller.isAdministrator) return { environments: all.map((e) => toEnvironmentDto(e, 'Owner')) };
      const roles = await app.access.rolesOf(caller.principal);
      return {
        environments: all.flatMap((e) => {
          const role = roles.get(e.id) ?? 'NoAccess';
          return canView(role) ? [toEnvironmentDto(e, role)] : [];
        }),
      };
    },
  );

  app.post(
    '/environments',
    {
      schema: {
        operationId: 'createEnvironment',
        tags,
        summary: 'Create an environment (administrators)',
        body: EnvironmentInput,
        response: { 201: Environment, ...errors, 409: ApiErrorBody, 422: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await requireAdministrator(app, request);
      const fields = await validateAgainstAws(app, request.body);
      const created = await app.store.environments.create(fields).catch((err: unknown) => {
        throw nameTaken(err);
      });
      await audit(app, caller, {
        action: 'environment.create',
        outcome: 'changed',
        environmentId: created.id,
        message: `Created the environment "${created.name}".`,
        details: { after: summary(created) },
      });
      return reply.status(201).send(toEnvironmentDto(created, 'Owner'));
    },
  );

  app.get(
    '/environments/:id',
    { schema: { operationId: 'getEnvironment', tags, summary: 'One environment', params: EnvironmentParams, response: { 200: Environment, ...errors } } },
    async (request) => {
      const caller = await request.caller();
      const env = await loadEnvironment(app, request.params.id);
      const role = await app.access.roleIn(caller.principal, env.id);
      if (!canView(role)) throw await denyEnvironment(app, caller, env, false);
      return toEnvironmentDto(env, role);
    },
  );

  app.put(
    '/environments/:id',
    {
      schema: {
        operationId: 'replaceEnvironment',
        tags,
        summary: 'Replace an environment’s settings (administrators)',
        params: EnvironmentParams,
        body: EnvironmentInput,
        response: { 200: Environment, ...errors, 409: ApiErrorBody, 422: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await requireAdministrator(app, request);
      const before = await loadEnvironment(app, request.params.id);
      const fields = await validateAgainstAws(app, request.body);
      const after = await app.store.environments.update(before.id, fields).catch((err: unknown) => {
        throw nameTaken(err);
      });
      if (!after) throw new AppError(404, 'ENVIRONMENT_NOT_FOUND', `There is no environment ${before.id}. It was deleted meanwhile.`);
      await audit(app, caller, {
        action: 'environment.update',
        outcome: 'changed',
        environmentId: after.id,
        message: `Changed the environment "${after.name}".`,
        details: { before: summary(before), after: summary(after) },
      });
      return toEnvironmentDto(after, 'Owner');
    },
  );

  app.delete(
    '/environments/:id',
    {
      schema: {
        operationId: 'deleteEnvironment',
        tags,
        summary: 'Delete an environment and its permissions (administrators; not the default environment)',
        params: EnvironmentParams,
        response: { 204: z.undefined().describe('Deleted'), ...errors, 409: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const caller = await requireAdministrator(app, request);
      const env = await loadEnvironment(app, request.params.id);
      if (env.isDefault) {
        throw new AppError(409, 'DEFAULT_ENVIRONMENT_PROTECTED', 'The default environment cannot be deleted. You can change its settings instead.');
      }
      const permissions = await app.store.permissions.list(env.id);
      await app.store.environments.delete(env.id);
      await audit(app, caller, {
        action: 'environment.delete',
        outcome: 'changed',
        environmentId: env.id,
        message: `Deleted the environment "${env.name}" and its ${permissions.length} permission${permissions.length === 1 ? '' : 's'}.`,
        details: { before: summary(env), permissions: permissions.map((p) => ({ userName: p.principal, role: p.role })) },
      });
      return reply.status(204).send();
    },
  );

  app.get(
    '/environments/:id/permissions',
    {
      schema: { operationId: 'getEnvironmentPermissions', tags, summary: 'Who holds which role in the environment (administrators)', params: EnvironmentParams, response: { 200: EnvironmentPermissions, ...errors } },
    },
    async (request) => {
      await requireAdministrator(app, request);
      const env = await loadEnvironment(app, request.params.id);
      const list = await app.store.permissions.list(env.id);
      return { environmentId: env.id, permissions: list.map((p) => ({ userName: p.principal, role: p.role })) };
    },
  );

  app.put(
    '/environments/:id/permissions',
    {
      schema: {
        operationId: 'replaceEnvironmentPermissions',
        tags,
        summary: 'Replace who holds which role in the environment (administrators)',
        params: EnvironmentParams,
        body: EnvironmentPermissionsInput,
        response: { 200: EnvironmentPermissions, ...errors },
      },
    },
    async (request) => {
      const caller = await requireAdministrator(app, request);
      const env = await loadEnvironment(app, request.params.id);
      const wanted = request.body.permissions.map((p) => ({ principal: normalizeUserName(p.userName), role: p.role }));
      if (new Set(wanted.map((p) => p.principal)).size !== wanted.length) {
        throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid: /permissions lists the same vCenter user twice (in two spellings).');
      }
      const before = await app.store.permissions.replace(env.id, wanted);
      const old = new Map(before.map((p) => [p.principal, p.role]));
      const now = new Map(wanted.map((p) => [p.principal, p.role]));
      const changes = [
        ...wanted.filter((p) => old.get(p.principal) !== p.role).map((p) => ({ userName: p.principal, from: old.get(p.principal) ?? 'NoAccess', to: p.role })),
        ...before.filter((p) => !now.has(p.principal)).map((p) => ({ userName: p.principal, from: p.role, to: 'NoAccess' as const })),
      ];
      if (changes.length > 0) {
        await audit(app, caller, {
          action: 'environment.permissions',
          outcome: 'changed',
          environmentId: env.id,
          message: `Changed permissions of the environment "${env.name}": ${changes.map((c) => `${c.userName} ${c.from} → ${c.to}`).join(', ')}.`,
          details: { changes },
        });
      }
      const list = await app.store.permissions.list(env.id);
      return { environmentId: env.id, permissions: list.map((p) => ({ userName: p.principal, role: p.role })) };
    },
  );

  /** An environment the caller may see, with its VPC (lookups need one). */
  async function usableEnvironment(id: string, caller: Caller) {
    const env = await loadEnvironment(app, id);
    const role = await app.access.roleIn(caller.principal, env.id);
    if (!canView(role)) throw await denyEnvironment(app, caller, env, false);
    if (!env.vpcId) {
      throw new AppError(409, 'ENVIRONMENT_INVALID', `The environment "${env.name}" has no VPC yet. An administrator must choose its VPC, subnets and security groups.`);
    }
    return { ...env, vpcId: env.vpcId };
  }

  app.get(
    '/environments/:id/subnets',
    {
      schema: { operationId: 'listEnvironmentSubnets', tags, summary: 'The environment’s subnets, live from AWS (CIDR, free addresses)', params: EnvironmentParams, response: { 200: SubnetList, ...errors, 409: ApiErrorBody } },
    },
    async (request) => {
      const caller = await request.caller();
      const env = await usableEnvironment(request.params.id, caller);
      const subnets = await app.aws.subnets(env.region, env.vpcId, env.subnetIds);
      return { subnets: env.subnetIds.flatMap((id) => subnets.filter((s) => s.id === id)) };
    },
  );

  app.get(
    '/environments/:id/security-groups',
    {
      schema: { operationId: 'listEnvironmentSecurityGroups', tags, summary: 'The environment’s security groups, live from AWS', params: EnvironmentParams, response: { 200: SecurityGroupList, ...errors, 409: ApiErrorBody } },
    },
    async (request) => {
      const caller = await request.caller();
      const env = await usableEnvironment(request.params.id, caller);
      const groups = await app.aws.securityGroups(env.region, env.vpcId, env.securityGroupIds);
      return { securityGroups: env.securityGroupIds.flatMap((id) => groups.filter((g) => g.id === id)) };
    },
  );

  app.get(
    '/environments/:id/instance-types',
    {
      schema: {
        operationId: 'listEnvironmentInstanceTypes',
        tags,
        summary: 'Instance types offered in the environment’s region and allowed by the environment',
        description: 'With bootMode=uefi (a VM whose firmware is EFI, as the pre-flight reports it), only the types that support UEFI.',
        params: EnvironmentParams,
        querystring: InstanceTypeQuery,
        response: { 200: InstanceTypeList, ...errors, 409: ApiErrorBody },
      },
    },
    async (request) => {
      const caller = await request.caller();
      const env = await usableEnvironment(request.params.id, caller);
      const offered = await app.aws.offeredInstanceTypes(env.region);
      let allowed = env.instanceTypes.length ? offered.filter((t) => env.instanceTypes.includes(t)) : offered;
      if (request.query.bootMode === 'uefi') {
        const modes = await app.aws.supportedBootModes(env.region, allowed);
        allowed = allowed.filter((t) => modes.get(t)?.includes('uefi'));
      }
      return { instanceTypes: allowed.map((name) => ({ name })) };
    },
  );
};
