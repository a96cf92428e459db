import { z } from 'zod';
import { EnvironmentId } from './environments.ts';
import { singleLine } from './text.ts';

export const AuditAction = z.enum([
  'environment.create',
  'environment.update',
  'environment.delete',
  'environment.permissions',
  'environment.access',
  'import.authorize',
  'migration.request',
  'migration.cancel',
  'migration.test-launch',
  'migration.test-finish',
  'migration.cutover',
  'migration.rollback',
  'migration.resume',
  'export.request',
  'export.cancel',
  'admin.access',
  'settings.instance-export',
  'notification.target',
  'notification.test',
  'wave.create',
  'wave.cancel',
  'settings.bandwidth',
  'return.request',
  'return.cancel',
]);
export type AuditAction = z.infer<typeof AuditAction>;

/** granted/denied for authorization decisions, changed for administrative changes. */
export const AuditOutcome = z.enum(['granted', 'denied', 'changed']);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

export const AuditEntry = z.object({
  id: z.number().int().positive(),
  at: z.iso.datetime(),
  /** The vCenter user who acted. */
  actor: z.string(),
  action: AuditAction,
  outcome: AuditOutcome,
  environmentId: z.string().optional(),
  vmId: z.string().optional(),
  /** The VM's name when the entry was written; older entries and refusals before the VM was read have only the id. */
  vmName: z.string().optional(),
  /** The error code of a denial. */
  code: z.string().optional(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'AuditEntry' });
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Page backwards: entries with an id below this one. */
  before: z.coerce.number().int().positive().optional(),
  environmentId: EnvironmentId.optional(),
  actor: singleLine(256).optional(),
  action: AuditAction.optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditPage = z.object({
  entries: z.array(AuditEntry),
  /** Pass as `before` for the next (older) page; absent on the last page. */
  nextBefore: z.number().int().positive().optional(),
}).meta({ id: 'AuditPage' });
export type AuditPage = z.infer<typeof AuditPage>;
