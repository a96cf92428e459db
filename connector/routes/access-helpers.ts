import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditInput, EnvironmentRecord } from '../store/index.ts';
import type { Caller } from '../auth/plugin.ts';
import type { Environment, EnvironmentRole } from '../contract/index.ts';
import { AppError } from '../errors.ts';

/** Records an audit entry; a failing audit write fails the request (no unaudited grants). */
export async function audit(app: FastifyInstance, caller: Caller, entry: Omit<AuditInput, 'actor'>): Promise<void> {
  await app.store.audit.append({ actor: caller.principal, ...entry });
}

/** Administrators only; anyone else is refused (and the refusal audited). */
export async function requireAdministrator(app: FastifyInstance, request: FastifyRequest): Promise<Caller> {
  const caller = await request.caller();
  if (caller.isAdministrator) return caller;
  const what = `${request.method} ${request.routeOptions.url ?? request.url}`;
  await audit(app, caller, {
    action: 'admin.access',
    outcome: 'denied',
    code: 'ADMIN_REQUIRED',
    message: `${caller.userName} is not a portal administrator (${what}).`,
  });
  throw new AppError(
    403,
    'ADMIN_REQUIRED',
    'Only administrators of the AWS Management Portal can do this. Ask your administrator; administrators are listed in the connector configuration.',
  );
}

export async function loadEnvironment(app: FastifyInstance, id: string): Promise<EnvironmentRecord> {
  const env = await app.store.environments.get(id);
  if (!env) throw new AppError(404, 'ENVIRONMENT_NOT_FOUND', `There is no environment ${id}. It may have been deleted; reopen the form to see the current environments.`);
  return env;
}

/** Refuses a user without a role in the environment, and audits the refusal. */
export async function denyEnvironment(app: FastifyInstance, caller: Caller, env: EnvironmentRecord, toMigrate: boolean, extra: { vmId?: string } = {}): Promise<AppError> {
  const err = noEnvironmentPermission(env, toMigrate);
  await audit(app, caller, { action: 'environment.access', outcome: 'denied', environmentId: env.id, ...extra, code: err.code, message: err.message });
  return err;
}

export const noEnvironmentPermission = (env: { name: string }, toMigrate: boolean) =>
  new AppError(
    403,
    'NO_ENVIRONMENT_PERMISSION',
    toMigrate
      ? `You do not have permission to migrate VMs into the environment "${env.name}". Ask your administrator to grant you permission.`
      : `You do not have permission to use the environment "${env.name}". Ask your administrator to grant you permission.`,
  );

/** Environments whose migrations and waves the caller may see; undefined = all (administrators). NoAccess grants none. */
export async function visibleEnvironments(app: FastifyInstance, caller: Caller): Promise<Set<string> | undefined> {
  if (caller.isAdministrator) return undefined;
  const roles = await app.store.permissions.forPrincipal(caller.principal);
  return new Set([...roles].filter(([, role]) => role !== 'NoAccess').map(([env]) => env));
}

export function toEnvironmentDto(rec: EnvironmentRecord, myRole: EnvironmentRole): Environment {
  return { ...rec, myRole };
}
