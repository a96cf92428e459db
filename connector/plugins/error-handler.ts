import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ApiErrorBody } from '../contract/index.ts';
import { AppError } from '../errors.ts';
import { VimFault } from '../vsphere/vim25.ts';

/** The answer to a request whose parameters or body fail the contract (refused before its handler runs). */
export function validationRefusal(err: unknown): ApiErrorBody | undefined {
  if (!hasZodFastifySchemaValidationErrors(err)) return undefined;
  const issues = err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }));
  const first = issues[0];
  return {
    code: 'VALIDATION_FAILED',
    message: first ? `The request is not valid: ${first.path} ${first.message}` : 'The request is not valid.',
    details: { issues },
  };
}

/** The one error handler: every failure leaves as `{ code, message, details? }`; 5xx never leak internals. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | VimFault | Error, request, reply) => {
    const send = (status: number, body: ApiErrorBody) => reply.status(status).send(body);

    if (err instanceof AppError) {
      if (err.statusCode >= 500) request.log.warn({ code: err.code, msg: err.message }, 'request failed');
      return send(err.statusCode, { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
    }
    const invalid = validationRefusal(err);
    if (invalid) return send(400, invalid);
    if (err instanceof VimFault) {
      if (err.faultType === 'NoPermission') {
        return send(403, { code: 'VM_EXPORT_DENIED', message: 'vCenter denied the operation: your vCenter role lacks the required privilege.' });
      }
      if (err.faultType === 'ManagedObjectNotFound') {
        return send(404, { code: 'NOT_FOUND', message: 'vCenter has no such object. It may have been deleted; refresh the inventory.' });
      }
      if (err.faultType === 'NotAuthenticated') {
        return send(401, { code: 'NOT_AUTHENTICATED', message: 'The vCenter session has ended. Log in to the vSphere Client again.' });
      }
    }
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(413, { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the connector accepts.' });
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return send(fe.statusCode, { code: 'VALIDATION_FAILED', message: `The request is not valid: ${fe.message}` });
    }
    request.log.error({ err }, 'unexpected error');
    return send(500, { code: 'INTERNAL', message: 'The connector hit an unexpected error. The details are in the connector log.' });
  });

  app.setNotFoundHandler((request, reply) => {
    const body: ApiErrorBody = { code: 'NOT_FOUND', message: `Nothing is served at ${request.method} ${request.url.split('?')[0] ?? ''}.` };
    void reply.status(404).send(body);
  });
}
