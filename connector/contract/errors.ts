import { z } from 'zod';

/** Stable error codes the UI can translate. Messages are written for a vSphere administrator. */
export const ErrorCode = z.enum([
  'VALIDATION_FAILED',
  'NOT_AUTHENTICATED',
  'NOT_FOUND',
  'VM_NOT_FOUND',
  'VCENTER_UNREACHABLE',
  'VCENTER_ERROR',
  'NO_ENVIRONMENT_PERMISSION',
  'VM_EXPORT_DENIED',
  'TOKEN_EXPIRED',
  'TOKEN_INVALID',
  'CONNECTOR_UPDATING',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The one error shape every endpoint returns. */
export const ApiErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;
