// The PostgreSQL schema steps: the same ordered list as ../../sqlite/migrations/ (same versions, same names; the unit
// test test/unit/store-migrations.test.ts compares them). To add a step: write it in BOTH directories under the same
// number and name (NNNN-what.ts here with `up(db)` running PostgreSQL SQL, its twin there with SQLite SQL), append it to
// both lists, never edit or reorder a released step. Column types mirror SQLite's (TEXT ISO-8601 timestamps, JSON as
// TEXT, BIGINT read back as numbers) so one row mapper serves both backends. The steps run under an advisory lock
// (../database.ts), so connectors of a fleet that start together apply each step once.
import { initial } from './0001-initial.ts';
import { engineTasks } from './0002-engine-tasks.ts';
import { taskListIndexes } from './0003-task-list-indexes.ts';
import { oneActiveTaskPerTarget } from './0004-one-active-task-per-target.ts';
import { auditVmName } from './0005-audit-vm-name.ts';
import { environmentImportDefaults } from './0006-environment-import-defaults.ts';
import { notifications } from './0007-notifications.ts';
import { fleetConnectors } from './0008-fleet-connectors.ts';
import { waves } from './0009-waves.ts';
import { fleetTasks } from './0010-fleet-tasks.ts';
import { returnTasks } from './0011-return-tasks.ts';
import { warmRequests } from './0012-warm-requests.ts';
import { activePerVcenterVm } from './0013-active-per-vcenter-vm.ts';
import type { PgMigration } from './types.ts';

/** Every schema step, oldest first. */
export const PG_MIGRATIONS: readonly PgMigration[] = [initial, engineTasks, taskListIndexes, oneActiveTaskPerTarget, auditVmName, environmentImportDefaults, notifications, fleetConnectors, waves, fleetTasks, returnTasks, warmRequests, activePerVcenterVm];

export type { PgMigration } from './types.ts';
