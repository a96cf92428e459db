import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EnvironmentId, VmId, type ApiErrorBody, type AuditAction } from '../contract/index.ts';
import { validationRefusal } from '../plugins/error-handler.ts';
import { audit } from './access-helpers.ts';

/**
 * A route's `onError` hook that audits requests refused before the handler runs (body failing the contract, an
 * unreadable body) as `action` denied, so such refusals are on record like the ones the handler makes. Runs
 * before the error handler answers; requests without a vSphere Client session have nobody to attribute it to.
 */
export function auditInputRefusals(app: FastifyInstance, action: AuditAction) {
  return async (request: FastifyRequest, _reply: FastifyReply, err: FastifyError): Promise<void> => {
    const refusal = inputRefusal(err);
    if (!refusal) return;
    const caller = await request.caller().catch(() => undefined);
    if (!caller) return;
    const raw = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const environmentId = EnvironmentId.safeParse(raw.environmentId);
    const vmId = VmId.safeParse(raw.vmId);
    await audit(app, caller, {
      action,
      outcome: 'denied',
      ...(environmentId.success ? { environmentId: environmentId.data } : {}),
      ...(vmId.success ? { vmId: vmId.data } : {}),
      code: refusal.code,
      message: refusal.message,
      ...(refusal.details ? { details: refusal.details } : {}),
    });
  };
}

function inputRefusal(err: FastifyError): ApiErrorBody | undefined {
  const invalid = validationRefusal(err);
  if (invalid) return invalid;
  if (typeof err.code !== 'string' || !err.code.startsWith('FST_ERR_CTP_')) return undefined;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the connector accepts.' };
  return { code: 'VALIDATION_FAILED', message: `The request is not valid: ${err.message}` };
}
