import { initial } from './0001-initial.ts';
import { engineTasks } from './0002-engine-tasks.ts';
import type { SqliteMigration } from './types.ts';

/** Every schema step, oldest first. Append new steps; never edit or reorder a released one. */
export const MIGRATIONS: readonly SqliteMigration[] = [initial, engineTasks];

export type { SqliteMigration } from './types.ts';
