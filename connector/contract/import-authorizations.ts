import { z } from 'zod';
import { EnvironmentId } from './environments.ts';
import { VmId } from './vms.ts';

/** Seed "VM Import Authorization", step 1: the vSphere client asks to import this VM into this environment. */
export const ImportAuthorizationRequest = z.strictObject({ environmentId: EnvironmentId, vmId: VmId }).meta({ id: 'ImportAuthorizationRequest' });
export type ImportAuthorizationRequest = z.infer<typeof ImportAuthorizationRequest>;

/** Step 2: the portal's answer, a short-lived single-use token for exactly this user, environment, VM and connector. */
export const ImportAuthorization = z.object({
  token: z.string().meta({
    description: 'Single-use import authorization for POST /migrations: valid for this user, environment, VM and connector only, and refused from expiresAt on.',
  }),
  expiresAt: z.iso.datetime().meta({
    description: 'The instant the token stops being accepted (issue time plus importTokens.ttlSeconds, default 5 minutes). Exact: no clock leeway is allowed, since the connector that issues the token also checks it.',
  }),
  environmentId: EnvironmentId,
  vmId: VmId,
}).meta({ id: 'ImportAuthorization' });
export type ImportAuthorization = z.infer<typeof ImportAuthorization>;
