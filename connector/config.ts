import { z } from 'zod';

/** The connector's configuration. One schema; the lab and production both build it. */
export const ConnectorConfig = z
  .object({
    listen: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8443) })
      .default({ host: '127.0.0.1', port: 8443 }),
    /** PEM certificate and key the connector serves; generated into dataDir when absent. */
    tls: z.object({ certPem: z.string(), keyPem: z.string() }).optional(),
    dataDir: z.string().default('.data'),
    vcenter: z.object({
      /** The vCenter origin, e.g. https://vc.example.com (its /sdk and /api/ui are used). */
      url: z.url({ protocol: /^https$/, error: 'vcenter.url must be an https:// URL of the vCenter Server' }),
      /** PEM CA bundle that signs the vCenter certificate (optional when the system trusts it). */
      caPem: z.string().optional(),
      /** SHA-1 or SHA-256 fingerprint of the vCenter certificate (colon hex), pinned instead of a CA. */
      thumbprint: z.string().regex(/^([0-9A-Fa-f]{2}:){19,31}[0-9A-Fa-f]{2}$/).optional(),
    }),
    /** vCenter users (e.g. administrator@vsphere.local) who administer the portal. */
    administrators: z.array(z.string().min(1)).default([]),
    /** Where the built plugin UI lives (vite build output). */
    uiDir: z.string().default('dist/ui'),
    sessions: z
      .object({ max: z.number().int().positive().default(100), idleMs: z.number().int().positive().default(600_000) })
      .default({ max: 100, idleMs: 600_000 }),
    /**
     * AWS. Production: no endpoint and no credentials, the SDK's default chain (environment, profile, instance role)
     * supplies them and the connector never stores AWS secrets. The lab points `endpoint` at its EC2/IAM emulator.
     */
    aws: z
      .strictObject({
        /** EC2 and IAM endpoint override (the lab emulator serves both on one URL). */
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
        /** Regions environments may use; the first one holds the default environment. */
        regions: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/)).min(1).default(['us-east-1']),
        /** Only for emulators: static credentials. Leave unset against real AWS. */
        credentials: z.strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).optional(),
        /** The VM Import service role (seed prerequisite: `vmimport`). */
        importRoleName: z.string().min(1).max(64).default('vmimport'),
        /** Per-call timeout of AWS API requests. */
        requestTimeoutMs: z.number().int().positive().default(20_000),
      })
      .default({ regions: ['us-east-1'], importRoleName: 'vmimport', requestTimeoutMs: 20_000 }),
    /** The import-authorization token (seed "VM Import Authorization"). */
    importTokens: z
      .strictObject({ ttlSeconds: z.number().int().min(10).max(3600).default(300) })
      .default({ ttlSeconds: 300 }),
    /** The connector's database; default `<dataDir>/connector.sqlite`. */
    store: z.strictObject({ sqliteFile: z.string().min(1).optional() }).default({}),
  })
  .strict();
export type ConnectorConfig = z.infer<typeof ConnectorConfig>;
export type ConnectorConfigInput = z.input<typeof ConnectorConfig>;
