// The engine's task repositories on the store's database: the connector's SQLite file, or the fleet's PostgreSQL.
import { resolve } from 'node:path';
import type { ExportRecord, ExportTaskRepository, FleetTaskClaims, MigrationTaskRepository, RegionSlots, SavedSince } from '../engine/task-store.ts';
import type { MigrationRecord } from '../engine/types.ts';
import { PgExportTasks } from './postgres/export-tasks.ts';
import { PgMigrationTasks } from './postgres/migration-tasks.ts';
import { SqliteExportTasks } from './sqlite/export-tasks.ts';
import { SqliteMigrationTasks } from './sqlite/migration-tasks.ts';
import type { StoreBackend } from './types.ts';

const sqlitePath = (file: string) => (file === ':memory:' ? file : resolve(file));

/** Migration tasks, with the fleet claims and region slots, on the store's database (each SQLite repository opens its own handle). */
export function migrationTasksOn(backend: StoreBackend): MigrationTaskRepository & FleetTaskClaims & RegionSlots & SavedSince<MigrationRecord> {
  return backend.kind === 'postgres' ? new PgMigrationTasks(backend.db) : new SqliteMigrationTasks(sqlitePath(backend.file));
}

/** Export tasks and engine settings on the store's database. */
export function exportTasksOn(backend: StoreBackend): ExportTaskRepository & SavedSince<ExportRecord> {
  return backend.kind === 'postgres' ? new PgExportTasks(backend.db) : new SqliteExportTasks(sqlitePath(backend.file));
}
