import type { EnvironmentRole } from '../../contract/index.ts';
import { DEFAULT_ENVIRONMENT, importDefaultsJson, newEnvironmentId, toAudit, toEnvironment, type AuditRow, type EnvironmentRow } from '../rows.ts';
import {
  DEFAULT_ENVIRONMENT_ID,
  StoreConflictError,
  type AuditFilter,
  type AuditInput,
  type AuditRecord,
  type AuditRepository,
  type EnvironmentFields,
  type EnvironmentRecord,
  type EnvironmentRepository,
  type PermissionRecord,
  type PermissionRepository,
  type SettingsRepository,
  type Store,
  type UsedTokenRepository,
} from '../types.ts';
import { PgDatabase, type PgQueryable } from './database.ts';

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * The PostgreSQL store, shared by the connectors of a fleet. Same behaviour as the SQLite store; each rule that
 * SQLite got from its single writer is made explicit here (a unique index decides a race, a row lock serialises a
 * replace). The database is prepared (schema steps, default environment) on its first query, not at construction.
 */
export class PgStore implements Store {
  readonly environments: EnvironmentRepository;
  readonly permissions: PermissionRepository;
  readonly audit: AuditRepository;
  readonly usedTokens: UsedTokenRepository;
  readonly settings: SettingsRepository;
  readonly backend: { kind: 'postgres'; db: PgDatabase };
  private closed = false;

  constructor(
    private readonly database: PgDatabase,
    opts: { defaultRegion: string; now?: () => Date },
  ) {
    const now = opts.now ?? (() => new Date());
    this.backend = { kind: 'postgres', db: database };
    const db = (): PgDatabase => {
      if (this.closed) throw new Error('The connector store is closed');
      return database;
    };
    const now_ = () => now().toISOString();
    this.environments = new PgEnvironments(db, now_);
    this.permissions = new PgPermissions(db);
    this.audit = new PgAudit(db, now_);
    this.usedTokens = new PgUsedTokens(db);
    this.settings = new PgSettings(db);
  }

  /** A store on `config`; its first query applies the schema steps and creates the default environment. */
  static create(config: ConstructorParameters<typeof PgDatabase>[0], opts: { defaultRegion: string; now?: () => Date; onError?: (err: Error) => void; describe?: string }): PgStore {
    const now = opts.now ?? (() => new Date());
    const database = new PgDatabase(config, {
      ...(opts.describe !== undefined ? { describe: opts.describe } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
      prepare: async (raw) => {
        await database.migrate();
        await seedDefaultEnvironment(raw, opts.defaultRegion, now().toISOString());
      },
    });
    return new PgStore(database, opts);
  }

  /** Prepares the database now (schema steps, default environment). */
  open(): Promise<void> {
    return this.database.ready();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.database.close();
  }
}

/** Every connector of the fleet tries; the first one creates it. */
async function seedDefaultEnvironment(db: PgQueryable, region: string, at: string): Promise<void> {
  await db.query(
    `INSERT INTO environments (id, name, description, is_default, region, created_at, updated_at)
     VALUES ($1, $2, $3, 1, $4, $5, $5) ON CONFLICT DO NOTHING`,
    [DEFAULT_ENVIRONMENT_ID, DEFAULT_ENVIRONMENT.name, DEFAULT_ENVIRONMENT.description, region, at],
  );
}

class PgEnvironments implements EnvironmentRepository {
  constructor(
    private readonly db: () => PgDatabase,
    private readonly now: () => string,
  ) {}

  async list(): Promise<EnvironmentRecord[]> {
    // lower() in byte order: SQLite's COLLATE NOCASE.
    const { rows } = await this.db().query<EnvironmentRow>('SELECT * FROM environments ORDER BY is_default DESC, lower(name) COLLATE "C", id');
    return rows.map(toEnvironment);
  }

  async get(id: string): Promise<EnvironmentRecord | undefined> {
    const { rows } = await this.db().query<EnvironmentRow>('SELECT * FROM environments WHERE id = $1', [id]);
    return rows[0] && toEnvironment(rows[0]);
  }

  async create(f: EnvironmentFields): Promise<EnvironmentRecord> {
    const at = this.now();
    const { rows } = await this.write(
      () =>
        this.db().query<EnvironmentRow>(
          `INSERT INTO environments (id, name, description, is_default, region, vpc_id, subnet_ids, security_group_ids, instance_types, import_defaults, created_at, updated_at)
           VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING *`,
          [newEnvironmentId(), f.name, f.description, f.region, f.vpcId, JSON.stringify(f.subnetIds), JSON.stringify(f.securityGroupIds), JSON.stringify(f.instanceTypes), importDefaultsJson(f), at],
        ),
      f.name,
    );
    return toEnvironment(rows[0]!);
  }

  async update(id: string, f: EnvironmentFields): Promise<EnvironmentRecord | undefined> {
    const { rows } = await this.write(
      () =>
        this.db().query<EnvironmentRow>(
          `UPDATE environments SET name = $1, description = $2, region = $3, vpc_id = $4, subnet_ids = $5, security_group_ids = $6,
           instance_types = $7, import_defaults = $8, updated_at = $9 WHERE id = $10 RETURNING *`,
          [f.name, f.description, f.region, f.vpcId, JSON.stringify(f.subnetIds), JSON.stringify(f.securityGroupIds), JSON.stringify(f.instanceTypes), importDefaultsJson(f), this.now(), id],
        ),
      f.name,
    );
    return rows[0] && toEnvironment(rows[0]);
  }

  async delete(id: string): Promise<boolean> {
    return ((await this.db().query('DELETE FROM environments WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  private async write<T>(run: () => Promise<T>, name: string): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`An environment named "${name}" already exists.`, 'name');
      throw err;
    }
  }
}

type PermissionRow = { environment_id: string; principal: string; role: EnvironmentRole };
const toPermission = (r: PermissionRow): PermissionRecord => ({ environmentId: r.environment_id, principal: r.principal, role: r.role });

class PgPermissions implements PermissionRepository {
  constructor(private readonly db: () => PgDatabase) {}

  async list(environmentId: string): Promise<PermissionRecord[]> {
    const { rows } = await this.db().query<PermissionRow>(
      'SELECT environment_id, principal, role FROM environment_permissions WHERE environment_id = $1 ORDER BY principal COLLATE "C"',
      [environmentId],
    );
    return rows.map(toPermission);
  }

  async replace(environmentId: string, permissions: { principal: string; role: EnvironmentRole }[]): Promise<PermissionRecord[]> {
    return this.db().tx(async (c) => {
      // Two administrators saving at once: the environment's row lock makes one replace wait for the other, so the
      // list ends as one of theirs (never a mix) and each gets back the list it really replaced.
      await c.query('SELECT 1 FROM environments WHERE id = $1 FOR UPDATE', [environmentId]);
      const before = await c.query<PermissionRow>(
        'SELECT environment_id, principal, role FROM environment_permissions WHERE environment_id = $1 ORDER BY principal COLLATE "C"',
        [environmentId],
      );
      await c.query('DELETE FROM environment_permissions WHERE environment_id = $1', [environmentId]);
      if (permissions.length > 0) {
        await c.query(
          'INSERT INTO environment_permissions (environment_id, principal, role) SELECT $1, p, r FROM unnest($2::text[], $3::text[]) AS t (p, r)',
          [environmentId, permissions.map((p) => p.principal), permissions.map((p) => p.role)],
        );
      }
      return before.rows.map(toPermission);
    });
  }

  async forPrincipal(principal: string): Promise<Map<string, EnvironmentRole>> {
    const { rows } = await this.db().query<{ environment_id: string; role: EnvironmentRole }>(
      'SELECT environment_id, role FROM environment_permissions WHERE principal = $1',
      [principal],
    );
    return new Map(rows.map((r) => [r.environment_id, r.role]));
  }
}

class PgAudit implements AuditRepository {
  constructor(
    private readonly db: () => PgDatabase,
    private readonly now: () => string,
  ) {}

  async append(e: AuditInput): Promise<AuditRecord> {
    const at = this.now();
    const { rows } = await this.db().query<{ id: number }>(
      `INSERT INTO audit_log (at, actor, action, outcome, environment_id, vm_id, vm_name, code, message, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [at, e.actor, e.action, e.outcome, e.environmentId ?? null, e.vmId ?? null, e.vmName ?? null, e.code ?? null, e.message, e.details ? JSON.stringify(e.details) : null],
    );
    return { ...e, id: rows[0]!.id, at };
  }

  async query(f: AuditFilter): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (clause: string, value: string | number) => {
      args.push(value);
      where.push(clause.replace('?', `$${args.length}`));
    };
    if (f.before !== undefined) add('id < ?', f.before);
    if (f.environmentId !== undefined) add('environment_id = ?', f.environmentId);
    if (f.actor !== undefined) add('actor = ?', f.actor);
    if (f.action !== undefined) add('action = ?', f.action);
    args.push(f.limit);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`;
    const { rows } = await this.db().query<AuditRow>(sql, args);
    return rows.map(toAudit);
  }
}

class PgUsedTokens implements UsedTokenRepository {
  constructor(private readonly db: () => PgDatabase) {}

  async consume(jti: string, expiresAt: Date): Promise<boolean> {
    // One INSERT decides, across every connector of the fleet: a replayed token finds its id already there.
    const { rowCount } = await this.db().query('INSERT INTO used_import_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [jti, expiresAt.getTime()]);
    return rowCount === 1;
  }

  async purgeExpired(now: Date): Promise<number> {
    return (await this.db().query('DELETE FROM used_import_tokens WHERE expires_at < $1', [now.getTime()])).rowCount ?? 0;
  }
}

class PgSettings implements SettingsRepository {
  constructor(private readonly db: () => PgDatabase) {}

  async get(key: string): Promise<string | undefined> {
    const { rows } = await this.db().query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0]?.value;
  }

  async getOrInit(key: string, value: string): Promise<string> {
    // Two statements on purpose: when a peer's insert wins the race, ON CONFLICT waits for it to commit, and only a
    // new statement (a new snapshot under READ COMMITTED) can read the value it stored.
    const inserted = await this.db().query<{ value: string }>('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING value', [key, value]);
    if (inserted.rows[0]) return inserted.rows[0].value;
    return (await this.get(key))!;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db().query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }
}
