import { initial } from './0001-initial.ts';
import { engineTasks } from './0002-engine-tasks.ts';
import { taskListIndexes } from './0003-task-list-indexes.ts';
import type { SqliteMigration } from './types.ts';

/** Every schema step, oldest first. Append new steps; never edit or reorder a released one. */
export const MIGRATIONS: readonly SqliteMigration[] = [initial, engineTasks, taskListIndexes];

export type { SqliteMigration } from './types.ts';
