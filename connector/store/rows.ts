// Row ↔ record mapping shared by the SQLite and PostgreSQL stores (their columns have the same names and types).
import { randomBytes } from 'node:crypto';
import { EnvironmentImportDefaults } from '../contract/index.ts';
import type { AuditRecord, EnvironmentFields, EnvironmentRecord } from './types.ts';

export interface EnvironmentRow {
  id: string;
  name: string;
  description: string;
  is_default: number;
  region: string;
  vpc_id: string | null;
  subnet_ids: string;
  security_group_ids: string;
  instance_types: string;
  import_defaults: string;
  created_at: string;
  updated_at: string;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: AuditRecord['action'];
  outcome: AuditRecord['outcome'];
  environment_id: string | null;
  vm_id: string | null;
  vm_name: string | null;
  code: string | null;
  message: string;
  details: string | null;
}

export const toEnvironment = (r: EnvironmentRow): EnvironmentRecord => ({
  id: r.id,
  name: r.name,
  description: r.description,
  isDefault: r.is_default === 1,
  region: r.region,
  vpcId: r.vpc_id,
  subnetIds: JSON.parse(r.subnet_ids) as string[],
  securityGroupIds: JSON.parse(r.security_group_ids) as string[],
  instanceTypes: JSON.parse(r.instance_types) as string[],
  // Parsed through the contract so a row written by an older connector still reads with every default filled in.
  importDefaults: EnvironmentImportDefaults.parse(JSON.parse(r.import_defaults)),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toAudit = (r: AuditRow): AuditRecord => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  outcome: r.outcome,
  ...(r.environment_id !== null ? { environmentId: r.environment_id } : {}),
  ...(r.vm_id !== null ? { vmId: r.vm_id } : {}),
  ...(r.vm_name !== null ? { vmName: r.vm_name } : {}),
  ...(r.code !== null ? { code: r.code } : {}),
  message: r.message,
  ...(r.details !== null ? { details: JSON.parse(r.details) as Record<string, unknown> } : {}),
});

export const importDefaultsJson = (f: EnvironmentFields) => JSON.stringify(EnvironmentImportDefaults.parse(f.importDefaults ?? {}));

export const newEnvironmentId = () => `env-${randomBytes(6).toString('hex')}`;

/** The default environment every store starts with. */
export const DEFAULT_ENVIRONMENT = { name: 'Default', description: 'The environment every connector starts with.' } as const;
