// The connector's API contract: the one definition of every request and response, used by the
// connector's route validation and (as types only) by the UI's client.
export * from './errors.ts';
export * from './vms.ts';
export * from './identity.ts';
export * from './dynamic-items.ts';
export * from './aws-ids.ts';
export * from './environments.ts';
export * from './aws-lookups.ts';
export * from './import-authorizations.ts';
export * from './preflight.ts';
export * from './import-options.ts';
export * from './migrations.ts';
export * from './audit.ts';
export * from './tasks.ts';
export * from './rollback.ts';
export * from './status.ts';
export * from './notifications.ts';
export * from './fleet.ts';
export * from './waves.ts';
export * from './returns.ts';
export * from './return-choices.ts';

/** Where the connector serves the plugin (manifest, UI, API): one context path, as the platform recommends. */
export const PLUGIN_CONTEXT_PATH = '/vm2ec2';
export const API_PREFIX = `${PLUGIN_CONTEXT_PATH}/api/v1`;
/** The vSphere extension key the plugin is registered under. */
export const PLUGIN_KEY = 'org.vm2ec2.plugin';
/** Ids the manifest gives the plugin's dynamic items. */
export const ACTION_IDS = { migrateVm: 'migrateVmToEc2', migrateWave: 'migrateVmsToEc2' } as const;
