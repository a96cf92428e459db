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
  'TOKEN_MISMATCH',
  'TOKEN_ALREADY_USED',
  'CONNECTOR_UPDATING',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'ADMIN_REQUIRED',
  'ENVIRONMENT_NOT_FOUND',
  'ENVIRONMENT_NAME_TAKEN',
  'ENVIRONMENT_INVALID',
  'DEFAULT_ENVIRONMENT_PROTECTED',
  'PREFLIGHT_BLOCKED',
  'EXPORT_IN_PROGRESS',
  /** The instance already has an active export (details name it). */
  'EXPORT_ALREADY_RUNNING',
  /** The VM already has an active migration (details name it); the request's import authorization is used up. */
  'MIGRATION_ALREADY_RUNNING',
  /** Only the requester, an environment Owner (migrations) or an administrator may cancel a task. */
  'CANCEL_NOT_ALLOWED',
  /** Launch test instance, Finish test and Cut over: same rule as cancel (requester, environment Owner, administrator). */
  'MIGRATION_ACTION_NOT_ALLOWED',
  /** The migration is not in a state that allows this warm action (e.g. a cold migration, or no replicated point yet); the message says why and what to do. */
  'WARM_ACTION_NOT_AVAILABLE',
  /** Roll back refused: not completed, already rolled back, the window closed or the source VM is gone (the message says which). */
  'ROLLBACK_NOT_AVAILABLE',
  'RESUME_NOT_AVAILABLE',
  /** A subnet that is not one of the environment's (the message lists them). */
  'SUBNET_NOT_IN_ENVIRONMENT',
  'EXPORT_LIMIT_REACHED',
  /** EC2 refuses to export the instance (VM Export's limits: encrypted or several volumes, AWS-provided software); the message says which. */
  'INSTANCE_NOT_EXPORTABLE',
  'EXPORT_NOT_CONFIGURED',
  /** Bring back to vCenter: the user lacks a vCenter privilege on the target (details.checks list every blocker). */
  'PRIVILEGE_MISSING',
  /** Bring back to vCenter: the pre-flight found blockers (details.checks lists them all). */
  'RETURN_BLOCKED',
  /** Bring back to vCenter needs General or Owner in the export's environment. */
  'RETURN_NOT_ALLOWED',
  /** A VM of that name is already being brought back into that folder (details name the task). */
  'RETURN_ALREADY_RUNNING',
  /** The task runs on another connector of the fleet. */
  'RETURN_ON_OTHER_CONNECTOR',
  'SETTINGS_CHANGED',
  'NOTIFICATION_TARGET_NOT_FOUND',
  'NOTIFICATION_TARGET_INVALID',
  'INSTANCE_NOT_FOUND',
  'AWS_NOT_CONFIGURED',
  'AWS_UNREACHABLE',
  'AWS_ACCESS_DENIED',
  'AWS_ERROR',
  'STORE_UNAVAILABLE',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The one error shape every endpoint returns. */
export const ApiErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'ApiError' });
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;
