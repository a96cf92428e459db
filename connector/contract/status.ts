// Connector health and diagnostics (administrators): what the status tab and `vm2ec2 doctor` report.
import { z } from 'zod';

export const ConnectorStatus = z
  .object({
    version: z.string(),
    checkedAt: z.iso.datetime(),
    vcenter: z.object({
      url: z.string(),
      reachable: z.boolean(),
      /** vCenter clock minus the connector clock, in milliseconds (tokens and leases need clocks within minutes). */
      clockOffsetMs: z.number().optional(),
      error: z.string().optional(),
    }),
    aws: z.array(z.object({ region: z.string(), reachable: z.boolean(), error: z.string().optional() })),
    store: z.object({ healthy: z.boolean(), error: z.string().optional() }),
    /** Migrations and exports waiting for a slot; null when no migration engine runs in this connector. */
    queue: z.object({ depth: z.number().int().nonnegative().nullable() }),
    /** The maintenance flag (`engine.updating`): new migrations are refused while it is set; null without an engine. */
    updating: z.boolean().nullable(),
    /** Relaxed security settings an administrator should know about (allowed certificates). */
    warnings: z.array(z.object({ code: z.string(), message: z.string() })),
  })
  .meta({ id: 'ConnectorStatus' });
export type ConnectorStatus = z.infer<typeof ConnectorStatus>;

export const DoctorFinding = z
  .object({
    id: z.string(),
    severity: z.enum(['ok', 'warning', 'error']),
    title: z.string(),
    fix: z.string().optional(),
    fixable: z.boolean(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'DoctorFinding' });
export const DoctorReport = z.object({ checkedAt: z.iso.datetime(), findings: z.array(DoctorFinding) }).meta({ id: 'DoctorReport' });
export type DoctorReport = z.infer<typeof DoctorReport>;

/** GET /connector/log-bundle: the bundle for a support case, sent as bytes (not JSON). */
export const LOG_BUNDLE_MEDIA_TYPE = 'application/gzip';
export const LogBundleArchive = z
  .instanceof(Uint8Array)
  .meta({ description: 'A .tar.gz archive: vm2ec2/config.json (configuration without secrets), vm2ec2/versions.json and vm2ec2/history/ (recent audit entries and tasks)' });
