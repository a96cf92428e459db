// What the connector answers, as the UI tests build it: one environment and one migration task of vm-42 in it. Each
// test file overrides only the fields its tests are about.
import type { Environment, EnvironmentImportDefaults, MigrationTask, WarmReplication } from '../../connector/contract/index.ts';

export const OPERATOR = 'operator@vsphere.local';
export const SUBNET = 'subnet-0a1b2c3d4e5f67890';
export const SECURITY_GROUP = 'sg-0a1b2c3d4e5f67890';

export const noDefaults: EnvironmentImportDefaults = { licenseType: 'AWS', encryption: { encrypted: false }, tags: [] };

/** env-prod (Production, us-east-1) with one subnet and security group, no import defaults; the caller is General. */
export const env = (over: Partial<Environment> = {}): Environment => ({
  id: 'env-prod',
  name: 'Production',
  description: '',
  isDefault: false,
  region: 'us-east-1',
  vpcId: 'vpc-0a1b2c3d4e5f67890',
  subnetIds: [SUBNET],
  securityGroupIds: [SECURITY_GROUP],
  instanceTypes: [],
  importDefaults: noDefaults,
  createdAt: '2026-11-25T00:00:00.000Z',
  updatedAt: '2026-11-25T00:00:00.000Z',
  myRole: 'General',
  ...over,
});

/** A cold migration of vm-42 (ubuntu-web-01) into env-prod, running, requested by OPERATOR. */
export const task = (over: Partial<MigrationTask> = {}): MigrationTask => ({
  id: 'mig-000001',
  idKind: 'import',
  state: 'running',
  phase: 'uploading',
  mode: 'cold',
  environmentId: 'env-prod',
  region: 'us-east-1',
  vmId: 'vm-42',
  vmName: 'ubuntu-web-01',
  platform: 'Linux',
  subnetId: SUBNET,
  instanceType: 'm5.large',
  securityGroupIds: [SECURITY_GROUP],
  requestedBy: OPERATOR,
  disks: [],
  percent: 0,
  createdAt: '2026-12-03T10:00:00.000Z',
  updatedAt: '2026-12-03T10:00:00.000Z',
  ...over,
});

/** A warm task's replication: every 15 minutes, guest shutdown at the cutover, 4 cycles done, none running. */
export const warmView = (over: Partial<WarmReplication> = {}): WarmReplication => ({
  intervalMinutes: 15,
  shutdown: 'guest',
  cycles: 4,
  cycleRunning: false,
  fullSync: false,
  ...over,
});
