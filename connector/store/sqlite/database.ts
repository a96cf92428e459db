import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type SqliteMigration } from './migrations/index.ts';

export interface MigrationReport {
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A prepared statement, compiled once per connection (polled reads run it thousands of times a minute). */
export function prepareCached(db: Database.Database, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map()));
  let stmt = byText.get(sql);
  if (!stmt) byText.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** Opens (creating if needed) the SQLite file with WAL and foreign keys, then brings its schema up to date. */
export function openSqlite(file: string, migrations: readonly SqliteMigration[] = MIGRATIONS): { db: Database.Database; report: MigrationReport } {
  if (file !== ':memory:') {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  }
  const db = new Database(file);
  try {
    if (file !== ':memory:') chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const report = migrate(db, migrations);
    return { db, report };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Applies the migrations the database has not seen, each in its own transaction, recording each one. */
export function migrate(db: Database.Database, migrations: readonly SqliteMigration[]): MigrationReport {
  assertOrdered(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `The connector database has schema version ${current}, newer than this connector knows (${latest}). ` +
        'Run the connector version that wrote it, or restore the database from a backup.',
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: MigrationReport['applied'] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      record.run(m.version, m.name, new Date().toISOString());
    })();
    applied.push({ version: m.version, name: m.name });
  }
  return { from: current, to: Math.max(current, latest), applied };
}

function assertOrdered(migrations: readonly SqliteMigration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Schema migration #${i + 1} has version ${m.version}: versions must be 1, 2, 3, … in order`);
  });
}
