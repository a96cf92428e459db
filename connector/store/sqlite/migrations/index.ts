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
import type { SqliteMigration } from './types.ts';

/** Every schema step, oldest first. Append new steps; never edit or reorder a released one. */
export const MIGRATIONS: readonly SqliteMigration[] = [initial, engineTasks, taskListIndexes, oneActiveTaskPerTarget, auditVmName, environmentImportDefaults, notifications, fleetConnectors, waves, fleetTasks, returnTasks, warmRequests, activePerVcenterVm];

export type { SqliteMigration } from './types.ts';
