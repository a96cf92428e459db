import type { Database } from 'better-sqlite3';
import type { EnvironmentRole } from '../../contract/index.ts';
import { AppError } from '../../errors.ts';
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
import { DEFAULT_ENVIRONMENT, importDefaultsJson, newEnvironmentId, toAudit, toEnvironment, type AuditRow, type EnvironmentRow } from '../rows.ts';
import { openSqlite, prepareCached } from './database.ts';

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * The SQLite store. The file is opened on first use, not at construction, so building the app never touches
 * the disk (and a connector whose data directory is broken still answers the requests that need no store).
 */
export class SqliteStore implements Store {
  private handle: Database | undefined;
  private closed = false;

  readonly environments: EnvironmentRepository;
  readonly permissions: PermissionRepository;
  readonly audit: AuditRepository;
  readonly usedTokens: UsedTokenRepository;
  readonly settings: SettingsRepository;
  readonly backend: { kind: 'sqlite'; file: string };

  private readonly now: () => Date;
  private readonly defaultRegion: string;

  /** `defaultRegion`: where the default environment is created when the database is new. */
  constructor(
    private readonly file: string,
    opts: { defaultRegion: string; now?: () => Date },
  ) {
    this.now = opts.now ?? (() => new Date());
    this.defaultRegion = opts.defaultRegion;
    this.backend = { kind: 'sqlite', file };
    const db = () => this.db();
    const now_ = () => this.now().toISOString();
    this.environments = new SqliteEnvironments(db, now_);
    this.permissions = new SqlitePermissions(db);
    this.audit = new SqliteAudit(db, now_);
    this.usedTokens = new SqliteUsedTokens(db);
    this.settings = new SqliteSettings(db);
  }

  /** Opens the database now (and migrates it); later calls are no-ops. */
  open(): void {
    this.db();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handle?.close();
    this.handle = undefined;
  }

  private db(): Database {
    if (this.closed) throw new Error('The connector store is closed');
    if (!this.handle) {
      let db: Database;
      try {
        db = openSqlite(this.file).db;
      } catch (err) {
        const reason = (err as { code?: string }).code ?? (err as Error).message;
        throw new AppError(
          503,
          'STORE_UNAVAILABLE',
          `The connector cannot open its database ${this.file}: ${reason}. Check that the data directory exists and is writable by the connector's user, or restore the database from a backup.`,
        );
      }
      const at = this.now().toISOString();
      db.prepare(
        `INSERT INTO environments (id, name, description, is_default, region, created_at, updated_at)
         VALUES (?, ?, ?, 1, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      ).run(DEFAULT_ENVIRONMENT_ID, DEFAULT_ENVIRONMENT.name, DEFAULT_ENVIRONMENT.description, this.defaultRegion, at, at);
      this.handle = db;
    }
    return this.handle;
  }
}

class SqliteEnvironments implements EnvironmentRepository {
  constructor(
    private readonly db: () => Database,
    private readonly now: () => string,
  ) {}

  async list(): Promise<EnvironmentRecord[]> {
    const rows = this.db().prepare('SELECT * FROM environments ORDER BY is_default DESC, name COLLATE NOCASE').all() as EnvironmentRow[];
    return rows.map(toEnvironment);
  }

  async get(id: string): Promise<EnvironmentRecord | undefined> {
    const row = this.db().prepare('SELECT * FROM environments WHERE id = ?').get(id) as EnvironmentRow | undefined;
    return row && toEnvironment(row);
  }

  async create(f: EnvironmentFields): Promise<EnvironmentRecord> {
    const at = this.now();
    const id = newEnvironmentId();
    this.write(() =>
      this.db()
        .prepare(
          `INSERT INTO environments (id, name, description, is_default, region, vpc_id, subnet_ids, security_group_ids, instance_types, import_defaults, created_at, updated_at)
           VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, f.name, f.description, f.region, f.vpcId, JSON.stringify(f.subnetIds), JSON.stringify(f.securityGroupIds), JSON.stringify(f.instanceTypes), importDefaultsJson(f), at, at),
    f.name);
    return (await this.get(id))!;
  }

  async update(id: string, f: EnvironmentFields): Promise<EnvironmentRecord | undefined> {
    const info = this.write(
      () =>
        this.db()
          .prepare(
            `UPDATE environments SET name = ?, description = ?, region = ?, vpc_id = ?, subnet_ids = ?, security_group_ids = ?,
             instance_types = ?, import_defaults = ?, updated_at = ? WHERE id = ?`,
          )
          .run(f.name, f.description, f.region, f.vpcId, JSON.stringify(f.subnetIds), JSON.stringify(f.securityGroupIds), JSON.stringify(f.instanceTypes), importDefaultsJson(f), this.now(), id),
      f.name,
    );
    return info.changes === 0 ? undefined : this.get(id);
  }

  async delete(id: string): Promise<boolean> {
    return this.db().prepare('DELETE FROM environments WHERE id = ?').run(id).changes > 0;
  }

  private write<T>(run: () => T, name: string): T {
    try {
      return run();
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`An environment named "${name}" already exists.`, 'name');
      throw err;
    }
  }
}

class SqlitePermissions implements PermissionRepository {
  constructor(private readonly db: () => Database) {}

  async list(environmentId: string): Promise<PermissionRecord[]> {
    const rows = this.db()
      .prepare('SELECT environment_id, principal, role FROM environment_permissions WHERE environment_id = ? ORDER BY principal')
      .all(environmentId) as { environment_id: string; principal: string; role: EnvironmentRole }[];
    return rows.map((r) => ({ environmentId: r.environment_id, principal: r.principal, role: r.role }));
  }

  async replace(environmentId: string, permissions: { principal: string; role: EnvironmentRole }[]): Promise<PermissionRecord[]> {
    const db = this.db();
    const select = db.prepare('SELECT environment_id, principal, role FROM environment_permissions WHERE environment_id = ? ORDER BY principal');
    const remove = db.prepare('DELETE FROM environment_permissions WHERE environment_id = ?');
    const insert = db.prepare('INSERT INTO environment_permissions (environment_id, principal, role) VALUES (?, ?, ?)');
    return db.transaction(() => {
      const before = (select.all(environmentId) as { environment_id: string; principal: string; role: EnvironmentRole }[]).map((r) => ({
        environmentId: r.environment_id,
        principal: r.principal,
        role: r.role,
      }));
      remove.run(environmentId);
      for (const p of permissions) insert.run(environmentId, p.principal, p.role);
      return before;
    })();
  }

  async forPrincipal(principal: string): Promise<Map<string, EnvironmentRole>> {
    const rows = prepareCached(this.db(), 'SELECT environment_id, role FROM environment_permissions WHERE principal = ?').all(principal) as {
      environment_id: string;
      role: EnvironmentRole;
    }[];
    return new Map(rows.map((r) => [r.environment_id, r.role]));
  }
}

class SqliteAudit implements AuditRepository {
  constructor(
    private readonly db: () => Database,
    private readonly now: () => string,
  ) {}

  async append(e: AuditInput): Promise<AuditRecord> {
    const at = this.now();
    const info = this.db()
      .prepare(
        `INSERT INTO audit_log (at, actor, action, outcome, environment_id, vm_id, vm_name, code, message, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(at, e.actor, e.action, e.outcome, e.environmentId ?? null, e.vmId ?? null, e.vmName ?? null, e.code ?? null, e.message, e.details ? JSON.stringify(e.details) : null);
    return { ...e, id: Number(info.lastInsertRowid), at };
  }

  async query(f: AuditFilter): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.before !== undefined) (where.push('id < ?'), args.push(f.before));
    if (f.environmentId !== undefined) (where.push('environment_id = ?'), args.push(f.environmentId));
    if (f.actor !== undefined) (where.push('actor = ?'), args.push(f.actor));
    if (f.action !== undefined) (where.push('action = ?'), args.push(f.action));
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db()
      .prepare(sql)
      .all(...args, f.limit) as AuditRow[];
    return rows.map(toAudit);
  }
}

class SqliteUsedTokens implements UsedTokenRepository {
  constructor(private readonly db: () => Database) {}

  async consume(jti: string, expiresAt: Date): Promise<boolean> {
    // One INSERT decides: concurrent presentations of the same token cannot both succeed.
    const info = this.db().prepare('INSERT INTO used_import_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING').run(jti, expiresAt.getTime());
    return info.changes === 1;
  }

  async purgeExpired(now: Date): Promise<number> {
    return this.db().prepare('DELETE FROM used_import_tokens WHERE expires_at < ?').run(now.getTime()).changes;
  }
}

class SqliteSettings implements SettingsRepository {
  constructor(private readonly db: () => Database) {}

  async get(key: string): Promise<string | undefined> {
    const row = this.db().prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async getOrInit(key: string, value: string): Promise<string> {
    const db = this.db();
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING').run(key, value);
    return (db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string }).value;
  }

  async set(key: string, value: string): Promise<void> {
    this.db().prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
