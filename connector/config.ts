import { z } from 'zod';
import { storeUrlProblem } from './store/postgres/url.ts';

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
    /**
     * Cloned vCenter sessions of plugin users: how many are kept, when an idle one is logged out, and how often
     * (at most) the user's own vSphere Client session is asked whether it is still alive (docs/sessions.md).
     */
    sessions: z
      .strictObject({
        max: z.number().int().positive().default(100),
        idleMs: z.number().int().positive().default(600_000),
        livenessMs: z
          .number()
          .int()
          .min(100)
          .max(60_000, { error: 'sessions.livenessMs must be at most 60000: a logged-out user must be refused within a minute' })
          .default(30_000),
      })
      .default({ max: 100, idleMs: 600_000, livenessMs: 30_000 }),
    /**
     * AWS. Production: no endpoint and no credentials, the SDK's default chain (environment, profile, instance role)
     * supplies them and the connector never stores AWS secrets. The lab points `endpoint` at its EC2/IAM emulator.
     */
    aws: z
      .strictObject({
        /** EC2 and IAM endpoint override (the lab emulator serves both on one URL). */
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
        /** EBS direct APIs endpoint override (warm migration; AWS serves them on their own endpoint, ebs.<region>.amazonaws.com). */
        ebsEndpoint: z.url({ protocol: /^https?$/ }).optional(),
        /** KMS endpoint override (import encryption keys; AWS's own is kms.<region>.amazonaws.com). */
        kmsEndpoint: z.url({ protocol: /^https?$/ }).optional(),
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
    /** The migration engine (issue 4): limits, staging bucket, S3 endpoint, vCenter service account. */
    engine: z
      .strictObject({
        /** Migrations running at once (seed: four per connector); the rest wait in FIFO order. */
        maxRunning: z.number().int().min(1).max(64).default(4),
        /** Active EC2 import tasks per region (EC2 default quota 5, adjustable to 20). */
        maxImportsPerRegion: z.number().int().min(1).max(20).default(5),
        /** Concurrent instance exports per region (seed: five). */
        maxExportsPerRegion: z.number().int().min(1).max(20).default(5),
        /** Staging bucket for exported disks; `{region}` is replaced by the environment's region. */
        stagingBucket: z.string().min(3).max(63).default('vm2ec2-staging-{region}'),
        /** S3 endpoint override (non-AWS endpoints get path-style URLs and WHEN_REQUIRED checksums). */
        s3Endpoint: z.url({ protocol: /^https?$/ }).optional(),
        /** Only for emulators: static S3 credentials. */
        s3Credentials: z.strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).optional(),
        /** vCenter account the engine uses for exports; without it a task uses a clone of its requester's session and cannot resume after a restart. */
        vcenterAccount: z.strictObject({ userName: z.string().min(1), password: z.string().min(1) }).optional(),
        /** HttpNfcLeaseProgress interval while a lease is held. */
        leaseKeepAliveMs: z.number().int().min(10).default(10_000),
        /** First and longest interval between EC2 status polls. */
        pollMs: z.number().int().min(5).default(5_000),
        pollMaxMs: z.number().int().min(5).default(30_000),
        /** Export attempts per migration when the disk download is interrupted or the export lease fails (each takes a fresh lease). */
        maxExportAttempts: z.number().int().min(1).max(10).default(3),
        /** Attempts to reach vCenter before a migration fails because vCenter is unreachable. */
        vcenterConnectAttempts: z.number().int().min(1).max(20).default(6),
        /** First wait before a retry; it doubles per retry up to retryMaxDelayMs, with random jitter (50–100 %). */
        retryDelayMs: z.number().int().min(1).default(2_000),
        retryMaxDelayMs: z.number().int().min(1).default(30_000),
        /** Keep staged disk objects after a successful import (troubleshooting). */
        keepStagingObjects: z.boolean().default(false),
        /** Maintenance flag: POST /migrations answers 503 CONNECTOR_UPDATING while set. */
        updating: z.boolean().default(false),
        /**
         * Milliseconds in one minute of a warm migration's replication interval. Only for the lab and tests, which
         * shorten it so the API's 5-minute minimum passes in seconds; leave the default (60000) in production.
         */
        warmMinuteMs: z.number().int().min(1).default(60_000),
        /** Warm cutover: how long a guest shutdown may take before the cutover fails (replication continues). */
        guestShutdownTimeoutMs: z.number().int().min(100).default(600_000),
        /** Warm cutover: wait between checks of the source VM's power state. */
        powerOffPollMs: z.number().int().min(5).default(2_000),
        /** How long after it completed a migration may be rolled back (default 7 days). */
        rollbackWindowMs: z.number().int().min(1_000).default(604_800_000),
      })
      .default({ maxRunning: 4, maxImportsPerRegion: 5, maxExportsPerRegion: 5, stagingBucket: 'vm2ec2-staging-{region}', leaseKeepAliveMs: 10_000, pollMs: 5_000, pollMaxMs: 30_000, maxExportAttempts: 3, vcenterConnectAttempts: 6, retryDelayMs: 2_000, retryMaxDelayMs: 30_000, keepStagingObjects: false, updating: false, warmMinuteMs: 60_000, guestShutdownTimeoutMs: 600_000, powerOffPollMs: 2_000, rollbackWindowMs: 604_800_000 }),
    /**
     * This connector as one of a fleet sharing a PostgreSQL store (issue 14). `connectorId` names it in the portal and in
     * the store's task ownership; default: generated once and kept in `<dataDir>/connector-id`. A peer's tasks are taken
     * over when its heartbeat is older than `leaseMs`.
     */
    fleet: z
      .strictObject({
        connectorId: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'fleet.connectorId must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit' })
          .optional(),
        heartbeatMs: z.number().int().min(50).default(5_000),
        leaseMs: z.number().int().min(200).default(30_000),
      })
      .refine((f) => f.leaseMs >= 3 * f.heartbeatMs, { error: 'fleet.leaseMs must be at least three times fleet.heartbeatMs, so one late heartbeat does not hand a live connector\'s tasks to a peer' })
      .default({ heartbeatMs: 5_000, leaseMs: 30_000 }),
    /**
     * The connector's database: SQLite in `<dataDir>/connector.sqlite` (or `sqliteFile`), or with `url` the PostgreSQL
     * database a fleet of connectors shares (docs/install.md#run-several-connectors). The PostgreSQL password never goes
     * in the URL: it is read from `passwordFile` (mode 0600) or the environment variable VM2EC2_STORE_PASSWORD.
     */
    store: z
      .strictObject({
        sqliteFile: z.string().min(1).optional(),
        url: z
          .string()
          .superRefine((url, ctx) => {
            const problem = storeUrlProblem(url);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
        passwordFile: z.string().min(1).optional(),
      })
      .refine((s) => !(s.url && s.sqliteFile), { error: 'give store.url (PostgreSQL) or store.sqliteFile (SQLite), not both' })
      .refine((s) => !s.passwordFile || s.url, { error: 'store.passwordFile is the PostgreSQL password: it needs store.url' })
      .default({}),
    /** ESX host name resolution (seed: "Set up a DNS suffix search list"): suffixes tried when a short host name does not resolve. */
    dns: z
      .strictObject({
        searchSuffixes: z
          .array(z.string().regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, { error: 'must be a DNS domain such as corp.example.com' }))
          .default([]),
      })
      .default({ searchSuffixes: [] }),
    /**
     * Host certificates an administrator accepted by SHA-256 thumbprint although no configured CA validates them
     * (the modern form of the seed's "Ignore any ESX certificate errors"); shown as a warning in the connector status.
     */
    trust: z
      .strictObject({
        allowedCertificates: z
          .array(
            z.strictObject({
              host: z.string().min(1),
              thumbprint: z.string().regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, { error: 'must be a SHA-256 thumbprint in colon hex (AB:CD:…, 32 bytes)' }),
              addedBy: z.string().optional(),
              addedAt: z.string().optional(),
            }),
          )
          .default([]),
      })
      .default({ allowedCertificates: [] }),
    /** Per-user API request budget (keyed by the plugin session token); generous so 200 polling tabs of one login fit. */
    limits: z
      .strictObject({
        /** Requests per window per vSphere Client session; 200 tabs polling 4 queries every 3 s need about 2,700 per 10 s. */
        maxRequests: z.number().int().min(1).default(3000),
        windowMs: z.number().int().min(100).default(10_000),
      })
      .default({ maxRequests: 3000, windowMs: 10_000 }),
    /** Notification targets (docs/notifications.md): webhook trust and retries, and the SMTP relay of e-mail targets. */
    notifications: z
      .strictObject({
        /** PEM CA bundle trusted for webhook receivers besides the system's (like vcenter.caPem). */
        webhookCaPem: z.string().optional(),
        /** One webhook call or SMTP send; longer counts as a timeout and is retried. */
        timeoutMs: z.number().int().min(50).default(10_000),
        /** Attempts per notification before it is recorded as failed. */
        maxAttempts: z.number().int().min(1).max(50).default(10),
        /** First wait before a retry; it doubles per retry up to retryMaxDelayMs. */
        retryDelayMs: z.number().int().min(1).default(5_000),
        retryMaxDelayMs: z.number().int().min(1).default(600_000),
        /** How often the delivery worker looks for due notifications (it is also woken by every new one). */
        pollMs: z.number().int().min(10).default(2_000),
        /** How often the connector probes its own health for connector.unhealthy (two failed probes in a row page). */
        healthIntervalMs: z.number().int().min(50).default(60_000),
        /** The SMTP relay of e-mail targets; credentials only here, never through the API. */
        email: z
          .strictObject({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535).default(587),
            /** Require STARTTLS (refuse to send in the clear). */
            startTls: z.boolean().default(true),
            from: z.email(),
            user: z.string().min(1).optional(),
            password: z.string().min(1).optional(),
            /** PEM CA bundle that signs the relay's certificate, besides the system's. */
            caPem: z.string().optional(),
          })
          .optional(),
      })
      .default({ timeoutMs: 10_000, maxAttempts: 10, retryDelayMs: 5_000, retryMaxDelayMs: 600_000, pollMs: 2_000, healthIntervalMs: 60_000 }),
    logging: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .default({ level: 'info' }),
  })
  .strict();
export type ConnectorConfig = z.infer<typeof ConnectorConfig>;
export type ConnectorConfigInput = z.input<typeof ConnectorConfig>;
