// The connector's persistence, as small repository interfaces, implemented on SQLite (./sqlite/, one connector) and
// PostgreSQL (./postgres/, a fleet of connectors sharing one database) with the same behaviour.
import type { AuditAction, AuditOutcome, EnvironmentImportDefaults, EnvironmentRole } from '../contract/index.ts';
import type { PgDatabase } from './postgres/database.ts';

export interface EnvironmentRecord {
  id: string;
  name: string;
  description: string;
  isDefault: boolean;
  region: string;
  vpcId: string | null;
  subnetIds: string[];
  securityGroupIds: string[];
  instanceTypes: string[];
  /** The migration form's Advanced defaults (licence type, encryption, tags). */
  importDefaults: EnvironmentImportDefaults;
  createdAt: string;
  updatedAt: string;
}

/** `importDefaults` left out: AWS licence, unencrypted, no tags. */
export type EnvironmentFields = Omit<EnvironmentRecord, 'id' | 'isDefault' | 'createdAt' | 'updatedAt' | 'importDefaults'> & {
  importDefaults?: EnvironmentImportDefaults;
};

export interface EnvironmentRepository {
  list(): Promise<EnvironmentRecord[]>;
  get(id: string): Promise<EnvironmentRecord | undefined>;
  /** Throws StoreConflictError when the name is taken (names are unique, case-insensitive). */
  create(fields: EnvironmentFields): Promise<EnvironmentRecord>;
  /** undefined when there is no such environment. Throws StoreConflictError on a taken name. */
  update(id: string, fields: EnvironmentFields): Promise<EnvironmentRecord | undefined>;
  /** Deletes the environment and its permissions; false when absent. */
  delete(id: string): Promise<boolean>;
}

/** A user's role in one environment. `principal` is the normalized user name (see auth/users.ts). */
export interface PermissionRecord {
  environmentId: string;
  principal: string;
  role: EnvironmentRole;
}

export interface PermissionRepository {
  list(environmentId: string): Promise<PermissionRecord[]>;
  /** Replaces the environment's whole list atomically; returns the list it replaced. */
  replace(environmentId: string, permissions: { principal: string; role: EnvironmentRole }[]): Promise<PermissionRecord[]>;
  /** Every role one user holds, by environment id. */
  forPrincipal(principal: string): Promise<Map<string, EnvironmentRole>>;
}

export interface AuditInput {
  actor: string;
  action: AuditAction;
  outcome: AuditOutcome;
  environmentId?: string;
  vmId?: string;
  /** The VM's name when the entry was written (absent when it was not known). */
  vmName?: string;
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditInput {
  id: number;
  at: string;
}

export interface AuditFilter {
  limit: number;
  before?: number;
  environmentId?: string;
  actor?: string;
  action?: AuditAction;
}

export interface AuditRepository {
  append(entry: AuditInput): Promise<AuditRecord>;
  /** Newest first. */
  query(filter: AuditFilter): Promise<AuditRecord[]>;
}

export interface UsedTokenRepository {
  /** Records a token id as used; false if it was already used (a replay). */
  consume(jti: string, expiresAt: Date): Promise<boolean>;
  /** Forgets ids of tokens that have expired anyway. */
  purgeExpired(now: Date): Promise<number>;
}

export interface SettingsRepository {
  get(key: string): Promise<string | undefined>;
  /** Returns the stored value, storing `value` first if the key is new (first writer wins). */
  getOrInit(key: string, value: string): Promise<string>;
  /** Stores `value` under `key`, replacing any value (last writer wins). */
  set(key: string, value: string): Promise<void>;
}

/** A store always holds the default environment (id DEFAULT_ENVIRONMENT_ID), created with the store. */
export interface Store {
  readonly environments: EnvironmentRepository;
  readonly permissions: PermissionRepository;
  readonly audit: AuditRepository;
  readonly usedTokens: UsedTokenRepository;
  readonly settings: SettingsRepository;
  /** Where the data lives, so the engine, waves and fleet code open their own tables on the same database. */
  readonly backend: StoreBackend;
  close(): Promise<void>;
}

export type StoreBackend = { kind: 'sqlite'; file: string } | { kind: 'postgres'; db: PgDatabase };

/** A uniqueness rule was violated (e.g. an environment name already in use). */
export class StoreConflictError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

export const DEFAULT_ENVIRONMENT_ID = 'env-default';
