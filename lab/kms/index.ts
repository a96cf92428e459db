// The lab's KMS (keys, aliases, key state and key policies) for encrypted imports. It is served next to the EC2
// emulator (`startEc2Emulator().kmsUrl`), which shares its clock, its failure injection and its key state.
export { KmsStore, KmsError, LAB_KMS_ALIASES, VMIMPORT_KMS_ACTIONS, type KmsKey, type KmsAlias, type KeyState, type KeySpec } from './store.ts';
export { createKmsServer, type KmsHost } from './server.ts';
export { keyPolicyVerdict, identityPoliciesAllow, actionMatches } from './policy.ts';
